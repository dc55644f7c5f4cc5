// The tc engine's queue management: a resolved `aqm` (src/profile/aqm.ts) as the Linux qdisc that
// takes a pipe's or queue's packets (red, codel, pie; fq_codel and fq_pie for those schedulers),
// with every parameter written out, since `tc qdisc replace` on a qdisc of the same kind keeps what
// a line leaves out. What differs from dummynet: docs/profiles.md#aqm.
import type { Codel, Pie, Red, ResolvedAqm, ResolvedFq } from '../profile/aqm.ts';
import { PIE_WEIGHT_STEP, RED_FRAME, redWlog } from '../profile/aqm.ts';
import type { QueueSize } from '../profile/resolve.ts';

/** The packet size Linux's red assumes while the queue is idle: dummynet's red_avg_pkt_size (512). */
export const RED_AVPKT = 512;

/** A qdisc's kind and its parameters. */
export interface QdiscSpec {
  kind: string;
  params: string;
}

const us = (v: number) => `${Math.round(v)}us`;
const ecn = (on: boolean) => (on ? 'ecn' : 'noecn');

/** The qdisc that holds a pipe's or queue's packets under `aqm`, for a queue of `queue` on a link of `bw` bit/s. */
export function aqmQdisc(aqm: ResolvedAqm, queue: QueueSize, bw: number): QdiscSpec {
  if (aqm.type === 'red') return red(aqm, queue, bw);
  if (aqm.type === 'codel') return { kind: 'codel', params: `limit ${packets(queue)} ${codelParams(aqm)}` };
  return { kind: 'pie', params: `limit ${packets(queue)} ${pieParams(aqm)} ${ecn(aqm.ecn)}` };
}

/**
 * An fq_codel or fq_pie scheduler: `flows` only when it is made (Linux refuses to change it, see
 * plan.ts), `limit` from fq or the pipe's queue in packets.
 */
export function fqQdisc(kind: 'fq_codel' | 'fq_pie', aqm: ResolvedAqm | undefined, fq: ResolvedFq | undefined, queuePackets: number, withFlows: boolean): QdiscSpec {
  const flows = withFlows ? ` flows ${fq?.flows ?? 1024}` : '';
  const head = `limit ${fq?.limit ?? queuePackets}${flows} quantum ${fq?.quantum ?? 1514}`;
  if (kind === 'fq_codel') {
    const codel: Codel = aqm?.type === 'codel' ? aqm : { type: 'codel', target: 5_000, interval: 100_000, ecn: true };
    return { kind, params: `${head} ${codelParams(codel)}` };
  }
  const pie: Pie = aqm?.type === 'pie' ? aqm : { type: 'pie', target: 15_000, tupdate: 15_000, alpha: 0.125, beta: 1.25, maxBurst: 150_000, maxEcnth: 0.1, estimator: 'ts', ecn: false };
  return { kind, params: `${head} ${pieParams(pie)} ecn_prob ${Math.round(pie.maxEcnth * 100)} ${ecn(pie.ecn)}` };
}

const packets = (q: QueueSize) => ('packets' in q ? q.packets : Math.max(1, Math.floor(q.bytes / RED_FRAME)));

function codelParams(c: Codel): string {
  return `target ${us(c.target)} interval ${us(c.interval)} ${ecn(c.ecn)}`;
}

/** pie's parameters but limit and ecn: alpha and beta in Linux's 1/16 steps, the delay estimator dummynet's dre or ts. */
function pieParams(p: Pie): string {
  const weight = (v: number) => Math.round(v * PIE_WEIGHT_STEP);
  return `target ${us(p.target)} tupdate ${us(p.tupdate)} alpha ${weight(p.alpha)} beta ${weight(p.beta)} nobytemode ${p.estimator === 'dre' ? 'dq_rate_estimator' : 'no_dq_rate_estimator'}`;
}

/**
 * Linux's red in bytes: thresholds in packets become full-size frames (1514 bytes each), the queue's
 * limit too; w_q becomes 2^-wlog, which tc derives from `burst` (tc_red_eval_ewma), so the burst
 * given is the smallest that makes tc choose that wlog; max_p is tc's `probability`.
 */
function red(r: Red, queue: QueueSize, bw: number): QdiscSpec {
  const inBytes = 'bytes' in queue;
  const bytes = (n: number) => (inBytes ? n : n * RED_FRAME);
  const min = bytes(r.minTh);
  const max = bytes(r.maxTh);
  const limit = Math.max(inBytes ? queue.bytes : queue.packets * RED_FRAME, max + RED_FRAME);
  const burst = redBurst(min, RED_AVPKT, redWlog(r.wq));
  const params = `limit ${limit} min ${min} max ${max} avpkt ${RED_AVPKT} burst ${burst} probability ${r.maxP} bandwidth ${bw}bit${r.ecn ? ' ecn' : ''}`;
  return { kind: 'red', params };
}

/** The wlog tc derives from a burst (iproute2's tc_red_eval_ewma, -1 when none fits): the first W = 2^-wlog for which burst + 1 - qmin/avpkt <= (1 - (1 - W)^burst) / W. */
export function tcRedWlog(qmin: number, burst: number, avpkt: number): number {
  const a = burst + 1 - qmin / avpkt;
  if (a < 1) return -1;
  let w = 0.5;
  for (let wlog = 1; wlog < 32; wlog++, w /= 2) if (a <= (1 - Math.pow(1 - w, burst)) / w) return wlog;
  return -1;
}

/** The smallest burst for which tc chooses `wlog` (tc's wlog grows with the burst), or the one nearest. */
export function redBurst(qmin: number, avpkt: number, wlog: number): number {
  let lo = Math.max(1, Math.ceil(qmin / avpkt));
  let hi = 1 << 24;
  const at = (b: number) => {
    const w = tcRedWlog(qmin, b, avpkt);
    return w === -1 ? 32 : w;
  };
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid) >= wlog) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
