// `picowire status`: the profile in force and, per pipe instance and queue instance on each egress
// port, what crossed it and what it dropped, split by cause: random loss (plr, Gilbert-Elliott and a
// delay profile's loss level are dropped by the delay line, see plan.ts) and queue overflow (the
// bottleneck's queue, or a queue's own under a scheduler). Read from `tc -s -j qdisc show` and the
// rules' named nft counters; the layout that maps handles to pipes is the planner's own.
import type { Profile } from '../profile/schema.ts';
import { resolve } from '../profile/validate.ts';
import { firstLines, type Runner } from './exec.ts';
import { readDummynetStatus } from './engines/dummynet/status.ts';
import { takesClasses } from '../profile/words.ts';
import { notes } from './notes.ts';
import { BIN } from './paths.ts';
import { agentSchedule, type PipePosition } from './schedule/runner.ts';
import { familyMapName, instanceHandles, layout, NFT_TABLE, pipeMaskName, PORTS, queueMaskName, queuePackets, scheduled, schedulerKind, schedulerMembers } from './plan.ts';

interface Context {
  run: Runner;
}

/** One qdisc's counters as `tc -s -j qdisc show` reports them. */
export interface QdiscStats {
  dev: string;
  kind: string;
  handle: string;
  parent?: string;
  bytes?: number;
  packets?: number;
  drops?: number;
  backlog?: number;
  qlen?: number;
}

export interface Counters {
  packets: number;
  bytes: number;
  /** queued now */
  backlog: { packets: number; bytes: number };
}

export interface QueueStatus extends Counters {
  queue: string;
  instance: number;
  /** a masked queue's keys that this instance serves, as nft shows them */
  keys?: string[];
  overflowDrops: number;
}

export interface PipeStatus extends Counters {
  pipe: string;
  /** the mask instance (0 without a mask) */
  instance: number;
  /** a masked pipe's keys that this instance serves (several once there are more keys than instances) */
  keys?: string[];
  /** the port its traffic leaves on */
  port: string;
  randomDrops: number;
  overflowDrops: number;
  queues: QueueStatus[];
}

export interface RuleStatus {
  number: number;
  action: string;
  target?: string;
  packets: number;
  bytes: number;
}

export interface Status {
  profile: string | null;
  pipes: PipeStatus[];
  rules: RuleStatus[];
  /** what the agent wants a reader to know now (notes.ts): a fleet URL that cannot be fetched, ... */
  notes?: string[];
  /** where each pipe with a schedule or trace is on its clock (docs/schedules.md) */
  schedules?: PipePosition[];
  /** how late the schedules' changes were made after their instants (ms; tc: handed to tc, dummynet: ipfw returned), the last 1000 of the profile in force */
  scheduleLateness?: { batches: number; p50Ms: number; p99Ms: number; maxMs: number };
}

/** Reads the kernel's counters for the profile in force. */
export async function readStatus(ctx: Context, inForce: Profile | null): Promise<Status> {
  const said = notes.list();
  const withNotes = (s: Status): Status => (said.length ? { ...s, notes: said } : s);
  if (!inForce) return withNotes({ profile: null, pipes: [], rules: [] });
  // where each timed pipe is, on either engine
  const schedules = agentSchedule.runner?.positions() ?? [];
  const late = agentSchedule.runner?.lateness();
  const timed = (s: Status): Status => ({ ...s, ...(schedules.length && { schedules }), ...(schedules.length && late && { scheduleLateness: late }) });
  if (inForce.engine === 'dummynet') return withNotes(timed(await readDummynetStatus(ctx, inForce)));
  const [tcOut, nftOut] = await Promise.all([ctx.run(BIN.tc, ['-s', '-j', 'qdisc', 'show']), ctx.run(BIN.nft, ['-j', 'list', 'table', ...NFT_TABLE.split(' ')])]);
  if (tcOut.code !== 0) throw new Error(`tc -s -j qdisc show: ${firstLines(tcOut.stderr)}`);
  const qdiscs = JSON.parse(tcOut.stdout || '[]') as QdiscStats[];
  const nft = nftOut.code === 0 ? nftOut.stdout : '';
  return withNotes(timed(statusFrom(inForce, qdiscs, nftCounters(nft), nftMaps(nft))));
}

