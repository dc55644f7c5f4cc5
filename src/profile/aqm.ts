// Active queue management of a pipe's or queue's queue, as FreeBSD 14's ipfw(8)/dnctl(8) document
// it (droptail, red/gred, codel, pie; fq_codel and fq_pie schedulers take codel's and pie's
// parameters for their flows): the profile's `aqm` and `fq` objects resolved to numbers, with
// dummynet's defaults, and checked against what the Linux engine can honour. Each refusal names the
// field, the value and why; docs/profiles.md#aqm has the table.
import { show } from '../common/describe.ts';
import { parseDuration } from './units.ts';
import type { QueueSize } from './resolve.ts';
import type { Scheduler } from './schema.ts';
import { AQMS, flowScheduler } from './words.ts';

export interface Red {
  type: 'red';
  /** the average's weight, as given (Linux keeps 2^-wlog, see src/agent/aqm.ts) */
  wq: number;
  /** thresholds in the queue's unit: packets, or bytes when the queue is in bytes */
  minTh: number;
  maxTh: number;
  maxP: number;
  ecn: boolean;
}

export interface Codel {
  type: 'codel';
  /** µs */
  target: number;
  /** µs */
  interval: number;
  ecn: boolean;
}

export interface Pie {
  type: 'pie';
  /** µs */
  target: number;
  /** µs */
  tupdate: number;
  alpha: number;
  beta: number;
  /** µs */
  maxBurst: number;
  maxEcnth: number;
  estimator: 'dre' | 'ts';
  ecn: boolean;
}

export type ResolvedAqm = Red | Codel | Pie;

export interface ResolvedFq {
  quantum: number;
  /** packets; absent: the pipe's queue */
  limit?: number;
  flows: number;
}

/** dummynet's defaults (ipfw(8), FreeBSD 14): codel 5ms/100ms; pie 15ms/15ms, alpha 0.125, beta 1.25, max_burst 150ms, max_ecnth 0.1 */
export const CODEL_DEFAULTS = { target: 5_000, interval: 100_000 } as const;
export const PIE_DEFAULTS = { target: 15_000, tupdate: 15_000, alpha: 0.125, beta: 1.25, maxBurst: 150_000, maxEcnth: 0.1 } as const;
export const FQ_DEFAULTS = { quantum: 1514, flows: 1024 } as const;

/** What Linux's pie (and fq_pie) cannot be told: its burst allowance is 150 ms, fixed in the kernel. */
const LINUX_PIE_BURST = 150_000;
/** Linux takes alpha and beta in 1/16 steps, 0 to 32 (tc-pie(8)). */
export const PIE_WEIGHT_STEP = 16;
const PIE_WEIGHT_MAX = 2;

/** A packet as RED's thresholds in packets count it on Linux, whose red counts bytes: a full-size Ethernet frame. */
export const RED_FRAME = 1514;

/** Linux keeps RED's average weight as 2^-wlog (wlog 1 to 31): the wlog nearest w_q on a log scale. */
export function redWlog(wq: number): number {
  return Math.min(31, Math.max(1, Math.round(-Math.log2(wq))));
}

