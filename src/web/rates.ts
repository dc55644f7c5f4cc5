// The page's arithmetic, kept pure so the host tests it: what one `counters` event and the one
// before it say per second (throughput from the byte counters' difference, drops by cause), and the
// delay a pipe adds now, the seed's ΔT = (Q + L)/B + t_PD from its queue, packet size, bw and delay.
import type { Counters, PipeStatus, QueueStatus, Status } from '../agent/status.ts';
import type { ResolvedPipe, ResolvedProfile } from '../profile/resolve.ts';

/** A full-size Ethernet frame: the packet length L before any packet has crossed the pipe. */
export const DEFAULT_PACKET_BYTES = 1514;

/** One pipe instance (or one of its queues) as the page charts it, per second. */
export interface Sample {
  /** port/pipe#instance, or port/pipe#instance/queue#instance */
  key: string;
  /** what crossed, bit/s; null where the counters went back (a new profile replaced the qdiscs) */
  bitsPerS: number | null;
  packetsPerS: number | null;
  randomDropsPerS: number | null;
  overflowDropsPerS: number | null;
  /** queued now */
  queueBytes: number;
  queuePackets: number;
  /** ΔT, ms: the delay a packet arriving now would see (in a queue: see queueDelayMs) */
  delayMs: number | null;
}

/** The key a pipe instance is charted under: its port too, since a pipe may carry traffic out of both. */
export function pipeKey(p: PipeStatus): string {
  return `${p.port}/${p.pipe}#${p.instance}`;
}

/** Per second from two readings of one counter; null when it went back (counters restart with a new profile) or no time passed. */
export function perSecond(before: number, after: number, seconds: number): number | null {
  if (!(seconds > 0) || after < before) return null;
  return (after - before) / seconds;
}

/** ΔT = (Q + L)/B + t_PD in ms: Q bytes queued, L the packet length, B the pipe's bw in bit/s (none: no queue), t_PD its delay in µs. */
export function addedDelayMs(queueBytes: number, packetBytes: number, bwBitsPerS: number | undefined, delayUs: number): number {
  const transmit = bwBitsPerS ? ((queueBytes + packetBytes) * 8) / bwBitsPerS : 0;
  return transmit * 1000 + delayUs / 1000;
}

/**
 * ΔT for a packet arriving now in one queue of a scheduled pipe instance: the bytes served before
 * it, over the share of the pipe's bw it gets, plus the pipe's delay. PRIO serves first every queue
 * of its weight or higher; the weighted schedulers (WF2Q+, DRR/RR, QFQ) give a queue w / Σw of bw,
 * over the queues that have a backlog now and this one (the fluid share, which WF2Q+ keeps within a
 * packet and DRR within a quantum).
 */
export function queueDelayMs(q: QueueStatus, all: QueueStatus[], profile: ResolvedProfile, pipe: ResolvedPipe, packetBytes: number): number {
  const weight = (s: QueueStatus) => profile.queues[s.queue]?.weight ?? 1;
  if (pipe.scheduler === 'prio') {
    const ahead = all.filter((o) => weight(o) >= weight(q)).reduce((sum, o) => sum + o.backlog.bytes, 0);
    return addedDelayMs(ahead, packetBytes, pipe.bw, pipe.delay);
  }
  const sharing = all.filter((o) => o === q || o.backlog.bytes > 0).reduce((sum, o) => sum + weight(o), 0);
  return addedDelayMs(q.backlog.bytes, packetBytes, pipe.bw === undefined ? undefined : (pipe.bw * weight(q)) / sharing, pipe.delay);
}

/** The mean packet length over an interval, or a full frame when nothing crossed. */
export function packetLength(bytes: number | null, packets: number | null): number {
  return bytes && packets ? bytes / packets : DEFAULT_PACKET_BYTES;
}

/** What changed between two `counters` events `seconds` apart, per pipe instance and queue; `profile` gives bw and delay. */
export function samples(before: Status | null, after: Status, seconds: number, profile: ResolvedProfile | null): Sample[] {
  const previous = new Map<string, Counters & { randomDrops?: number; overflowDrops: number }>();
  for (const p of before?.profile === after.profile ? before.pipes : []) {
    previous.set(pipeKey(p), p);
    for (const q of p.queues) previous.set(`${pipeKey(p)}/${q.queue}#${q.instance}`, q);
  }
  const out: Sample[] = [];
  for (const p of after.pipes) {
    const key = pipeKey(p);
    const pipe = profile?.pipes[p.pipe];
    const one = counted(key, previous.get(key), p, seconds);
    const length = packetLength(one.bitsPerS === null ? null : one.bitsPerS / 8, one.packetsPerS);
    out.push({ ...one, delayMs: pipe ? addedDelayMs(p.backlog.bytes, length, pipe.bw, pipe.delay) : null });
    // a masked queue lists every instance its pipe instance has: those that never carried a packet get no card
    for (const q of p.queues.filter((q) => q.packets > 0)) {
      const qkey = `${key}/${q.queue}#${q.instance}`;
      const delayMs = pipe ? queueDelayMs(q, p.queues, profile!, pipe, length) : null;
      out.push({ ...counted(qkey, previous.get(qkey), { ...q, randomDrops: 0 }, seconds), delayMs });
    }
  }
  return out;
}

/** The per-second rates of one instance from its previous reading (none: unknown yet). */
function counted(key: string, was: (Counters & { randomDrops?: number; overflowDrops: number }) | undefined, now: Counters & { randomDrops: number; overflowDrops: number }, seconds: number): Omit<Sample, 'delayMs'> {
  const rate = (pick: (c: typeof now) => number) => (was ? perSecond(pick(was as typeof now), pick(now), seconds) : null);
  const bytes = rate((c) => c.bytes);
  return {
    key,
    bitsPerS: bytes === null ? null : bytes * 8,
    packetsPerS: rate((c) => c.packets),
    randomDropsPerS: rate((c) => c.randomDrops ?? 0),
    overflowDropsPerS: rate((c) => c.overflowDrops),
    queueBytes: now.backlog.bytes,
    queuePackets: now.backlog.packets,
  };
}