/** The status of a profile from the kernel's qdisc counters and nft's rule counters (pure: tested with recorded output). */
export function statusFrom(inForce: Profile, qdiscs: QdiscStats[], counters: Map<string, { packets: number; bytes: number }>, maps: Map<string, MapElement[]> = new Map()): Status {
  const profile = resolve(inForce);
  const where = layout(profile);
  // a masked target's keys by the value its map gives them: classid 1:x for pipes, the mark for queues
  // each family's packets have a map of their own (plan.ts, familyKey): IPv4 keys first, then IPv6 keys
  const keysOf = (map: string, value: number) =>
    [familyMapName(map, 'ip'), familyMapName(map, 'ip6')].flatMap((m) => (maps.get(m) ?? []).filter((e) => e.value === value).map((e) => e.key));
  const find = (dev: string, handle: string) => qdiscs.find((q) => q.dev === dev && q.handle === handle);
  const leafOf = (dev: string, parent: string) => qdiscs.find((q) => q.dev === dev && q.parent === parent);
  const pipes: PipeStatus[] = [];
  for (const port of PORTS) {
    for (const [name, pipe] of Object.entries(profile.pipes)) {
      const queues = Object.entries(profile.queues).filter(([, q]) => q.pipe === name);
      for (let i = 0; i < pipe.buckets; i++) {
        const h = instanceHandles(where.pipeBase.get(name)! + i);
        const outer = find(port, h.outer);
        if (!outer) continue; // not on this port
        const inner = find(port, h.inner);
        // where each cause is counted (see plan.ts): a plain pipe's outer netem is its queue and its
        // inner netem the delay line with the random loss; otherwise the outer netem is the delay
        // line, and a drop in the tbf (its scheduler's queues) is counted by the delay line too
        const plain = pipe.bw !== undefined && !scheduled(pipe) && !pipe.schedule && !pipe.trace;
        const overflow = plain ? (outer.drops ?? 0) : (inner?.drops ?? 0);
        const random = plain ? (inner?.drops ?? 0) : (outer.drops ?? 0) - (inner?.drops ?? 0);
        const out = plain ? inner : (inner ?? outer);
        const waiting = plain ? outer : inner;
        const base = where.pipeBase.get(name)!;
        const status: PipeStatus = {
          pipe: name,
          instance: i,
          ...(pipe.mask && { keys: keysOf(pipeMaskName(base, pipe.mask), h.priority) }),
          port,
          packets: out?.packets ?? 0,
          bytes: out?.bytes ?? 0,
          randomDrops: random,
          overflowDrops: overflow,
          backlog: { packets: waiting?.qlen ?? 0, bytes: waiting?.backlog ?? 0 },
          queues: [],
        };
        if (pipe.bw !== undefined && scheduled(pipe)) {
          const kind = schedulerKind(pipe.scheduler ?? 'fifo');
          if (takesClasses(kind)) {
            const major = h.scheduler.slice(0, -1);
            const members = schedulerMembers(kind, pipe.queue ?? { packets: queuePackets(pipe) }, queues, where);
            for (const m of members) {
              if (members.findIndex((o) => o.minor === m.minor) !== members.indexOf(m)) continue; // a prio band shared by one weight
              const leaf = leafOf(port, `${major}:${m.minor}`);
              if (!leaf) continue;
              if (m.queue === undefined && (leaf.packets ?? 0) === 0) continue;
              const qmask = m.queue === undefined ? undefined : profile.queues[m.queue]!.mask;
              status.queues.push({
                queue: m.queue ?? `(pipe ${name})`,
                instance: m.instance,
                ...(qmask && { keys: keysOf(queueMaskName(base, where.queueBase.get(m.queue!)!, qmask), m.j) }),
                packets: leaf.packets ?? 0,
                bytes: leaf.bytes ?? 0,
                overflowDrops: leaf.drops ?? 0,
                backlog: { packets: leaf.qlen ?? 0, bytes: leaf.backlog ?? 0 },
              });
            }
          }
        }
        // a masked pipe has many instances: show those that carried traffic
        if (pipe.mask && status.packets === 0) continue;
        pipes.push(status);
      }
    }
  }
  const rules = profile.rules.map((rule, i) => ({
    number: rule.number,
    action: rule.action,
    ...(rule.target !== undefined && { target: rule.target }),
    ...(counters.get(`rule${rule.number}_${i}`) ?? { packets: 0, bytes: 0 }),
  }));
  return { profile: profile.name, pipes, rules };
}