/** Which of `aqm`'s fields each type takes. */
const FIELDS: Record<(typeof AQMS)[number], readonly string[]> = {
  droptail: [],
  red: ['wq', 'minTh', 'maxTh', 'maxP', 'ecn'],
  gred: ['wq', 'minTh', 'maxTh', 'maxP', 'ecn'],
  codel: ['target', 'interval', 'ecn'],
  pie: ['target', 'tupdate', 'alpha', 'beta', 'maxBurst', 'maxEcnth', 'capdrop', 'derand', 'onoff', 'estimator', 'ecn'],
};

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A duration field in µs (dummynet's `time`: ms unless a unit says otherwise), or the default. */
function duration(raw: unknown, at: string, fallback: number, errors: string[], max = 10e6): number {
  if (typeof raw !== 'string' && typeof raw !== 'number') return fallback;
  try {
    const us = parseDuration(raw);
    if (!(us > 0) || us > max) {
      errors.push(`${at}: ${show(raw)} is out of range; allowed: above 0, up to ${max / 1e6} s`);
      return fallback;
    }
    return us;
  } catch (e) {
    errors.push(`${at}: ${(e as Error).message}`);
    return fallback;
  }
}

/**
 * A pipe's or queue's `aqm`: undefined for none or droptail (the plain tail-drop queue). `queue` is
 * the queue it manages (RED's thresholds are in its unit); `scheduler` the pipe's, when it is fq_codel
 * or fq_pie (then aqm gives the flows' parameters, and fq_codel marks ECN by default, as FreeBSD's does).
 */
export function resolveAqm(raw: unknown, at: string, where: { queue?: QueueSize; scheduler?: Scheduler }, errors: string[]): ResolvedAqm | undefined {
  if (!isObject(raw) || !(AQMS as readonly unknown[]).includes(raw.type)) return undefined; // the schema reports it
  const type = raw.type as (typeof AQMS)[number];
  for (const key of Object.keys(raw)) {
    if (key !== 'type' && FIELDS[type] && !FIELDS[type].includes(key)) {
      const owners = Object.entries(FIELDS).filter(([, f]) => f.includes(key)).map(([t]) => t);
      if (owners.length) errors.push(`${at}.${key}: ${type} has no ${key} (it is ${owners.join(' and ')}'s); allowed for ${type}: ${FIELDS[type].join(', ') || 'no other field'}`);
    }
  }
  const fq = flowScheduler(where.scheduler) ? where.scheduler : undefined;
  if (fq && type !== (fq === 'fq_codel' ? 'codel' : 'pie')) {
    errors.push(`${at}.type: ${show(type)} cannot manage the flows of an ${fq} scheduler; allowed: ${fq === 'fq_codel' ? 'codel' : 'pie'} (its flows' parameters), or no aqm`);
    return undefined;
  }
  const ecn = raw.ecn === true || (raw.ecn === undefined && fq === 'fq_codel');
  switch (type) {
    case 'droptail':
      return undefined;
    case 'gred':
      errors.push(
        `${at}.type: "gred" (gentle RED) cannot be honoured by the tc engine: Linux's red qdisc has no gentle mode (its probability jumps from maxP to 1 at maxTh; Linux's own "gred" is Generic RED, another algorithm); allowed: red, codel, pie, droptail`,
      );
      return undefined;
    case 'red':
      return red(raw, at, where.queue, ecn, errors);
    case 'codel':
      return {
        type,
        target: duration(raw.target, `${at}.target`, CODEL_DEFAULTS.target, errors),
        interval: duration(raw.interval, `${at}.interval`, CODEL_DEFAULTS.interval, errors),
        ecn,
      };
    case 'pie':
      return pie(raw, at, fq === 'fq_pie', ecn, errors);
  }
}

function red(raw: Obj, at: string, queue: QueueSize | undefined, ecn: boolean, errors: string[]): Red | undefined {
  const missing = ['wq', 'minTh', 'maxTh', 'maxP'].filter((k) => !isNumber(raw[k]));
  if (missing.length) {
    errors.push(`${at}: red needs ${missing.join(', ')} (ipfw: red w_q/min_th/max_th/max_p)`);
    return undefined;
  }
  const [wq, minTh, maxTh, maxP] = [raw.wq, raw.minTh, raw.maxTh, raw.maxP] as number[];
  const before = errors.length;
  if (!(wq! > 0)) errors.push(`${at}.wq: ${wq} gives the newest queue length no weight: the average would never move; allowed: above 0, up to 1`);
  else if (wq! < 2 ** -24) errors.push(`${at}.wq: ${wq} is below what the tc engine can keep (Linux holds w_q as 2^-n, n up to 24); allowed: from 2^-24 (6e-8) to 1`);
  if (!(minTh! >= 1)) errors.push(`${at}.minTh: ${minTh} is not a threshold the tc engine takes (Linux's red reads 0 as "a third of maxTh"); allowed: 1 or more`);
  if (!(minTh! < maxTh!)) errors.push(`${at}.maxTh: ${maxTh} must be above minTh (${minTh})`);
  if (queue) {
    const size = 'packets' in queue ? queue.packets : queue.bytes;
    if (maxTh! > size) errors.push(`${at}.maxTh: ${maxTh} is beyond the queue (${size} ${'packets' in queue ? 'packets' : 'bytes'}): the average could never reach it; allowed: up to the queue's size`);
  }
  const bytes = (th: number) => (queue && 'bytes' in queue ? th : th * RED_FRAME);
  if (errors.length === before && Math.log2(bytes(maxTh!)) + 1 + redWlog(wq!) >= 32) {
    errors.push(`${at}.wq: ${wq} with maxTh ${maxTh} is beyond the tc engine: Linux's red keeps maxTh (in bytes) shifted by log2(1/w_q) in 32 bits; allowed: a larger wq or a smaller maxTh`);
  }
  if (errors.length > before) return undefined;
  return { type: 'red', wq: wq!, minTh: minTh!, maxTh: maxTh!, maxP: maxP!, ecn };
}

function pie(raw: Obj, at: string, flows: boolean, ecn: boolean, errors: string[]): Pie {
  const weight = (key: 'alpha' | 'beta') => {
    const v = raw[key];
    if (!isNumber(v)) return PIE_DEFAULTS[key];
    if (v > PIE_WEIGHT_MAX) {
      errors.push(`${at}.${key}: ${v} is beyond what the tc engine can honour: Linux's pie takes ${key} from 0 to 2 (in steps of 1/16, tc-pie(8)), FreeBSD's up to 7; allowed: 0 to 2`);
      return PIE_DEFAULTS[key];
    }
    return v;
  };
  const maxBurst = duration(raw.maxBurst, `${at}.maxBurst`, PIE_DEFAULTS.maxBurst, errors);
  if (maxBurst !== LINUX_PIE_BURST) {
    errors.push(`${at}.maxBurst: ${show(raw.maxBurst)} cannot be honoured by the tc engine: Linux's pie lets a queue grow for 150 ms before it drops, fixed in the kernel; allowed: 150ms (the default)`);
  }
  const maxEcnth = isNumber(raw.maxEcnth) ? raw.maxEcnth : PIE_DEFAULTS.maxEcnth;
  if (!flows && maxEcnth !== PIE_DEFAULTS.maxEcnth) {
    errors.push(`${at}.maxEcnth: ${maxEcnth} cannot be honoured by the tc engine: Linux's pie marks ECN packets up to a drop probability of 0.1, fixed in the kernel (fq_pie takes it: ecn_prob); allowed: 0.1 (the default)`);
  }
  if (flows && Math.abs(maxEcnth * 100 - Math.round(maxEcnth * 100)) > 1e-9) {
    errors.push(`${at}.maxEcnth: ${maxEcnth} cannot be honoured by the tc engine: Linux's fq_pie takes it in whole percent (ecn_prob); allowed: 0, 0.01, ..., 1`);
  }
  const always = (key: 'capdrop' | 'derand', what: string) => {
    if (raw[key] === false) errors.push(`${at}.${key}: false cannot be honoured by the tc engine: Linux's pie always does ${what} (RFC 8033); allowed: true (the default)`);
  };
  always('capdrop', 'the cap drop adjustment');
  always('derand', 'drop de-randomisation');
  if (raw.onoff === true) {
    errors.push(`${at}.onoff: true cannot be honoured by the tc engine: Linux's pie has no on/off mode (it stops early drops only while the delay is under half the target and the probability under 20 %); allowed: false (the default)`);
  }
  return {
    type: 'pie',
    target: duration(raw.target, `${at}.target`, PIE_DEFAULTS.target, errors),
    tupdate: duration(raw.tupdate, `${at}.tupdate`, PIE_DEFAULTS.tupdate, errors),
    alpha: weight('alpha'),
    beta: weight('beta'),
    maxBurst,
    maxEcnth,
    // dummynet's pie estimates by departure rate, its fq_pie by timestamps
    estimator: raw.estimator === 'dre' || raw.estimator === 'ts' ? raw.estimator : flows ? 'ts' : 'dre',
    ecn,
  };
}

/** A pipe's `fq` (quantum, limit, flows of an fq_codel or fq_pie scheduler), with dummynet's defaults. */
export function resolveFq(raw: unknown, at: string, scheduler: Scheduler | undefined, errors: string[]): ResolvedFq | undefined {
  if (scheduler !== 'fq_codel' && scheduler !== 'fq_pie') {
    if (raw !== undefined) errors.push(`${at}: quantum, limit and flows belong to an fq_codel or fq_pie scheduler; this pipe's is ${show(scheduler ?? 'none')}: add "scheduler": "fq_codel" or remove "fq"`);
    return undefined;
  }
  const fq = isObject(raw) ? raw : {};
  return {
    quantum: isNumber(fq.quantum) ? fq.quantum : FQ_DEFAULTS.quantum,
    ...(isNumber(fq.limit) && { limit: fq.limit }),
    flows: isNumber(fq.flows) ? fq.flows : FQ_DEFAULTS.flows,
  };
}
