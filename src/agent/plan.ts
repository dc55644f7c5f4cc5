// The Linux planner: a profile and what the kernel has now → the tc and nft commands that make the
// kernel do what the profile says. Pure (no I/O), so it is snapshot-tested; apply.ts runs the result.
//
// The bridge br0 joins ports a and b. Traffic entering on a leaves on b, so a rule `from: "a"`
// shapes b's egress (and the other way round; a rule without `from` shapes both). On each port:
//
//   htb 1: (root, default 1:ffff)          classifies by skb->priority, which nftables sets
//                                          (a port no pipe leaves by keeps the device's own qdisc)
//   ├─ class 1:ffff → pfifo 2:             unshaped traffic: a plain FIFO, like a switch port
//   └─ class 1:10   → netem 10:            pipe instance 0: the bottleneck, `rate bw`, queue `limit`
//                     └─ netem 4000:       then the delay line: delay, jitter, random loss, corruption, reordering
//   (class 1:11 → netem 11: → 4001: for instance 1, and so on: instance k has class 1:(10+k))
//
// A pipe without bw is its delay line alone. A pipe with a scheduler (queues feed it, or it names
// one) or a burst needs a bottleneck that pulls from the scheduler, which netem cannot be:
//
//                     netem 10: (the delay line) → tbf 4000: rate bw → qfq 8000: (or drr, prio, fq_codel, fifo)
//                                                                     ├─ class 8000:1 → pfifo c000:   the pipe's own queue
//                                                                     └─ class 8000:2 → pfifo c001:   queue q, weight w
//
// Every HTB class runs at 100 Gbit/s: HTB only sorts packets into pipes, it never throttles.
// HTB puts a packet straight into the class whose id equals skb->priority (htb_classify), so it
// needs no filters; inside a scheduler, one fw filter per class sends skb->mark j to class S:j.
// nftables' bridge forward chain sets both per rule: `meta priority` the pipe instance, `meta mark`
// the queue instance. A mask selects the instance with a dynamic nft map from masked key to
// instance, which each key's first packet fills with the next free instance (see MaskedTarget).
//
// Why netem `rate` for the bottleneck rather than tbf: the seed's pipe delivers packet i after
// ΔT = (Q_i + L_i)/B + t_PD — every packet pays its own transmission time L_i/B. netem's rate
// computes exactly that on arrival (time_to_send = max(previous packet's, now) + L/B: a FIFO
// server at rate B), and its limit is exactly the queue: packets wait in it until sent. The packet
// then goes to the inner netem, which adds t_PD; a netem's child receives packets only when they
// leave it, so this is the seed's order: queue and transmission, then propagation. (The skeleton
// had them the other way round, delay first: equal departure times on paper, but under QEMU TCG a
// late timer released the delay line in bursts into a 43-packet queue, which overflowed at a
// fraction of its rate: 168 of 20000 probe packets at 512 kbit/s through a 20 Mbit/s pipe.)
// tbf (and HTB) let a packet through at once when the bucket is full after an idle period:
// measured on the host, a 1042-byte ping through `tbf rate 256kbit burst 1514` saw 0.08 ms where
// the pipe's formula says 32.6 ms. Where a scheduler needs tbf, the first packet after an idle
// period skips its own transmission time, and the delay line comes first (the only order a qdisc
// tree allows there: a netem is the one qdisc that hands packets on after holding them).
// Random loss is in the delay line, so it counts apart from queue overflow (picowire status); a
// lost packet has taken its transmission time, as on a lossy link (dummynet drops it on entry).
// netem counts its limit in packets, so a queue given in bytes becomes that many full-size frames;
// under a scheduler a queue in bytes is a bfifo.
// In the VM (QEMU TCG, the skeleton's example profile: up 256Kbit/s 20ms, down 4Mbit/s 5ms) ping
// RTT was 29.2 ms for 98-byte frames and 60.9 ms for 1042-byte ones; the formula gives 28.3 and
// 59.6 ms, and the lab's fixed overhead is ~1 ms. TCP goodput was 244 and 3810 kbit/s (L2 ceilings
// 245, 3826).
//
// Jitter: netem sorts its delay line by send time, so jitter alone reorders packets; dummynet's
// pipe never does. The delay line then gets a rate of 100 Gbit/s, which makes netem send each
// packet no earlier than the one before it (its time bonus rule) and costs 0.12 µs per frame.
// `reorder` is netem's own: those packets skip the delay.
//
// Duplication: kernel 6.1 refuses a duplicating netem in a tree with any other netem ("cannot mix
// duplicating netems with other netems in tree"). So a pipe's `duplicate` is done by nftables in
// the netdev ingress hook of the port traffic enters on: a chain that replays the rules' matches
// (first match wins there too) and, for rules into a duplicating pipe, sends a copy with the same
// priority and mark straight to the egress port's qdiscs (`dup to`), where it crosses the pipe.
//
// The kernel logs "htb: netem qdisc 10: is non-work-conserving?" once per pipe: netem holds packets
// back on purpose; HTB then serves the other classes and netem's timer wakes the root again.
//
// A pipe that rules from both ports use gets its instances on each egress port: each direction is
// its own link (full duplex), where dummynet would make the two directions share one pipe.
import type { Port, Profile } from '../profile/schema.ts';
import { resolve } from '../profile/validate.ts';
import { IP6_MASK_FIELDS } from '../profile/resolve.ts';
import { flowScheduler, takesClasses } from '../profile/words.ts';
import type { MaskField, QueueSize, ResolvedMask, ResolvedPipe, ResolvedProfile, ResolvedRule } from '../profile/resolve.ts';
import { maxScheduledDelay, positionAt, type TimedValues } from '../profile/timed.ts';
import type { ResolvedAqm } from '../profile/aqm.ts';
import { aqmQdisc, fqQdisc } from './aqm.ts';

/** One qdisc as `tc -j qdisc show` reports it. */
export interface TcQdisc {
  dev: string;
  kind: string;
  handle: string;
  parent?: string;
  root?: boolean;
  /** the qdisc's parameters as tc prints them (fq_codel's and fq_pie's flows, which Linux cannot change in place) */
  options?: { flows?: number };
}

/** What the kernel has now, as far as the plan depends on it. */
export interface KernelState {
  qdiscs: TcQdisc[];
  /** the mask chains and maps of table bridge picowire, when known (the agent's own model): those no longer planned are removed */
  nft?: { bridge: NftObjects };
}

/** Chains and maps a plan made beyond the table's fixed ones. */
export interface NftObjects {
  chains: string[];
  maps: string[];
}

/** Commands for apply.ts: distribution tables to write, `tc -batch` lines, an `nft -f` script, then `tc -batch` lines that remove what no rule uses any more. */
export interface Plan {
  /** file name → content, for tc's distribution directory (empirical delay profiles) */
  dists: Record<string, string>;
  tc: string[];
  nft: string;
  cleanup: string[];
  /** the mask chains and maps the nft script leaves in table bridge picowire */
  objects: NftObjects;
}

