// The Linux planner: a profile and what the kernel has now → the tc and nft commands that make the
// kernel do what the profile says. Pure (no I/O), so it is snapshot-tested; apply.ts runs the result.
//
// The bridge br0 joins ports a and b. Traffic entering on a leaves on b, so a rule `from: "a"`
// shapes b's egress (and the other way round). On each port:
//
//   htb 1: (root, default 1:ffff)          classifies by skb->priority, which nftables sets
//   ├─ class 1:ffff → pfifo 2:             unshaped traffic: a plain FIFO, like a switch port
//   └─ class 1:10   → netem 10:            pipe 0: propagation delay + random loss (plr)
//                     └─ netem 1010:       pipe 0: the bottleneck, `rate bw`, queue `limit`
//   (class 1:11 → netem 11: → netem 1011: for pipe 1, and so on)
//
// Every HTB class runs at 100 Gbit/s: HTB only sorts packets into pipes, it never throttles.
// HTB puts a packet straight into the class whose id equals skb->priority (htb_classify), so tc
// needs no filters; nftables' bridge forward chain sets `meta priority` per rule.
//
// Why netem `rate` for the bottleneck rather than tbf: the seed's pipe delivers packet i after
// ΔT = (Q_i + L_i)/B + t_PD — every packet pays its own transmission time L_i/B. netem's rate
// computes exactly that (time_to_send = max(previous packet's, now) + L/B: a FIFO server at rate
// B). tbf (and HTB) let a packet through at once when the bucket is full after an idle period:
// measured on the host, a 1042-byte ping through `tbf rate 256kbit burst 1514` saw 0.08 ms where
// the pipe's formula says 32.6 ms. Delay then rate gives the same departure times as the seed's
// rate then delay when the delay is constant (both are max(prev, arrival + t_PD) + L/B), and it
// lets the inner netem's limit be exactly the bottleneck queue: the delay line lives in the outer
// netem, whose limit only has to be big enough never to drop (see delayLinePackets).
// netem counts its limit in packets, so a queue given in bytes becomes that many full-size frames.
// In the VM (QEMU TCG, this example profile: up 256Kbit/s 20ms, down 4Mbit/s 5ms) ping RTT was
// 29.2 ms for 98-byte frames and 60.9 ms for 1042-byte ones; the formula gives 28.3 and 59.6 ms,
// and the lab's fixed overhead is ~1 ms. TCP goodput was 244 and 3810 kbit/s (L2 ceilings 245, 3826).
// The kernel logs "htb: netem qdisc 10: is non-work-conserving?" once per pipe: netem holds packets
// back on purpose; HTB then serves the other classes and netem's timer wakes the root again.
//
// A pipe that rules from both ports use gets one instance per egress port: each direction is its
// own link (full duplex), where dummynet would make the two directions share one pipe.
import type { Port, Profile } from '../profile/schema.ts';
import { resolvePipe, type ResolvedPipe } from '../profile/validate.ts';

/** One qdisc as `tc -j qdisc show` reports it. */
export interface TcQdisc {
  dev: string;
  kind: string;
  handle: string;
  parent?: string;
  root?: boolean;
}

/** What the kernel has now, as far as the plan depends on it. */
export interface KernelState {
  qdiscs: TcQdisc[];
}

/** Commands for apply.ts: `tc -batch` lines, then an `nft -f` script, then `tc -batch` lines that remove what no rule uses any more. */
export interface Plan {
  tc: string[];
  nft: string;
  cleanup: string[];
}

export const PORTS = ['a', 'b'] as const satisfies readonly Port[];
export const NFT_TABLE = 'bridge picowire';

/** The fastest traffic the delay line must hold without dropping: above any NIC the appliance drives. */
const MAX_INGRESS_BPS = 10e9;
/** A full-size Ethernet frame as tc counts it (no FCS): the unit of byte-to-packet conversions. */
const FRAME = 1514;
/** "Very high": HTB classes sort, they do not shape. */
const UNSHAPED = 'htb rate 100gbit burst 64k cburst 64k quantum 1514';
const DEFAULT_CLASS = 0xffff;
const FIRST_PIPE_CLASS = 0x10;
const INNER_OFFSET = 0x1000;

const hex = (n: number) => n.toString(16);
const other = (p: Port): Port => (p === 'a' ? 'b' : 'a');

/** What a profile asks the kernel for; null means no profile yet: the bridge does not forward. */
export function plan(profile: Profile | null, state: KernelState): Plan {
  const pipes = Object.entries(profile?.pipes ?? {});
  const minorOf = new Map(pipes.map(([name], i) => [name, FIRST_PIPE_CLASS + i]));
  // a pipe lives on the egress port of each direction that uses it
  const onPort = new Map<Port, Set<string>>(PORTS.map((p) => [p, new Set()]));
  for (const rule of profile?.rules ?? []) onPort.get(other(rule.from))!.add(rule.pipe);

  const tc: string[] = [];
  const cleanup: string[] = [];
  for (const port of PORTS) {
    const have = state.qdiscs.filter((q) => q.dev === port);
    const wanted = pipes.filter(([name]) => onPort.get(port)!.has(name));
    tc.push(...portRoot(port, have));
    for (const [name, pipe] of wanted) tc.push(...pipeLines(port, minorOf.get(name)!, resolvePipe(pipe), have));
    // classes of pipes no rule sends traffic to any more: removed after nft stops marking for them
    const keep = new Set(wanted.map(([name]) => `1:${hex(minorOf.get(name)!)}`));
    for (const q of have) {
      if (q.parent && /^1:[0-9a-f]+$/.test(q.parent) && q.parent !== `1:${hex(DEFAULT_CLASS)}` && !keep.has(q.parent)) {
        cleanup.push(`class del dev ${port} classid ${q.parent}`);
      }
    }
  }
  return { tc, nft: nftScript(profile, minorOf), cleanup };
}

