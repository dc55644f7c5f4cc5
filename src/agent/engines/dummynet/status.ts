// The dummynet engine's counters, in the status model the tc engine's fill (status.ts): rules from
// `ipfw show`, pipe and queue instances from dummynet's own per-flow counters in `ipfw pipe show`
// and `ipfw queue show` (kipfw keeps idle flows, net.inet.ip.dummynet.expire=0, so they last).
//
// What dummynet counts differs from tc's qdiscs in two ways, both said in the README: a flow's
// packets and bytes count what arrived at it (dropped ones included; picowire reports packets less
// the drops and those still queued), and one drop counter covers random loss and overflow alike
// (reported as random drops when the pipe has a plr, else as overflow).
import type { Profile } from '../../../profile/schema.ts';
import { resolve } from '../../../profile/validate.ts';
import type { ResolvedProfile } from '../../../profile/resolve.ts';
import { firstLines, type Runner } from '../../exec.ts';
import type { PipeStatus, QueueStatus, Status } from '../../status.ts';
import { DUMMYNET_RESERVED_RULES } from '../../../profile/engines.ts';
import { IPFW } from './apply.ts';
import { planDummynet } from './plan.ts';

/** One flow of a pipe or queue as `ipfw pipe show` prints it. */
export interface Flow {
  /** "src-ip/port -> dst-ip/port" (the masked key; all zero without a mask) */
  key: string;
  totPackets: number;
  totBytes: number;
  queuedPackets: number;
  queuedBytes: number;
  drops: number;
}

/** Reads kipfw's counters for the dummynet profile in force. */
export async function readDummynetStatus(ctx: { run: Runner }, inForce: Profile): Promise<Status> {
  const [show, pipes, queues] = await Promise.all([ctx.run(IPFW, ['show']), ctx.run(IPFW, ['pipe', 'show']), ctx.run(IPFW, ['queue', 'show'])]);
  for (const r of [show, pipes, queues]) if (r.code !== 0) throw new Error(`ipfw: ${firstLines(r.stderr) || `exit ${r.code}`} (is kipfw running?)`);
  return dummynetStatusFrom(inForce, show.stdout, pipes.stdout, queues.stdout);
}

/** The status from what `ipfw show`, `ipfw pipe show` and `ipfw queue show` printed (pure: tested with recorded output). */
export function dummynetStatusFrom(inForce: Profile, show: string, pipeShow: string, queueShow: string): Status {
  const profile = resolve(inForce);
  const { objects } = planDummynet(profile);
  const pipeFlows = sections(pipeShow, /^(\d{5}): /);
  // a pipe's own flowset (q131073: numbers above 65536) is listed among the queues: its flows are the pipe's
  const queueFlows = sections(queueShow, QUEUE_HEADER, /^q\d{6,} /);
  const pipes: PipeStatus[] = [];
  for (const [name, pipe] of Object.entries(profile.pipes)) {
    const n = objects.pipes[name]!;
    const queues = Object.entries(profile.queues).filter(([, q]) => q.pipe === name);
    const port = egressOf(profile, name);
    const drops = (f: Flow) => (pipe.plr > 0 ? { randomDrops: f.drops, overflowDrops: 0 } : { randomDrops: 0, overflowDrops: f.drops });
    if (queues.length === 0) {
      // dummynet makes a flow at its first packet: a pipe without a mask that nothing crossed yet shows zeros, as on tc
      const flows = pipeFlows.get(n)?.length || pipe.mask ? (pipeFlows.get(n) ?? []) : [{ key: '', totPackets: 0, totBytes: 0, queuedPackets: 0, queuedBytes: 0, drops: 0 }];
      flows.forEach((f, i) => {
        pipes.push({ pipe: name, instance: i, ...(pipe.mask && { keys: [f.key] }), port, ...counters(f), ...drops(f), queues: [] });
      });
      continue;
    }
    // a scheduler's pipe: what crossed it is what crossed its queues
    const qs: QueueStatus[] = queues.flatMap(([qname, q]) =>
      (queueFlows.get(objects.queues[qname]!) ?? []).map((f, i) => ({ queue: qname, instance: i, ...(q.mask && { keys: [f.key] }), ...counters(f), overflowDrops: f.drops })),
    );
    const sum = (pick: (q: QueueStatus) => number) => qs.reduce((s, q) => s + pick(q), 0);
    const dropped = sum((q) => q.overflowDrops);
    pipes.push({
      pipe: name,
      instance: 0,
      port,
      packets: sum((q) => q.packets),
      bytes: sum((q) => q.bytes),
      backlog: { packets: sum((q) => q.backlog.packets), bytes: sum((q) => q.backlog.bytes) },
      ...(pipe.plr > 0 ? { randomDrops: dropped, overflowDrops: 0 } : { randomDrops: 0, overflowDrops: dropped }),
      queues: qs,
    });
  }
  // kipfw's rules in order, set 0 only (a disabled rule is printed "# DISABLED ..."), its own 65534 and 65535 left out
  const counted = show
    .split('\n')
    .map((l) => /^(\d{5})\s+(\d+)\s+(\d+)\s/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) < DUMMYNET_RESERVED_RULES);
  const rules = profile.rules.map((rule, i) => ({
    number: rule.number,
    action: rule.action,
    ...(rule.target !== undefined && { target: rule.target }),
    packets: Number(counted[i]?.[2] ?? 0),
    bytes: Number(counted[i]?.[3] ?? 0),
  }));
  return { profile: profile.name, pipes, rules };
}

/** A flow's counters as the status model has them: packets that went on (arrived less dropped and still queued). */
function counters(f: Flow): Pick<PipeStatus, 'packets' | 'bytes' | 'backlog'> {
  return { packets: Math.max(0, f.totPackets - f.drops - f.queuedPackets), bytes: f.totBytes, backlog: { packets: f.queuedPackets, bytes: f.queuedBytes } };
}

/** The port a pipe's traffic leaves on: the other one than its rules' `from`; both when its rules take both directions, or say none. */
function egressOf(profile: ResolvedProfile, pipe: string): string {
  const feeds = profile.rules.filter((r) => (r.action === 'pipe' && r.target === pipe) || (r.action === 'queue' && profile.queues[r.target!]?.pipe === pipe));
  const from = new Set(feeds.map((r) => r.from));
  if (from.size !== 1 || from.has(undefined)) return 'a,b';
  return from.has('a') ? 'b' : 'a';
}

const QUEUE_HEADER = /^q(\d{5}) /;
// BKT Prot ___Source IP/port____ ____Dest. IP/port____ Tot_pkt/bytes Pkt/Byte Drp
const FLOW = /^\s*\d+\*?\s+\S+\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/;

/** The flows listed under each object whose header line `header` matches (its first group: the object's number), up to the next header or a line `other` matches. */
export function sections(text: string, header: RegExp, other?: RegExp): Map<number, Flow[]> {
  const out = new Map<number, Flow[]>();
  let current: Flow[] | undefined;
  for (const line of text.split('\n')) {
    const h = header.exec(line);
    if (h) {
      current = [];
      out.set(Number(h[1]), current);
      continue;
    }
    if (other?.test(line)) current = undefined;
    const f = FLOW.exec(line);
    if (f && current) {
      current.push({ key: `${f[1]}/${f[2]} -> ${f[3]}/${f[4]}`, totPackets: Number(f[5]), totBytes: Number(f[6]), queuedPackets: Number(f[7]), queuedBytes: Number(f[8]), drops: Number(f[9]) });
    }
  }
  return out;
}