export const PORTS = ['a', 'b'] as const satisfies readonly Port[];
export const NFT_TABLE = 'bridge picowire';
export const NFT_NETDEV_TABLE = 'netdev picowire';

/** The fastest traffic the delay line must hold without dropping: above any NIC the appliance drives. */
const MAX_INGRESS_BPS = 10e9;
/** A full-size Ethernet frame as tc counts it (no FCS): the unit of byte-to-packet conversions. */
export const FRAME = 1514;
/** "Very high": HTB classes sort, they do not shape. */
const UNSHAPED = 'htb rate 100gbit burst 64k cburst 64k quantum 1514';
export const DEFAULT_CLASS = 0xffff;
const FIRST_PIPE_CLASS = 0x10;
const BOTTLENECK_BASE = 0x4000;
const SCHEDULER_BASE = 0x8000;
const LEAF_BASE = 0xc000;
/** netem's delay distribution tables: a table value of DIST_SCALE means one `jitter` of extra delay */
const DIST_SCALE = 8192;
const DIST_MAX = 32767;
/** prio has at most 16 bands */
const PRIO_BANDS = 16;

const hex = (n: number) => n.toString(16);
const other = (p: Port): Port => (p === 'a' ? 'b' : 'a');

/** Where a pipe's instances and a queue's classes live: the same numbers on both ports. */
export interface Layout {
  /** pipe name → its first instance index k (class 1:(10+k)) */
  pipeBase: Map<string, number>;
  /** queue name → its first class minor j in its pipe's scheduler (class 1 is the pipe's own queue) */
  queueBase: Map<string, number>;
  /** pipe name → how many scheduler classes each of its instances has */
  classCount: Map<string, number>;
}

export function layout(profile: ResolvedProfile): Layout {
  const pipeBase = new Map<string, number>();
  let k = 0;
  for (const [name, pipe] of Object.entries(profile.pipes)) {
    pipeBase.set(name, k);
    k += pipe.buckets;
  }
  const queueBase = new Map<string, number>();
  const classCount = new Map<string, number>(Object.keys(profile.pipes).map((name) => [name, 1]));
  for (const [name, queue] of Object.entries(profile.queues)) {
    const next = classCount.get(queue.pipe) ?? 1;
    queueBase.set(name, next + 1);
    classCount.set(queue.pipe, next + queue.buckets);
  }
  return { pipeBase, queueBase, classCount };
}

/** A pipe instance's handles. */
export function instanceHandles(k: number): { classid: string; priority: number; outer: string; inner: string; scheduler: string } {
  return {
    classid: `1:${hex(FIRST_PIPE_CLASS + k)}`,
    /** the classid as the 32-bit value `meta priority` holds (major 1 in the high half) */
    priority: 0x10000 + FIRST_PIPE_CLASS + k,
    /** the netem under the class: the bottleneck of a plain pipe, the delay line otherwise */
    outer: `${hex(FIRST_PIPE_CLASS + k)}:`,
    /** under the outer netem: the delay line of a plain pipe, the tbf of a scheduled one */
    inner: `${hex(BOTTLENECK_BASE + k)}:`,
    scheduler: `${hex(SCHEDULER_BASE + k)}:`,
  };
}

/** Whether a pipe's bottleneck is a tbf with a scheduler under it (rather than netem's rate). */
export function scheduled(pipe: ResolvedPipe): boolean {
  return pipe.bw !== undefined && (pipe.scheduler !== undefined || pipe.burst !== undefined || pipe.aqm !== undefined);
}

/** What a profile asks the kernel for; null means no profile yet: the bridge does not forward. */
export function plan(profile: Profile | null, state: KernelState): Plan {
  const resolved = profile ? resolve(profile) : null;
  return planResolved(resolved, state);
}

export function planResolved(profile: ResolvedProfile | null, state: KernelState): Plan {
  const pipes = profile?.pipes ?? {};
  const where = profile ? layout(profile) : { pipeBase: new Map(), queueBase: new Map(), classCount: new Map() };
  // a pipe lives on the egress port of each direction that uses it
  const onPort = new Map<Port, Set<string>>(PORTS.map((p) => [p, new Set()]));
  for (const rule of profile?.rules ?? []) {
    const pipe = pipeOf(profile!, rule);
    if (pipe === undefined) continue;
    for (const ingress of rule.from ? [rule.from] : PORTS) onPort.get(other(ingress))!.add(pipe);
  }

  const dists: Record<string, string> = {};
  const tc: string[] = [];
  const cleanup: string[] = [];
  for (const port of PORTS) {
    const have = state.qdiscs.filter((q) => q.dev === port);
    if (onPort.get(port)!.size === 0) {
      // no pipe leaves by this port: it keeps the device's own qdisc, as without picowire (HTB would
      // only cost: its root lock, where the default qdisc takes none); ours goes once nft stops marking for it
      if (have.some((q) => q.root && q.handle === '1:')) cleanup.push(`qdisc del dev ${port} root handle 1:`);
      continue;
    }
    tc.push(...portRoot(port, have));
    const keep = new Set<string>();
    let leaf = 0;
    for (const [name, pipe] of Object.entries(pipes)) {
      if (!onPort.get(port)!.has(name)) continue;
      const dist = pipe.delayTable ? distribution(name, pipe) : undefined;
      if (dist) dists[dist.file] = dist.content;
      const queues = Object.entries(profile!.queues).filter(([, q]) => q.pipe === name);
      for (let i = 0; i < pipe.buckets; i++) {
        const k = where.pipeBase.get(name)! + i;
        keep.add(instanceHandles(k).classid);
        const lines = instanceLines(port, k, pipe, queues, where, leaf, have, dist?.name);
        leaf += lines.leaves;
        tc.push(...lines.tc);
      }
    }
    // classes of pipes no rule sends traffic to any more: removed after nft stops marking for them
    for (const q of have) {
      if (q.parent && /^1:[0-9a-f]+$/.test(q.parent) && q.parent !== `1:${hex(DEFAULT_CLASS)}` && !keep.has(q.parent)) {
        cleanup.push(`class del dev ${port} classid ${q.parent}`);
      }
    }
  }
  const nft = nftScript(profile, where, state.nft);
  return { dists, tc, nft: nft.script, cleanup, objects: nft.objects };
}