/** The root HTB and its default class; the root is only created when missing, since HTB cannot change in place. */
function portRoot(port: Port, have: TcQdisc[]): string[] {
  const root = have.find((q) => q.root);
  const lines = root?.kind === 'htb' && root.handle === '1:' ? [] : [`qdisc replace dev ${port} root handle 1: htb default ${hex(DEFAULT_CLASS)}`];
  if (root && root.handle === '1:' && root.kind !== 'htb') lines.unshift(`qdisc del dev ${port} root`);
  return [
    ...lines,
    `class replace dev ${port} parent 1: classid 1:${hex(DEFAULT_CLASS)} ${UNSHAPED}`,
    ...qdisc(port, `1:${hex(DEFAULT_CLASS)}`, '2:', 'pfifo', 'limit 1000', have),
  ];
}

/** One pipe on one port: its class, the delay line, and the bottleneck when the pipe has a bandwidth. */
function pipeLines(port: Port, minor: number, pipe: ResolvedPipe, have: TcQdisc[]): string[] {
  const outer = `${hex(minor)}:`;
  const inner = `${hex(INNER_OFFSET + minor)}:`;
  const queue = pipe.bw === undefined ? 0 : queuePackets(pipe);
  const loss = pipe.plr > 0 ? ` loss ${percent(pipe.plr)}` : '';
  const delayLine = qdisc(port, `1:${hex(minor)}`, outer, 'netem', `delay ${pipe.delay}us${loss} limit ${delayLinePackets(pipe.delay) + queue}`, have);
  // deleting a stale delay line deletes the bottleneck under it too
  const innerGone = delayLine.length > 1 || !have.some((q) => q.handle === inner);
  const bottleneck =
    pipe.bw !== undefined
      ? qdisc(port, `${hex(minor)}:1`, inner, 'netem', `rate ${pipe.bw}bit limit ${queue}`, innerGone ? [] : have)
      : innerGone
        ? []
        : [`qdisc del dev ${port} parent ${hex(minor)}:1 handle ${inner}`];
  return [`class replace dev ${port} parent 1: classid 1:${hex(minor)} ${UNSHAPED}`, ...delayLine, ...bottleneck];
}

/** A qdisc set with `replace` (changed in place when it exists); one of another kind or place is deleted first, as the kernel cannot change a qdisc's kind. */
function qdisc(port: Port, parent: string, handle: string, kind: string, params: string, have: TcQdisc[]): string[] {
  const existing = have.find((q) => q.handle === handle);
  const stale = existing && (existing.kind !== kind || existing.parent !== parent);
  return [
    ...(stale ? [`qdisc del dev ${port} ${existing.root ? 'root' : `parent ${existing.parent}`} handle ${handle}`] : []),
    `qdisc replace dev ${port} parent ${parent} handle ${handle} ${kind} ${params}`,
  ];
}

/** The bottleneck queue in packets: as written, or from bytes in full-size frames, or by default max(2 × bw × delay, 64 KiB) — one bandwidth-delay product for a round trip through this pipe both ways, and never less than 43 frames. */
export function queuePackets(pipe: ResolvedPipe): number {
  if (pipe.queue && 'packets' in pipe.queue) return pipe.queue.packets;
  const bytes = pipe.queue ? pipe.queue.bytes : Math.max((2 * pipe.bw! * pipe.delay) / 1e6 / 8, 64 * 1024);
  return Math.max(1, Math.floor(bytes / FRAME));
}

/** The delay line's limit: every full-size frame that can arrive during one delay at MAX_INGRESS_BPS, at least netem's usual 1000. Memory is used only by packets really there. */
export function delayLinePackets(delayUs: number): number {
  return Math.max(1000, Math.ceil((MAX_INGRESS_BPS * delayUs) / 1e6 / 8 / FRAME));
}

/** A probability as tc's percentage, without float noise (0.07 → "7%"). */
function percent(p: number): string {
  return `${Number((p * 100).toPrecision(10))}%`;
}

/** The whole nft table, replaced in one transaction: first-match rules marking traffic with its pipe's class. */
function nftScript(profile: Profile | null, minorOf: Map<string, number>): string {
  const rules = (profile?.rules ?? []).map((r) => `\t\tiifname "${r.from}" meta priority set 1:${hex(minorOf.get(r.pipe)!)} accept`);
  return [
    `# picowire: ${profile ? `profile ${profile.name}` : 'no profile yet: the bridge does not forward'}`,
    // declaring the table first makes the delete valid when it does not exist yet; the file is one transaction
    `table ${NFT_TABLE}`,
    `delete table ${NFT_TABLE}`,
    `table ${NFT_TABLE} {`,
    '\tchain forward {',
    `\t\ttype filter hook forward priority 0; policy ${profile ? 'accept' : 'drop'};`,
    ...rules,
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** Whether the kernel already has every qdisc a plan sets, of the right kind in the right place, and nothing to remove: then a respawned agent leaves traffic alone. */
export function alreadyApplied(p: Plan, state: KernelState): boolean {
  if (p.cleanup.length > 0) return false;
  return p.tc.every((line) => {
    if (line.startsWith('class replace ')) return true;
    const m = /^qdisc replace dev (\S+) parent (\S+) handle (\S+) (\S+)/.exec(line);
    return m !== null && state.qdiscs.some((q) => q.dev === m[1] && q.parent === m[2] && q.handle === m[3] && q.kind === m[4]);
  });
}