/** Named counters from `nft -j list table ...`. */
export function nftCounters(json: string): Map<string, { packets: number; bytes: number }> {
  const out = new Map<string, { packets: number; bytes: number }>();
  try {
    const doc = JSON.parse(json) as { nftables?: { counter?: { name: string; packets: number; bytes: number } }[] };
    for (const item of doc.nftables ?? []) if (item.counter) out.set(item.counter.name, { packets: item.counter.packets, bytes: item.counter.bytes });
  } catch {
    // no counters: the table is missing (no profile yet)
  }
  return out;
}

/** One element of a mask map: a key as nft prints it, and the instance it has (classid as a number, or mark). */
export interface MapElement {
  key: string;
  value: number;
}

/** The mask maps' elements from `nft -j list table ...` (`[key, value]` pairs; a key of several fields is a concat). */
export function nftMaps(json: string): Map<string, MapElement[]> {
  const out = new Map<string, MapElement[]>();
  type Plain = string | number | { concat: (string | number)[] };
  // an element with a timeout comes wrapped: { elem: { val, expires } }
  type Key = Plain | { elem: { val: Plain } };
  const plain = (k: Plain) => (typeof k === 'object' ? k.concat.join(' . ') : String(k));
  const key = (k: Key) => (typeof k === 'object' && 'elem' in k ? plain(k.elem.val) : plain(k));
  // classid "1:10" → 0x10010; marks come as numbers
  const value = (v: string | number) => (typeof v === 'number' ? v : v.split(':').reduce((n, part) => n * 0x10000 + parseInt(part, 16), 0));
  try {
    const doc = JSON.parse(json) as { nftables?: { map?: { name: string; elem?: [Key, string | number][] } }[] };
    for (const item of doc.nftables ?? []) if (item.map) out.set(item.map.name, (item.map.elem ?? []).map(([k, v]) => ({ key: key(k), value: value(v) })));
  } catch {
    // no maps: the table is missing (no profile yet)
  }
  return out;
}

/** The status as a person reads it. */
export function formatStatus(s: Status): string {
  const said = (s.notes ?? []).map((n) => `! ${n}`);
  if (s.profile === null) return ['no profile in force: the bridge does not forward', ...said].join('\n');
  const lines = [`profile ${s.profile}`];
  if (s.pipes.length) {
    lines.push('pipe (instance) -> port   packets      bytes   drops: random overflow   queued');
    for (const p of s.pipes) {
      lines.push(`  ${`${p.pipe}${p.instance ? ` #${p.instance}` : ''} -> ${p.port}`.padEnd(20)} ${String(p.packets).padStart(9)} ${String(p.bytes).padStart(10)}   ${String(p.randomDrops).padStart(13)} ${String(p.overflowDrops).padStart(8)}   ${p.backlog.packets} pkt${p.keys?.length ? `   ${p.keys.join(', ')}` : ''}`);
      for (const q of p.queues) {
        lines.push(`    queue ${`${q.queue}${q.instance ? ` #${q.instance}` : ''}`.padEnd(12)} ${String(q.packets).padStart(9)} ${String(q.bytes).padStart(10)}   ${''.padStart(13)} ${String(q.overflowDrops).padStart(8)}   ${q.backlog.packets} pkt${q.keys?.length ? `   ${q.keys.join(', ')}` : ''}`);
      }
    }
  }
  if (s.schedules?.length) {
    lines.push('schedule (clock)          at (s)   point        bw     delay     plr   next (s)');
    for (const p of s.schedules) {
      const bw = p.outage ? `outage (${p.outage})` : p.bw === undefined ? '-' : `${(p.bw / 1e6).toFixed(3)}M`;
      lines.push(`  ${`${p.pipe} (${p.clock})`.padEnd(22)} ${p.offsetS.toFixed(3).padStart(8)} ${String(p.index).padStart(7)} ${bw.padStart(9)} ${`${p.delayMs}ms`.padStart(9)} ${String(p.plr).padStart(7)} ${p.nextS === undefined ? '-' : p.nextS.toFixed(3).padStart(10)}`);
    }
    if (s.scheduleLateness) lines.push(`  changes sent after their instant: median ${s.scheduleLateness.p50Ms} ms, p99 ${s.scheduleLateness.p99Ms} ms (last ${s.scheduleLateness.batches})`);
  }
  lines.push('rule  action        packets      bytes');
  for (const r of s.rules) lines.push(`  ${String(r.number).padEnd(5)} ${`${r.action}${r.target ? ` ${r.target}` : ''}`.padEnd(12)} ${String(r.packets).padStart(9)} ${String(r.bytes).padStart(10)}`);
  return [...lines, ...said].join('\n');
}