/** The pipe a rule's traffic crosses, if any. */
function pipeOf(profile: ResolvedProfile, rule: ResolvedRule): string | undefined {
  if (rule.action === 'pipe') return rule.target;
  if (rule.action === 'queue' && rule.target) return profile.queues[rule.target]?.pipe;
  return undefined;
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

/** One pipe instance on one port: its class, its two netems (or delay line, tbf and scheduler). */
function instanceLines(
  port: Port,
  k: number,
  pipe: ResolvedPipe,
  queues: [string, { weight: number; queue: QueueSize; buckets: number; aqm?: ResolvedAqm }][],
  where: Layout,
  firstLeaf: number,
  have: TcQdisc[],
  distName: string | undefined,
): { tc: string[]; leaves: number } {
  if (pipe.schedule || pipe.trace) return { tc: timedLines(port, k, pipe, have, distName), leaves: 0 };
  const h = instanceHandles(k);
  const queue = pipe.bw === undefined ? 0 : queuePackets(pipe);
  const delayLine = `${delayLineParams(pipe, distName)} limit ${delayLinePackets(pipe.delay + maxExtraDelay(pipe))}`;
  const plain = pipe.bw !== undefined && !scheduled(pipe);
  // a plain pipe: the bottleneck first (its queue is measured on arrival), then the delay line
  const outer = qdisc(port, h.classid, h.outer, 'netem', plain ? `rate ${pipe.bw}bit${pipe.overhead ? ` ${pipe.overhead}` : ''} limit ${queue}` : delayLine, have);
  // replacing a stale outer qdisc (another kind) deletes everything under it too
  const under = outer.length > 1 ? [] : have;
  const lines = [`class replace dev ${port} parent 1: classid ${h.classid} ${UNSHAPED}`, ...outer];
  const innerParent = `${h.outer.slice(0, -1)}:1`;
  if (plain) {
    lines.push(...qdisc(port, innerParent, h.inner, 'netem', delayLine, under));
    return { tc: lines, leaves: 0 };
  }
  if (pipe.bw === undefined) {
    if (under.some((q) => q.handle === h.inner)) lines.push(`qdisc del dev ${port} parent ${innerParent} handle ${h.inner}`);
    return { tc: lines, leaves: 0 };
  }
  // tbf: its own limit only matters for the bfifo it makes before the scheduler is grafted under it
  const burst = Math.max(pipe.burst ?? 0, FRAME);
  const shaper = qdisc(port, innerParent, h.inner, 'tbf', `rate ${pipe.bw}bit burst ${burst} limit ${burst + FRAME}${pipe.overhead ? ` overhead ${pipe.overhead}` : ''}`, under);
  lines.push(...shaper);
  const underShaper = shaper.length > 1 || under.length === 0 || !have.some((q) => q.handle === h.inner) ? [] : under;
  const sched = pipe.scheduler ?? 'fifo';
  const schedParent = `${h.inner.slice(0, -1)}:1`;
  const pipeQueue: QueueSize = pipe.queue ?? { packets: queue };
  if (flowScheduler(sched)) {
    // one scheduler that hashes flows itself: the queues' classes, weights and aqm do not apply (dummynet's fq_* ignore them too)
    const existing = underShaper.find((q) => q.handle === h.scheduler && q.kind === sched && q.parent === schedParent);
    // Linux cannot change an fq scheduler's number of flows: one with other flows is made again
    const reflow = existing?.options?.flows !== undefined && existing.options.flows !== (pipe.fq?.flows ?? 1024);
    const spec = fqQdisc(sched, pipe.aqm, pipe.fq, sizePackets(pipeQueue), !existing || reflow);
    if (reflow) lines.push(`qdisc del dev ${port} parent ${schedParent} handle ${h.scheduler}`);
    lines.push(...qdisc(port, schedParent, h.scheduler, spec.kind, spec.params, reflow ? [] : underShaper));
    return { tc: lines, leaves: 0 };
  }
  if (sched === 'fifo') {
    // one queue for everything: the queues' classes and weights do not apply (dummynet's fifo does the same)
    const spec = pipe.aqm ? aqmQdisc(pipe.aqm, pipeQueue, pipe.bw) : { kind: fifoKind(pipeQueue), params: fifoParams(pipeQueue) };
    lines.push(...qdisc(port, schedParent, h.scheduler, spec.kind, spec.params, underShaper));
    return { tc: lines, leaves: 0 };
  }
  const kind = schedulerKind(sched);
  const members = schedulerMembers(kind, pipeQueue, queues, where, pipe.aqm);
  const schedFresh = !underShaper.some((q) => q.handle === h.scheduler && q.kind === kind);
  lines.push(...qdisc(port, schedParent, h.scheduler, kind, kind === 'prio' ? `bands ${Math.max(2, new Set(members.map((m) => m.minor)).size)} priomap ${Array(16).fill(0).join(' ')}` : '', underShaper));
  const schedMajor = h.scheduler.slice(0, -1);
  let leaf = firstLeaf;
  for (const m of members) {
    const classid = `${schedMajor}:${m.minor}`;
    if (kind === 'qfq') lines.push(`class replace dev ${port} parent ${h.scheduler} classid ${classid} qfq weight ${m.weight} maxpkt ${qfqMaxPacket(m.j)}`);
    if (kind === 'drr') lines.push(`class replace dev ${port} parent ${h.scheduler} classid ${classid} drr quantum ${sched === 'rr' ? FRAME : m.weight * FRAME}`);
    const leafSpec = m.aqm ? aqmQdisc(m.aqm, m.size, pipe.bw) : { kind: fifoKind(m.size), params: fifoParams(m.size) };
    const leafHandle = `${hex(LEAF_BASE + leaf)}:`;
    // prio bands share a leaf when queues share a weight: only the first sets it
    if (!members.slice(0, members.indexOf(m)).some((o) => o.minor === m.minor)) {
      lines.push(...qdisc(port, classid, leafHandle, leafSpec.kind, leafSpec.params, schedFresh ? [] : underShaper));
      leaf++;
    }
    lines.push(`filter replace dev ${port} parent ${h.scheduler} protocol all prio 1 handle ${m.j} fw classid ${classid}`);
  }
  return { tc: lines, leaves: leaf - firstLeaf };
}

// A pipe that changes over time (a schedule or a trace, docs/schedules.md) is changed in place by the
// agent's runner (src/agent/schedule/) many times a second, and a rate change must hold for packets
// already queued: netem's rate fixes each packet's send time when it arrives, so after a fall in
// rate the queue would still leave at the old one, and an outage could not hold it. So the
// bottleneck is the HTB class itself (HTB takes tokens when it sends, at the rate of the moment),
// over the delay line, over a plug qdisc that is the queue and, blocked, the outage:
//
//   class 1:10 htb rate bw ceil bw     the bottleneck (UNSHAPED without bw)
//   └─ netem 10:                      the delay line: delay, jitter, loss (plr; 100 % in a dropping outage)
//      └─ plug 4000: limit BYTES      the queue; `block` during an outage, `release_indefinite` otherwise
//
// Packets wait in the plug after their delay (the order of a scheduled pipe, above): a queue
// measured in bytes (a queue in packets is that many full-size frames). HTB's bucket holds 4 ms at
// the rate (at least one frame), so a timer late by that much under TCG does not cost throughput:
// with 1 ms, a cellular trace's saturating flow got 93.8 % of what the trace allows (bench/schedule.ts).
const RATE_BUCKET_S = 0.004;

/** The initial values of a timed pipe: where its clock is at 0. */
export function timedStart(pipe: ResolvedPipe): TimedValues {
  return positionAt({ bw: pipe.bw, delay: pipe.delay, plr: pipe.plr, queue: pipe.queue }, pipe, 0).values;
}

/** A timed pipe's HTB class parameters at a rate (bit/s); unshaped without one. */
export function timedClass(bw: number | undefined): string {
  if (bw === undefined) return UNSHAPED;
  const burst = Math.max(FRAME, Math.round((bw / 8) * RATE_BUCKET_S));
  return `htb rate ${bw}bit ceil ${bw}bit burst ${burst} cburst ${burst} quantum ${FRAME}`;
}

/** A timed pipe's delay line at some values: delay and plr as they are now, 100 % loss in a dropping outage; in order when the schedule moves the delay. */
export function timedDelayLine(pipe: ResolvedPipe, v: TimedValues, distName?: string): string {
  const params = delayLineParams({ ...pipe, delay: v.delay, plr: v.outage === 'drop' ? 1 : v.plr, ...(v.outage === 'drop' && { loss: undefined }) }, distName);
  // always a rate: netem keeps the rate it had when a change names none (a plain pipe's bottleneck
  // before), and with one it sends no packet before the one ahead when the delay falls
  const inOrder = !params.includes(' rate ') && !(pipe.reorder && pipe.reorder.prob > 0);
  return `${params}${inOrder ? ' rate 100gbit' : ''} limit ${delayLinePackets(maxScheduledDelay(pipe.delay, pipe.schedule) + maxExtraDelay(pipe))}`;
}

/** A timed pipe's queue in bytes: as the values say, else max(2 × bw × delay, 64 KiB) at those values. */
export function timedQueueBytes(v: TimedValues): number {
  if (v.queue) return 'bytes' in v.queue ? v.queue.bytes : v.queue.packets * FRAME;
  return Math.max(Math.round((2 * (v.bw ?? 0) * v.delay) / 1e6 / 8), 64 * 1024);
}

/** One timed pipe instance on one port (see above), at its clock's start; the runner moves it from there. */
function timedLines(port: Port, k: number, pipe: ResolvedPipe, have: TcQdisc[], distName: string | undefined): string[] {
  const h = instanceHandles(k);
  const v = timedStart(pipe);
  const outer = qdisc(port, h.classid, h.outer, 'netem', timedDelayLine(pipe, v, distName), have);
  const under = outer.length > 1 ? [] : have;
  const plugParent = `${h.outer.slice(0, -1)}:1`;
  return [
    `class replace dev ${port} parent 1: classid ${h.classid} ${timedClass(v.bw)}`,
    ...outer,
    ...qdisc(port, plugParent, h.inner, 'plug', `limit ${timedQueueBytes(v)}`, under),
    // a new plug starts blocked
    `qdisc change dev ${port} parent ${plugParent} handle ${h.inner} plug ${v.outage ? 'block' : 'release_indefinite'}`,
  ];
}

/** The Linux qdisc a dummynet scheduler maps onto (see README, "Schedulers"). */
export function schedulerKind(sched: string): 'qfq' | 'prio' | 'drr' | 'fq_codel' | 'fq_pie' | 'fifo' {
  if (sched === 'wf2q+' || sched === 'qfq') return 'qfq';
  if (sched === 'prio' || sched === 'fq_codel' || sched === 'fq_pie' || sched === 'fifo') return sched;
  return 'drr';
}

/** A scheduler's classes: class 1 is the pipe's own queue (rules `pipe P` into a scheduled pipe, weight 1), then each queue's instances. */
export interface Member {
  /** the queue, or undefined for the pipe's own */
  queue?: string;
  instance: number;
  /** the fw mark that selects it */
  j: number;
  weight: number;
  size: QueueSize;
  /** its queue management; absent: a fifo */
  aqm?: ResolvedAqm;
  /** its class minor under the scheduler (hex); prio: the band, shared by queues of one weight */
  minor: string;
}

export function schedulerMembers(
  kind: string,
  pipeQueue: QueueSize,
  queues: [string, { weight: number; queue: QueueSize; buckets: number; aqm?: ResolvedAqm }][],
  where: Layout,
  pipeAqm?: ResolvedAqm,
): Member[] {
  const members: Omit<Member, 'minor'>[] = [{ instance: 0, j: 1, weight: 1, size: pipeQueue, ...(pipeAqm && { aqm: pipeAqm }) }];
  for (const [name, q] of queues) {
    for (let i = 0; i < q.buckets; i++) members.push({ queue: name, instance: i, j: where.queueBase.get(name)! + i, weight: q.weight, size: q.queue, ...(q.aqm && { aqm: q.aqm }) });
  }
  // prio: higher weight, higher priority (dummynet's prio scheduler); bands are 1 (first served) .. 16
  const weights = [...new Set(members.map((m) => m.weight))].sort((x, y) => y - x);
  return members.map((m) => ({ ...m, minor: hex(kind === 'prio' ? Math.min(weights.indexOf(m.weight), PRIO_BANDS - 1) + 1 : m.j) }));
}

// Linux's QFQ (QFQ+) serves classes of one weight and one maximum packet size as one aggregate:
// up to 8 classes that take turns, the aggregate sending up to 8 maximum-size packets at each of
// its turns. A masked queue makes 16 classes of one weight or more, so the seed's weights came out
// in bursts of 9 frames a turn, and over a 5-second window the 10:4 split measured anything from
// 2.31 to 2.76 (one class per aggregate: 2.48, 2.52). A maximum size of its own for each class
// keeps each alone in its aggregate, served a packet at a turn as dummynet's WF2Q+ does. The sizes
// start at a VLAN-tagged full frame; a longer packet moves its class to an aggregate sized for it.
const QFQ_LMAX_BASE = FRAME + 4;
export const qfqMaxPacket = (j: number) => QFQ_LMAX_BASE + j;

const fifoKind = (q: QueueSize) => ('packets' in q ? 'pfifo' : 'bfifo');
const fifoParams = (q: QueueSize) => ('packets' in q ? `limit ${q.packets}` : `limit ${q.bytes}`);
const sizePackets = (q: QueueSize) => ('packets' in q ? q.packets : Math.max(1, Math.floor(q.bytes / FRAME)));

/** netem's parameters for a pipe's delay line: everything but the rate. */
function delayLineParams(pipe: ResolvedPipe, distName: string | undefined): string {
  // tc refuses a distribution without a delay: 1 µs stands in for none
  const parts: string[] = [];
  if (pipe.jitter && pipe.jitter.spread > 0) {
    parts.push(`delay ${pipe.jitter.distribution === 'uniform' ? pipe.delay : Math.max(1, pipe.delay)}us ${pipe.jitter.spread}us`);
    if (pipe.jitter.correlation > 0) parts.push(percent(pipe.jitter.correlation));
    if (pipe.jitter.distribution !== 'uniform') parts.push(`distribution ${pipe.jitter.distribution}`);
  } else if (pipe.delayTable && distName) {
    // the table's smallest extra delay joins the constant delay; the table holds what varies
    const { min, sigma } = tableScale(pipe.delayTable.table);
    parts.push(`delay ${Math.max(1, pipe.delay + min)}us ${sigma}us distribution ${distName}`);
  } else parts.push(`delay ${pipe.delay}us`);
  const lossLevel = pipe.delayTable?.lossLevel ?? 1;
  if (pipe.loss) {
    const ge = pipe.loss;
    parts.push(`loss gemodel ${percent(ge.p)} ${percent(ge.r)} ${percent(ge.lossBad)} ${percent(ge.lossGood)}`);
  } else {
    // a delay profile's loss level is an independent loss on top of plr
    const loss = 1 - (1 - pipe.plr) * lossLevel;
    if (loss > 0) parts.push(`loss random ${percent(loss)}`);
  }
  if (pipe.corrupt > 0) parts.push(`corrupt ${percent(pipe.corrupt)}`);
  if (pipe.reorder && pipe.reorder.prob > 0) {
    parts.push(`reorder ${percent(pipe.reorder.prob)}${pipe.reorder.correlation > 0 ? ` ${percent(pipe.reorder.correlation)}` : ''}`);
    if (pipe.reorder.gap) parts.push(`gap ${pipe.reorder.gap}`);
  }
  // with a rate, netem sends no packet before the previous one: jitter without reordering (see the top)
  const varies = (pipe.jitter && pipe.jitter.spread > 0) || pipe.delayTable;
  if (varies && !(pipe.reorder && pipe.reorder.prob > 0)) parts.push('rate 100gbit');
  return parts.join(' ');
}

/** The largest extra delay a pipe's jitter or delay profile can add, in µs (netem's tables reach 4 × jitter). */
function maxExtraDelay(pipe: ResolvedPipe): number {
  if (pipe.jitter) return pipe.jitter.distribution === 'uniform' ? pipe.jitter.spread : 4 * pipe.jitter.spread;
  if (pipe.delayTable) return Math.max(...pipe.delayTable.table);
  return 0;
}

/** A delay table as netem takes it: its smallest value (added to the delay) and the `jitter` that scales the rest into 16-bit entries. */
function tableScale(table: number[]): { min: number; sigma: number } {
  const min = Math.min(...table);
  return { min, sigma: Math.max(1, Math.ceil(((Math.max(...table) - min) * DIST_SCALE) / DIST_MAX)) };
}

/** An empirical delay profile as a tc distribution file: extra delays in units of sigma / 8192. */
function distribution(pipeName: string, pipe: ResolvedPipe): { name: string; file: string; content: string } | undefined {
  const table = pipe.delayTable!.table;
  const { min, sigma } = tableScale(table);
  if (Math.max(...table) === min) return undefined; // a constant: plain delay
  const values = table.map((us) => Math.min(DIST_MAX, Math.round(((us - min) * DIST_SCALE) / sigma)));
  const name = `picowire-${pipeName}`;
  const rows: string[] = [`# picowire: delay profile of pipe ${pipeName}, ${values.length} values, one unit = ${sigma}/${DIST_SCALE} µs`];
  for (let i = 0; i < values.length; i += 16) rows.push(values.slice(i, i + 16).join(' '));
  return { name, file: `${name}.dist`, content: rows.join('\n') + '\n' };
}

/** A qdisc set with `replace` (changed in place when it exists); one of another kind or place is deleted first, as the kernel cannot change a qdisc's kind. */
function qdisc(port: Port, parent: string, handle: string, kind: string, params: string, have: TcQdisc[]): string[] {
  const existing = have.find((q) => q.handle === handle);
  const stale = existing && (existing.kind !== kind || existing.parent !== parent);
  return [
    ...(stale ? [`qdisc del dev ${port} ${existing.root ? 'root' : `parent ${existing.parent}`} handle ${handle}`] : []),
    `qdisc replace dev ${port} parent ${parent} handle ${handle} ${kind}${params ? ` ${params}` : ''}`,
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

// ---- nftables ----------------------------------------------------------------------------------

export const PROTO_NUMBERS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, 'ipv6-icmp': 58, icmp6: 58, sctp: 132, udplite: 136, gre: 47, esp: 50, ah: 51 };
const PORT_PROTOS = [6, 17, 132, 136];

/** The nft field a mask reads, its width and the type of its values in a map key. */
const MASK_EXPR: Record<MaskField, { expr: string; width: number; type: string }> = {
  srcIp: { expr: 'ip saddr', width: 32, type: 'ipv4_addr' },
  dstIp: { expr: 'ip daddr', width: 32, type: 'ipv4_addr' },
  srcPort: { expr: 'th sport', width: 16, type: 'inet_service' },
  dstPort: { expr: 'th dport', width: 16, type: 'inet_service' },
  proto: { expr: 'meta l4proto', width: 8, type: 'inet_proto' },
  // an IPv6 address mask is a prefix length (resolve.ts); the flow label has no type name of its own
  srcIp6: { expr: 'ip6 saddr', width: 128, type: 'ipv6_addr' },
  dstIp6: { expr: 'ip6 daddr', width: 128, type: 'ipv6_addr' },
  flowId: { expr: 'ip6 flowlabel', width: 20, type: '' },
};

/** Bytes of nft registers a key field takes (each field takes whole 4-byte registers). */
const REGISTER_BYTES: Record<MaskField, number> = { srcIp: 4, dstIp: 4, srcPort: 4, dstPort: 4, proto: 4, srcIp6: 16, dstIp6: 16, flowId: 4 };
/** The largest dynamic-map key the image's nft (1.0.6) linearizes: beyond it nft aborts (netlink_gen_expr assertion). */
const MAX_KEY_BYTES = 16;
/**
 * A key too long for a map is hashed to 32 bits first: collisions between two keys are about one in
 * 4e9. The map is declared by another 32-bit number (`typeof jhash ...` is accepted, but then
 * `nft list` segfaults printing the map: nft 1.0.6).
 */
const HASHED_KEY = 'mod 4294967295';

/** An IPv6 prefix length as nft writes the netmask: 64 → ffff:ffff:ffff:ffff:: */
export function ip6Netmask(length: number): string {
  const groups = Array.from({ length: 8 }, (_, i) => {
    const ones = Math.max(0, Math.min(16, length - 16 * i));
    return ones === 0 ? 0 : (0xffff << (16 - ones)) & 0xffff;
  });
  let last = 7;
  while (last >= 0 && groups[last] === 0) last--;
  const head = groups.slice(0, last + 1).map(hex).join(':');
  return last === 7 ? head : `${head}::`;
}

const dotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');

/** Room in an instance map: distinct keys remembered (those beyond the pool share its instances). */
const MAP_SIZE = 65536;
/** A key idle this long leaves its map (dummynet expires idle flow queues too), so the map keeps room for new ones. */
export const MASK_IDLE_TIMEOUT_S = 60;

/**
 * A masked pipe or queue: the nft map from masked key to instance, filled by the packets
 * themselves. The first packet of a key the map lacks adds it with the next free instance
 * (`numgen inc`, counting from 0), so the first `pool` distinct keys get an instance each, in the
 * order they appear, as dummynet makes them; later keys take the instances again from the first.
 * Each packet of a known key renews its element's timeout; a key idle for MASK_IDLE_TIMEOUT_S is
 * forgotten, and comes back (if it does) with the next instance. Should the map still fill up, a
 * key it cannot take is hashed onto the instances instead (the same one for every packet of the
 * key), rather than leave the pipe: before, such packets fell through to the rules after.
 * The chain that does it is shared by every rule into the target, so its counter is too.
 */
interface MaskedTarget {
  /** names the map and the chain: the target and its key fields, so a definition never changes under one name */
  name: string;
  /** the maps' declarations: one per address family (see familyKey) */
  decl: string[];
  maps: string[];
  chain: string[];
}

const fieldsName = (mask: ResolvedMask) => Object.keys(mask).map((f) => f.toLowerCase()).join('_');
/** The map (and chain) of a masked pipe whose first instance is `base`. */
export const pipeMaskName = (base: number, mask: ResolvedMask) => `pipe${base}_${fieldsName(mask)}`;
/** The map (and chain) of a masked queue whose first mark is `j0`, in the scheduler of the pipe whose first instance is `base`. */
export const queueMaskName = (base: number, j0: number, mask: ResolvedMask) => `queue${base}_${j0}_${fieldsName(mask)}`;

/**
 * The fields of a mask's map key. The image's nft (1.0.6) aborts on a dynamic-set key over 16 bytes,
 * which all five fields make (each takes a 4-byte register): then both ports are read as one 32-bit
 * field (the transport header's first word), and the key has four. Fewer fields keep their own, as
 * nft prints them.
 */
function keyFields(mask: ResolvedMask): { expr: string; bits: number; width: number; type: string; field: MaskField }[] {
  const fields = (Object.entries(mask) as [MaskField, number][]).map(([field, bits]) => ({ ...MASK_EXPR[field], bits, field }));
  const src = fields.find((f) => f.field === 'srcPort'), dst = fields.find((f) => f.field === 'dstPort');
  if (!src || !dst || fields.length <= 4 || fields.some((f) => REGISTER_BYTES[f.field] > 4)) return fields;
  const ports = { expr: '@th,0,32', bits: ((src.bits << 16) | dst.bits) >>> 0, width: 32, type: '', field: 'srcPort' as MaskField };
  return fields.flatMap((f) => (f === src ? [ports] : f === dst ? [] : [f]));
}

/**
 * The part of a mask one address family's packets are keyed by, as dummynet keys them: an IPv4
 * packet by src-ip/dst-ip and the ports and protocol, an IPv6 packet by src-ip6/dst-ip6/flow-id and
 * the ports and protocol. A family none of whose fields are masked has one key (all its packets in
 * one instance, as dummynet's all-zero flow id).
 */
function familyMask(mask: ResolvedMask, family: Family): ResolvedMask {
  const own = family === 'ip6' ? IP6_MASK_FIELDS : (['srcIp', 'dstIp'] as MaskField[]);
  const shared: MaskField[] = ['srcPort', 'dstPort', 'proto'];
  return Object.fromEntries(Object.entries(mask).filter(([f]) => own.includes(f as MaskField) || shared.includes(f as MaskField)));
}

/** One family's map: its declaration's key type and the key expression. */
function familyKey(mask: ResolvedMask, family: Family): { keyType: string; key: string; guard: string } {
  const fields = keyFields(familyMask(mask, family));
  // no field of its own: the family's packets share one key (the frame's type)
  if (fields.length === 0) return { keyType: 'typeof meta protocol', key: 'meta protocol', guard: `meta protocol ${family} ` };
  const key = fields
    .map(({ expr, width, bits, type }) => {
      const whole = width === 128 ? bits === 128 : bits === 2 ** width - 1;
      const value = type === 'ipv4_addr' ? dotted(bits) : type === 'ipv6_addr' ? ip6Netmask(bits) : `0x${hex(bits)}`;
      return whole ? expr : fields.length > 1 ? `(${expr} & ${value})` : `${expr} & ${value}`;
    })
    .join(' . ');
  // the fields every family has (ports, protocol) say nothing of which: the rules say it themselves
  const guard = fields.some((f) => f.type === 'ipv4_addr' || f.field === 'srcIp6' || f.field === 'dstIp6' || f.field === 'flowId') ? '' : `meta protocol ${family} `;
  if (fields.reduce((n, f) => n + REGISTER_BYTES[f.field], 0) > MAX_KEY_BYTES) {
    return { keyType: 'typeof numgen inc mod 2', key: `jhash ${key} ${HASHED_KEY}`, guard };
  }
  // a raw field has no type name: the map is declared by the expressions it is keyed by
  const keyType = fields.some((f) => f.type === '') ? `typeof ${fields.map((f) => f.expr).join(' . ')}` : `type ${fields.map((f) => f.type).join(' . ')}`;
  return { keyType, key, guard };
}

/**
 * How a mask's map key for one family's packets is laid out, for a reader of the map's elements
 * (ipfw pipe show): its fields in the key's order ('ports' for both ports read as one 32-bit field),
 * or hashed (the key is a 32-bit hash), or none (one key for the family: its name).
 */
export function keyLayout(mask: ResolvedMask, family: Family): { fields: (MaskField | 'ports')[]; hashed: boolean } {
  const fields = keyFields(familyMask(mask, family));
  return {
    fields: fields.map((f) => (f.expr === '@th,0,32' ? 'ports' : f.field)),
    hashed: fields.reduce((n, f) => n + REGISTER_BYTES[f.field], 0) > MAX_KEY_BYTES,
  };
}

/** The map of a masked target that keys one family's packets (IPv4's keeps the target's own name). */
export const familyMapName = (name: string, family: Family) => (family === 'ip6' ? `${name}_6` : name);

function maskedTarget(name: string, mask: ResolvedMask, pool: number, first: number, meta: 'priority' | 'mark'): MaskedTarget {
  const instances = `mod ${pool} offset 0x${hex(first)}`;
  const decl: string[] = [];
  const maps: string[] = [];
  const chain: string[] = [];
  for (const family of ['ip', 'ip6'] as Family[]) {
    const map = familyMapName(name, family);
    const { keyType, key, guard } = familyKey(mask, family);
    const set = `meta ${meta} set ${key} map @${map}`;
    const valueType = keyType.startsWith('typeof') ? `meta ${meta}` : meta === 'priority' ? 'classid' : 'mark';
    maps.push(map);
    decl.push(`\tmap ${map} { ${keyType} : ${valueType}; size ${MAP_SIZE}; flags dynamic,timeout; timeout ${MASK_IDLE_TIMEOUT_S}s; }`);
    chain.push(
      `${guard}${set} update @${map} { ${key} : meta ${meta} } return`,
      `${guard}add @${map} { ${key} : numgen inc ${instances} }`,
      `${guard}${set} return`,
      `${guard}meta ${meta} set jhash ${key.startsWith('jhash ') ? key.slice(6, -HASHED_KEY.length - 1) : key} ${instances} return`,
    );
  }
  return { name, decl, maps, chain };
}

/** How a rule's traffic reaches its pipe instance and queue class: the values every packet gets, and the masked targets that choose per key. */
interface Assignment {
  fixed: string[];
  masked: { meta: 'priority' | 'mark'; target: MaskedTarget }[];
}

function assignment(profile: ResolvedProfile, rule: ResolvedRule, where: Layout): Assignment {
  const pipeName = pipeOf(profile, rule)!;
  const pipe = profile.pipes[pipeName]!;
  const base = where.pipeBase.get(pipeName)!;
  const out: Assignment = { fixed: [], masked: [] };
  if (pipe.mask) out.masked.push({ meta: 'priority', target: maskedTarget(pipeMaskName(base, pipe.mask), pipe.mask, pipe.buckets, instanceHandles(base).priority, 'priority') });
  else out.fixed.push(`meta priority set ${instanceHandles(base).classid}`);
  if (!scheduled(pipe) || !takesClasses(pipe.scheduler)) return out;
  if (rule.action === 'pipe') {
    out.fixed.push('meta mark set 0x1');
    return out;
  }
  const queue = profile.queues[rule.target!]!;
  const j0 = where.queueBase.get(rule.target!)!;
  if (queue.mask) out.masked.push({ meta: 'mark', target: maskedTarget(queueMaskName(base, j0, queue.mask), queue.mask, queue.buckets, j0, 'mark') });
  else out.fixed.push(`meta mark set 0x${hex(j0)}`);
  return out;
}

/** nft objects a table needs for masks: map declarations and the chains that fill them. */
class MaskObjects {
  readonly targets = new Map<string, MaskedTarget>();
  readonly ruleChains: [string, string[]][] = [];

  /**
   * The statements that end a rule whose traffic takes `a`, then `tail` (its verdict). With masks,
   * the rule jumps to a chain of its own that asks each masked target's chain for the value; a
   * packet without the masked fields (IPv6 under an IPv4 mask, ICMP under a port mask) gets none,
   * and returns to try the rules after this one.
   */
  statements(a: Assignment, chainName: string, tail: string): string[] {
    if (a.masked.length === 0) return [...a.fixed, tail];
    const body: string[] = [];
    for (const { meta, target } of a.masked) {
      this.targets.set(target.name, target);
      body.push(`meta ${meta} set 0 jump ${target.name}`, `meta ${meta} 0 return`);
    }
    body.push([...a.fixed, tail].join(' '));
    this.ruleChains.push([chainName, body]);
    return [`jump ${chainName}`];
  }

  /** The chains and maps made: what the next plan removes if it has no use for them. */
  made(): NftObjects {
    return { chains: [...this.targets.keys(), ...this.ruleChains.map(([name]) => name)], maps: [...this.targets.values()].flatMap((t) => t.maps) };
  }

  /** Declarations (maps, then every chain declared empty), then flushes and fills: one transaction leaves them exactly as planned. */
  script(table: string): { declare: string[]; flush: string[]; fill: string[] } {
    const chains: [string, string[]][] = [...[...this.targets.values()].map((t): [string, string[]] => [t.name, t.chain]), ...this.ruleChains];
    return {
      declare: [...[...this.targets.values()].flatMap((t) => t.decl), ...chains.map(([name]) => `\tchain ${name} { }`)],
      flush: [...[...this.targets.values()].flatMap((t) => t.maps).map((name) => `flush map ${table} ${name}`), ...chains.map(([name]) => `flush chain ${table} ${name}`)],
      fill: chains.flatMap(([name, rules]) => [`\tchain ${name} {`, ...rules.map((r) => `\t\t${r}`), '\t}']),
    };
  }
}

/** A probability as an nft condition: none when it is certain (nft takes numbers below the modulus only). */
function chance(p: number): string[] {
  const n = Math.round(p * 1e6);
  return n >= 1e6 ? [] : [`numgen random mod 1000000 < ${n}`];
}

/** nft's names of the address families */
export type Family = 'ip' | 'ip6';
/** The frames ipfw's rules see: IPv4 and IPv6 packets (ARP crosses a dummynet bridge by ipfw). */
const IP_FRAMES = '{ ip, ip6 }';

/**
 * The address families a rule's addresses need one nft rule each for, with each family's address
 * conditions; [[]] when its addresses say nothing of the family. One nft rule cannot test IPv4 and
 * IPv6 addresses together (nft refuses "conflicting protocols"), and a list of both kinds matches a
 * packet of either: so a rule with IPv4 and IPv6 addresses becomes two, sharing its counter. A
 * positive set without addresses of a family rules that family out; a negative one without them
 * lets it through.
 */
function addressVariants(rule: ResolvedRule): string[][] {
  const sides = (['saddr', 'daddr'] as const).flatMap((side) => {
    const set = side === 'saddr' ? rule.src : rule.dst;
    return set ? [{ side, set }] : [];
  });
  // ipfw's ip4/ip6: the rule's one family (its addresses are of that family, resolve.ts checks)
  const only: Family | undefined = rule.family === 'ip6' ? 'ip6' : rule.family === 'ip4' ? 'ip' : undefined;
  if (!sides.length) return [only ? [`meta protocol ${only}`] : []];
  const variants: string[][] = [];
  for (const family of only ? [only] : (['ip', 'ip6'] as Family[])) {
    const conditions: string[] = [];
    let possible = true;
    for (const { side, set } of sides) {
      const items = family === 'ip' ? set.v4 : set.v6;
      if (items.length) conditions.push(`${family} ${side} ${set.not ? '!= ' : ''}${items.length === 1 ? items[0] : `{ ${items.join(', ')} }`}`);
      else if (!set.not) possible = false;
    }
    // only negative sets, with none of this family's addresses: the rule still means this family's packets alone
    if (possible) variants.push(conditions.length ? conditions : [`meta protocol ${family}`]);
  }
  return variants;
}

/** A rule's match expressions (everything before its statements), one list per nft rule it takes (addressVariants). */
function matches(rule: ResolvedRule, withPort: boolean): string[][] {
  const head: string[] = [];
  if (withPort && rule.from) head.push(`iifname "${rule.from}"`);
  // ipfw's mac and mac-type: frame rules (resolve.ts requires l2 for them)
  for (const [side, mac] of [['daddr', rule.dstMac], ['saddr', rule.srcMac]] as const) {
    if (mac) head.push(mac.mask ? `ether ${side} & ${mac.mask} == ${mac.addr}` : `ether ${side} ${mac.addr}`);
  }
  if (rule.macType) head.push(`ether type ${rule.macType.length === 1 ? rule.macType[0] : `{ ${rule.macType.join(', ')} }`}`);
  const protos = rule.proto?.map((p) => (typeof p === 'number' ? p : PROTO_NUMBERS[p]!));
  const ports = rule.srcPort || rule.dstPort;
  const l4 = protos ?? (ports ? PORT_PROTOS : undefined);
  if (l4) head.push(`meta l4proto ${l4.length === 1 ? l4[0] : `{ ${l4.join(', ')} }`}`);
  const tail: string[] = [];
  const set = (items: string[]) => (items.length === 1 ? items[0] : `{ ${items.join(', ')} }`);
  if (rule.srcPort) tail.push(`th sport ${set(rule.srcPort)}`);
  if (rule.dstPort) tail.push(`th dport ${set(rule.dstPort)}`);
  if (rule.prob !== undefined) tail.push(...chance(rule.prob));
  const variants = addressVariants(rule);
  // a rule takes IP packets only, as ipfw's do, unless it says l2; a protocol or an address says so already
  if (!rule.l2 && !l4 && variants.length === 1 && variants[0]!.length === 0) head.push(`meta protocol ${IP_FRAMES}`);
  return variants.map((addresses) => [...head, ...addresses, ...tail]);
}

const counterName = (rule: ResolvedRule, i: number) => `rule${rule.number}_${i}`;

/** Objects of an earlier plan this one has no use for, in the order they can go: chains (their rules reference maps), then maps. */
function staleObjects(table: string, had: NftObjects | undefined, made: NftObjects): string[] {
  if (!had) return [];
  const chains = had.chains.filter((c) => !made.chains.includes(c));
  const maps = had.maps.filter((m) => !made.maps.includes(m));
  return [...chains.map((c) => `flush chain ${table} ${c}`), ...chains.map((c) => `delete chain ${table} ${c}`), ...maps.map((m) => `delete map ${table} ${m}`)];
}

/**
 * The nft script, one transaction: the bridge table's forward chain is flushed and refilled (the
 * table and its named counters stay), and the netdev table that duplicates packets is set up or
 * removed. A packet sees the old rules or the new ones, never a mix. Mask maps are emptied: the
 * keys take instances again in the order they come.
 */
function nftScript(profile: ResolvedProfile | null, where: Layout, had: KernelState['nft']): { script: string; objects: NftObjects } {
  const policy = profile === null || profile.default === 'deny' ? 'drop' : 'accept';
  const hook = `type filter hook forward priority 0; policy ${policy};`;
  const masks = new MaskObjects();
  const rules = (profile?.rules ?? []).map((rule, i) => {
    const action =
      rule.action === 'allow' ? ['accept'] : rule.action === 'deny' ? ['drop'] : masks.statements(assignment(profile!, rule, where), `rule${i}_mask`, 'accept');
    return matches(rule, true).map((match) => `\t\t${[...match, `counter name "${counterName(rule, i)}"`, ...action].join(' ')}`);
  }).flat();
  const counters = (profile?.rules ?? []).map((rule, i) => `\tcounter ${counterName(rule, i)} { }`);
  const objects = masks.script(NFT_TABLE);
  const made = masks.made();
  // no rules and nothing denied: the bridge forwards as if picowire were not there, and no chain
  // hooks the packets (the hook alone cost about a tenth of the throughput under TCG). A profile with
  // rules brings the chain back in one transaction; until it commits, the new chain applies only its
  // policy, which for a default of deny drops the packets of that instant.
  const open = profile !== null && rules.length === 0 && policy === 'accept';
  // a frame that is not IP and that no rule took (ARP) crosses whatever the default says, as on a dummynet bridge
  const passNonIp = profile !== null && policy === 'drop' ? [`\t\tmeta protocol != ${IP_FRAMES} accept`] : [];
  const lines = [
    // no profile name here: two profiles with the same rules have the same script, which the agent then need not load again
    `# picowire: ${profile ? (open ? 'no rules: no chain sees the packets' : "the profile's rules") : 'no profile yet: the bridge does not forward'}`,
    `table ${NFT_TABLE} {`,
    ...counters,
    ...objects.declare,
    `\tchain forward { ${hook} }`,
    '}',
    `flush chain ${NFT_TABLE} forward`,
    ...staleObjects(NFT_TABLE, had?.bridge, made),
    ...objects.flush,
    ...(open
      ? [`delete chain ${NFT_TABLE} forward`]
      : [`table ${NFT_TABLE} {`, ...objects.fill, '\tchain forward {', `\t\t${hook}`, ...rules, ...passNonIp, '\t}', '}']),
  ];
  if (profile) lines.push(...duplication(profile, where));
  return { script: lines.join('\n') + '\n', objects: made };
}

/** The netdev table that duplicates packets for pipes with `duplicate` (see the top); removed when no pipe duplicates. */
function duplication(profile: ResolvedProfile, where: Layout): string[] {
  const duplicating = (rule: ResolvedRule) => rule.action !== 'allow' && rule.action !== 'deny' && (profile.pipes[pipeOf(profile, rule) ?? '']?.duplicate ?? 0) > 0;
  if (!profile.rules.some(duplicating)) return [`table ${NFT_NETDEV_TABLE}`, `delete table ${NFT_NETDEV_TABLE}`];
  // masked pipes get maps of their own here: every packet passes ingress before the bridge, in the same order, so keys get the same instances
  const masks = new MaskObjects();
  const dupChains: string[] = [];
  const bodies = PORTS.map((port) => {
    const body: string[] = [];
    profile.rules.forEach((rule, i) => {
      if (rule.from && rule.from !== port) return;
      const variants = matches(rule, false);
      if (!duplicating(rule)) {
        body.push(...variants.map((match) => `\t\t${[...match, 'accept'].join(' ')}`));
        return;
      }
      const dup = profile.pipes[pipeOf(profile, rule)!]!.duplicate;
      const chain = `dup_${port}_${i}`;
      // every packet of the rule takes its instance (so keys meet the maps in the bridge's order), a share of them is copied
      const copy = masks.statements(assignment(profile, rule, where), `${chain}_mask`, [...chance(dup), `dup to "${other(port)}" accept`].join(' '));
      dupChains.push(`\tchain ${chain} { ${copy.join(' ')}; }`);
      body.push(...variants.map((match) => `\t\t${[...match, `goto ${chain}`].join(' ')}`));
    });
    return [`\tchain in_${port} {`, `\t\ttype filter hook ingress device "${port}" priority 0; policy accept;`, ...body, '\t}'];
  });
  // made anew in each transaction: its chains all accept by default, so no packet sees a gap, and nothing stale stays
  const objects = masks.script(NFT_NETDEV_TABLE);
  return [
    `table ${NFT_NETDEV_TABLE}`,
    `delete table ${NFT_NETDEV_TABLE}`,
    `table ${NFT_NETDEV_TABLE} {`,
    ...objects.declare.filter((line) => !line.startsWith('\tchain ')),
    ...objects.fill,
    ...dupChains,
    ...bodies.flat(),
    '}',
  ];
}

/** Whether the kernel already has every qdisc a plan sets, of the right kind in the right place, and nothing to remove: then a respawned agent leaves traffic alone. */
export function alreadyApplied(p: Plan, state: KernelState): boolean {
  if (p.cleanup.length > 0) return false;
  return p.tc.every((line) => {
    if (line.startsWith('class replace ') || line.startsWith('filter replace ')) return true;
    const m = /^qdisc replace dev (\S+) parent (\S+) handle (\S+) (\S+)/.exec(line);
    return m !== null && state.qdiscs.some((q) => q.dev === m[1] && q.parent === m[2] && q.handle === m[3] && q.kind === m[4]);
  });
}
