// A profile's values as numbers and normalised matches: what the planners use. Resolution also
// checks what the schema cannot say (units, ranges, names, references between rules, queues and
// pipes, combinations netem refuses) and collects every problem as one line
// `profile.path: what is wrong; allowed: ...`. It reads the raw value defensively — a field of the
// wrong type is the schema's to report, and is skipped here — so structural and semantic errors are
// reported together and a user fixes a profile in one round.
import { pointerToPath, show } from '../common/describe.ts';
import type { Distribution, Engine, Family, Port, Scheduler } from './schema.ts';
import { ACTIONS, DISTRIBUTIONS, FAMILIES, PROTOCOLS, SCHEDULERS, takesClasses } from './words.ts';
import { resolveAqm, resolveFq, type ResolvedAqm, type ResolvedFq } from './aqm.ts';
import { parseBandwidth, parseDuration, parseQueue, parseSize } from './units.ts';
import { resolveSchedule, resolveTrace, type ResolvedSchedule, type ResolvedTrace } from './timed.ts';

export const ROOT = 'profile';

/** The ranges values must be in; outside them the kernel would refuse or misbehave. */
export const LIMITS = {
  /** netem's rate is whole bytes per second; the HTB classes around a pipe run at 100 Gbit/s */
  bw: { min: 8, max: 100e9 },
  /** µs */
  delay: { min: 0, max: 10e6 },
  queuePackets: { min: 1, max: 100_000 },
  /** at least one full-size Ethernet frame (netem counts queues in frames, see plan) */
  queueBytes: { min: 1514, max: 1024 ** 3 },
  burst: { min: 1514, max: 1024 ** 3 },
  /** pipe instances (pipes × buckets): each is a class and two or three qdiscs on each port; tc handles are 16 bits (see src/agent/plan.ts) */
  instances: 1024,
  /** queue instances (scheduler classes) per pipe instance */
  classes: 1024,
  /** scheduler classes over all pipe instances: each is a class, a qdisc and a filter per port (handles c000: to ffff:) */
  leaves: 4096,
} as const;

export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const NAME_RULE = 'up to 32 letters, digits, ".", "_" and "-", starting with a letter or digit';

export type QueueSize = { packets: number } | { bytes: number };

export interface Jitter {
  /** µs */
  spread: number;
  distribution: Distribution;
  correlation: number;
}

/** Dummynet's empirical delay profile as netem takes it: a table of extra delays (µs), drawn uniformly. */
export interface DelayTable {
  /** 4096 extra delays in µs, ascending: the inverse of the profile's cumulative curve over [0, lossLevel] */
  table: number[];
  lossLevel: number;
}

export interface GilbertElliott {
  p: number;
  r: number;
  lossBad: number;
  lossGood: number;
}

export type MaskField = 'srcIp' | 'dstIp' | 'srcPort' | 'dstPort' | 'proto' | 'srcIp6' | 'dstIp6' | 'flowId';
export const MASK_FIELDS: readonly MaskField[] = ['srcIp', 'dstIp', 'srcPort', 'dstPort', 'proto', 'srcIp6', 'dstIp6', 'flowId'];
const MASK_WIDTH: Record<MaskField, number> = { srcIp: 32, dstIp: 32, srcPort: 16, dstPort: 16, proto: 8, srcIp6: 128, dstIp6: 128, flowId: 20 };
/** The fields only IPv6 packets have: an IPv4 packet is keyed by the others alone, and an IPv6 packet never by srcIp/dstIp (as dummynet's flow ids). */
export const IP6_MASK_FIELDS: readonly MaskField[] = ['srcIp6', 'dstIp6', 'flowId'];

/** A mask: for each field it names, the bits that tell instances apart (never 0); for srcIp6 and dstIp6, the prefix length (1-128). */
export type ResolvedMask = Partial<Record<MaskField, number>>;

export interface ResolvedPipe {
  /** bit/s; absent: no bottleneck, the pipe only delays and drops */
  bw?: number;
  /** µs */
  delay: number;
  jitter?: Jitter;
  delayTable?: DelayTable;
  /** 0..1 */
  plr: number;
  loss?: GilbertElliott;
  duplicate: number;
  corrupt: number;
  reorder?: { prob: number; correlation: number; gap?: number };
  /** the bottleneck's queue as written; absent: sized from bw × delay by the planner */
  queue?: QueueSize;
  /** bytes per packet */
  overhead: number;
  /** bytes */
  burst?: number;
  /** set when the profile names one or queues feed this pipe */
  scheduler?: Scheduler;
  mask?: ResolvedMask;
  /** instances a mask may create (1 without a mask) */
  buckets: number;
  /** bw, delay, plr and queue over time (timed.ts) */
  schedule?: ResolvedSchedule;
  /** a recorded capacity in place of bw (timed.ts) */
  trace?: ResolvedTrace;
  /** the queue's management; absent: droptail. With scheduler fq_codel or fq_pie: its flows' codel or pie */
  aqm?: ResolvedAqm;
  /** scheduler fq_codel or fq_pie: quantum, limit, flows */
  fq?: ResolvedFq;
}

export interface ResolvedQueue {
  pipe: string;
  weight: number;
  queue: QueueSize;
  mask?: ResolvedMask;
  buckets: number;
  /** the queue's management; absent: droptail */
  aqm?: ResolvedAqm;
}

export interface AddressSet {
  not: boolean;
  v4: string[];
  v6: string[];
}

export interface ResolvedRule {
  number: number;
  action: (typeof ACTIONS)[number];
  /** the pipe or queue the rule sends traffic to */
  target?: string;
  from?: Port;
  /** IP protocol numbers or names nft knows; absent: any */
  proto?: (string | number)[];
  src?: AddressSet;
  dst?: AddressSet;
  /** nft port set items: "22", "1000-2000"; absent: any */
  srcPort?: string[];
  dstPort?: string[];
  prob?: number;
  /** takes non-IP frames too (ARP), as a cable would; absent: IPv4 and IPv6 packets only */
  l2?: true;
  /** IPv4 (ip4) or IPv6 (ip6) packets only, as ipfw's ip4/ip6 */
  family?: Family;
  /** Ethernet addresses (ipfw mac): the address and, for a prefix, the mask of its leading bits */
  dstMac?: { addr: string; mask?: string };
  srcMac?: { addr: string; mask?: string };
  /** Ethernet types as nft set items ("0x0806", "0x0800-0x86dd") */
  macType?: string[];
}

export interface ResolvedProfile {
  name: string;
  pipes: Record<string, ResolvedPipe>;
  queues: Record<string, ResolvedQueue>;
  /** in the order they are tried */
  rules: ResolvedRule[];
  default: 'allow' | 'deny';
  /** the data plane that carries it */
  engine: Engine;
}

/** dummynet's default queue: 50 slots */
export const DEFAULT_QUEUE_PACKETS = 50;
const DEFAULT_BUCKETS = 16;

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isProbability = (v: unknown): v is number => isNumber(v) && v >= 0 && v <= 1;
export const keyPath = (base: string, key: string) => `${base}${pointerToPath('/' + key.replace(/~/g, '~0').replace(/\//g, '~1'))}`;

/** Resolves what can be resolved and lists every problem found. */
export function resolveProfile(value: unknown): { profile: ResolvedProfile; errors: string[] } {
  const errors: string[] = [];
  const v = isObject(value) ? value : {};
  const rawPipes = isObject(v.pipes) ? v.pipes : {};
  const rawQueues = isObject(v.queues) ? v.queues : {};
  const pipes: Record<string, ResolvedPipe> = {};
  for (const [name, raw] of Object.entries(rawPipes)) {
    const at = keyPath(`${ROOT}.pipes`, name);
    if (!NAME.test(name)) errors.push(`${at}: ${show(name)} is not a pipe name; allowed: ${NAME_RULE}`);
    if (isObject(raw)) pipes[name] = resolvePipeAt(raw, at, errors);
  }
  const queues: Record<string, ResolvedQueue> = {};
  for (const [name, raw] of Object.entries(rawQueues)) {
    const at = keyPath(`${ROOT}.queues`, name);
    if (!NAME.test(name)) errors.push(`${at}: ${show(name)} is not a queue name; allowed: ${NAME_RULE}`);
    if (!isObject(raw)) continue;
    const queue = resolveQueueAt(raw, at, errors);
    if (typeof raw.pipe !== 'string') continue;
    const pipe = pipes[raw.pipe];
    if (!Object.hasOwn(rawPipes, raw.pipe)) {
      errors.push(`${at}.pipe: ${show(raw.pipe)} is not a pipe of this profile; pipes: ${Object.keys(rawPipes).join(', ') || 'none (add it under "pipes")'}`);
    } else if (pipe) {
      if (pipe.bw === undefined) errors.push(`${at}.pipe: pipe ${show(raw.pipe)} has no "bw": a scheduler needs a bottleneck to schedule`);
      pipe.scheduler ??= 'wf2q+';
    }
    queues[name] = queue;
  }
  const instances = Object.values(pipes).reduce((n, p) => n + p.buckets, 0);
  if (instances > LIMITS.instances) errors.push(`${ROOT}.pipes: ${instances} pipe instances (pipes × buckets); allowed: at most ${LIMITS.instances}`);
  let leaves = 0;
  for (const [name, pipe] of Object.entries(pipes)) {
    const classes = Object.values(queues).filter((q) => q.pipe === name).reduce((n, q) => n + q.buckets, 1);
    if (classes > LIMITS.classes) errors.push(`${keyPath(`${ROOT}.pipes`, name)}: ${classes} queue instances feed it; allowed: at most ${LIMITS.classes}`);
    if (takesClasses(pipe.scheduler)) leaves += classes * pipe.buckets;
    if ((pipe.scheduler || pipe.aqm) && (pipe.schedule || pipe.trace)) {
      errors.push(`${keyPath(`${ROOT}.pipes`, name)}.${pipe.schedule ? 'schedule' : 'trace'}: a pipe that changes over time takes no scheduler, queues or aqm yet; allowed: a plain pipe (bw, delay, plr, queue)`);
    }
    if (pipe.scheduler && pipe.bw === undefined && !Object.values(queues).some((q) => q.pipe === name)) {
      errors.push(`${keyPath(`${ROOT}.pipes`, name)}.scheduler: a scheduler needs a bottleneck: add "bw" to this pipe`);
    }
  }
  if (leaves > LIMITS.leaves) errors.push(`${ROOT}.queues: ${leaves} queue instances in all (pipe instances × the queues' buckets); allowed: at most ${LIMITS.leaves}: use fewer buckets`);

  const rules: ResolvedRule[] = [];
  let last = 0;
  (Array.isArray(v.rules) ? v.rules : []).forEach((raw, i) => {
    if (!isObject(raw)) return;
    const rule = resolveRuleAt(raw, `${ROOT}.rules[${i}]`, { pipes: rawPipes, queues: rawQueues }, errors);
    rule.number = isNumber(raw.number) ? raw.number : nextRuleNumber(last);
    last = rule.number;
    rules.push(rule);
  });
  // ipfw runs rules by number; rules with one number keep the order they were written in
  rules.sort((x, y) => x.number - y.number);
  return {
    profile: {
      name: typeof v.name === 'string' ? v.name : '',
      pipes,
      queues,
      rules,
      default: v.default === 'deny' ? 'deny' : 'allow',
      engine: v.engine === 'dummynet' ? 'dummynet' : 'tc',
    },
    errors,
  };
}

/** One value: parsed (a unit error names the unit), then range-checked; undefined when absent, of the wrong type, or wrong. */
function quantity<T>(raw: unknown, at: string, errors: string[], parse: (v: string | number) => T, range: (v: T) => string | undefined): T | undefined {
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  try {
    const value = parse(raw);
    const problem = range(value);
    if (problem) {
      errors.push(`${at}: ${show(raw)} ${problem}`);
      return undefined;
    }
    return value;
  } catch (e) {
    errors.push(`${at}: ${(e as Error).message}`);
    return undefined;
  }
}

function queueSize(raw: unknown, at: string, errors: string[]): QueueSize | undefined {
  return quantity(raw, at, errors, parseQueue, (q) =>
    'packets' in q
      ? Number.isInteger(q.packets) // the schema already says a count must be whole
        ? outside(q.packets, LIMITS.queuePackets, 'packets', 'from 1 to 100000 packets')
        : undefined
      : outside(q.bytes, LIMITS.queueBytes, 'bytes', 'from 1514 bytes (one full-size frame) to 1GB'),
  );
}

function resolvePipeAt(p: Obj, at: string, errors: string[]): ResolvedPipe {
  const bw = quantity(p.bw, `${at}.bw`, errors, parseBandwidth, (b) => outside(b, LIMITS.bw, 'bit/s', 'from 8 bit/s (1 Byte/s) to 100 Gbit/s; leave bw out for an unlimited pipe'));
  const delay = quantity(p.delay, `${at}.delay`, errors, parseDuration, (us) => outside(us, LIMITS.delay, 'µs', 'from 0 to 10 s'));
  const queue = queueSize(p.queue, `${at}.queue`, errors);
  if (p.queue !== undefined && p.bw === undefined && !isObject(p.trace)) {
    errors.push(`${at}.queue: a queue needs a bottleneck: add "bw" to this pipe, or remove "queue" (without bw nothing waits in a queue)`);
  }
  const pipe: ResolvedPipe = {
    ...(bw !== undefined && { bw: Math.round(bw) }),
    delay: delay ?? 0,
    plr: isProbability(p.plr) ? p.plr : 0,
    duplicate: isProbability(p.duplicate) ? p.duplicate : 0,
    corrupt: isProbability(p.corrupt) ? p.corrupt : 0,
    overhead: isNumber(p.overhead) ? p.overhead : 0,
    buckets: 1,
    ...(queue && { queue }),
  };

  const jitter = resolveJitter(p.jitter, `${at}.jitter`, errors);
  if (jitter) pipe.jitter = jitter;
  if (isObject(p.delayProfile)) {
    const table = delayTable(p.delayProfile, `${at}.delayProfile`, errors);
    if (table) pipe.delayTable = table;
    if (p.jitter !== undefined) errors.push(`${at}.delayProfile: a pipe takes "jitter" or "delayProfile", not both (both draw the extra delay)`);
  }
  if (isObject(p.loss) && isProbability(p.loss.p) && isProbability(p.loss.r)) {
    pipe.loss = {
      p: p.loss.p,
      r: p.loss.r,
      lossBad: isProbability(p.loss.lossBad) ? p.loss.lossBad : 1,
      lossGood: isProbability(p.loss.lossGood) ? p.loss.lossGood : 0,
    };
    if (p.plr !== undefined) errors.push(`${at}.loss: a pipe takes "plr" or "loss", not both; for independent loss use plr alone`);
  }
  if (isProbability(p.reorder)) pipe.reorder = { prob: p.reorder, correlation: 0 };
  else if (isObject(p.reorder) && isProbability(p.reorder.prob)) {
    pipe.reorder = {
      prob: p.reorder.prob,
      correlation: isProbability(p.reorder.correlation) ? p.reorder.correlation : 0,
      ...(isNumber(p.reorder.gap) && { gap: p.reorder.gap }),
    };
  }
  if (pipe.reorder && pipe.reorder.prob > 0 && !(pipe.delay > 0)) {
    errors.push(`${at}.reorder: reordering needs a delay to overtake: add "delay" to this pipe (reordered packets skip it)`);
  }
  const burst = quantity(p.burst, `${at}.burst`, errors, (b) => (typeof b === 'number' ? b : parseSize(b)), (b) => outside(b, LIMITS.burst, 'bytes', 'from 1514 bytes to 1GB'));
  if (burst !== undefined) {
    pipe.burst = burst;
    if (p.bw === undefined) errors.push(`${at}.burst: a burst needs a bottleneck: add "bw" to this pipe`);
  }
  if (typeof p.scheduler === 'string' && (SCHEDULERS as readonly string[]).includes(p.scheduler)) pipe.scheduler = p.scheduler as Scheduler;
  if (p.overhead !== undefined && p.bw === undefined) errors.push(`${at}.overhead: overhead only changes transmission time: add "bw" to this pipe`);
  timedParts(p, pipe, at, errors);
  const mask = resolveMask(p.mask, `${at}.mask`, errors);
  if (mask) {
    pipe.mask = mask;
    pipe.buckets = isNumber(p.buckets) ? p.buckets : DEFAULT_BUCKETS;
  } else if (p.buckets !== undefined) errors.push(`${at}.buckets: buckets only count the instances a mask makes: add "mask" or remove "buckets"`);
  // an fq_codel or fq_pie scheduler manages its flows with codel or pie, dummynet's defaults unless aqm says
  const flowAqm = pipe.scheduler === 'fq_codel' ? { type: 'codel' } : pipe.scheduler === 'fq_pie' ? { type: 'pie' } : undefined;
  const aqm = resolveAqm(p.aqm ?? flowAqm, `${at}.aqm`, { queue: pipe.queue, scheduler: pipe.scheduler }, errors);
  if (aqm) {
    pipe.aqm = aqm;
    if (p.bw === undefined && p.aqm !== undefined) errors.push(`${at}.aqm: queue management needs a queue, and a queue a bottleneck: add "bw" to this pipe`);
  }
  const fq = resolveFq(p.fq, `${at}.fq`, pipe.scheduler, errors);
  if (fq) pipe.fq = fq;
  return pipe;
}

/** A pipe's schedule and trace, and what they cannot go with (docs/schedules.md). */
function timedParts(p: Obj, pipe: ResolvedPipe, at: string, errors: string[]): void {
  const schedule = resolveSchedule(p.schedule, `${at}.schedule`, errors, at);
  const trace = resolveTrace(p.trace, `${at}.trace`, errors, at);
  if (schedule) pipe.schedule = schedule;
  if (trace) pipe.trace = trace;
  if (!isObject(p.schedule) && !isObject(p.trace)) return;
  const which = isObject(p.trace) ? 'trace' : 'schedule';
  if (isObject(p.trace) && p.bw !== undefined) errors.push(`${at}.bw: a trace gives the pipe's bandwidth: remove "bw" or "trace"`);
  const steps = isObject(p.schedule) && Array.isArray(p.schedule.steps) ? p.schedule.steps.filter(isObject) : [];
  steps.forEach((step, i) => {
    if (step.bw !== undefined && isObject(p.trace)) errors.push(`${at}.schedule.steps[${i}].bw: the trace gives the bandwidth; allowed here: delay, plr, queue, outage`);
    else if ((step.bw !== undefined || step.queue !== undefined) && p.bw === undefined && !isObject(p.trace)) {
      errors.push(`${at}.schedule.steps[${i}].${step.bw !== undefined ? 'bw' : 'queue'}: the pipe has no bottleneck to change: add "bw" to the pipe (its value before the first step)`);
    }
  });
  if (isObject(p.schedule) && isObject(p.trace) && isObject(p.schedule) && typeof p.schedule.clock === 'string' && typeof p.trace.clock === 'string' && p.schedule.clock !== p.trace.clock) {
    errors.push(`${at}.trace.clock: ${show(p.trace.clock)} differs from schedule.clock ${show(p.schedule.clock)}; a pipe runs on one clock`);
  }
  for (const field of ['mask', 'burst', 'scheduler', 'delayProfile'] as const) {
    if (p[field] !== undefined) errors.push(`${at}.${field}: a pipe with a ${which} takes no ${field} yet; allowed with a ${which}: bw, delay, plr, jitter, loss, queue, overhead`);
  }
}

function resolveQueueAt(q: Obj, at: string, errors: string[]): ResolvedQueue {
  const mask = resolveMask(q.mask, `${at}.mask`, errors);
  if (!mask && q.buckets !== undefined) errors.push(`${at}.buckets: buckets only count the instances a mask makes: add "mask" or remove "buckets"`);
  const queue = queueSize(q.queue, `${at}.queue`, errors) ?? { packets: DEFAULT_QUEUE_PACKETS };
  const aqm = resolveAqm(q.aqm, `${at}.aqm`, { queue }, errors);
  return {
    pipe: typeof q.pipe === 'string' ? q.pipe : '',
    weight: isNumber(q.weight) ? q.weight : 1,
    queue,
    ...(mask && { mask }),
    buckets: mask ? (isNumber(q.buckets) ? q.buckets : DEFAULT_BUCKETS) : 1,
    ...(aqm && { aqm }),
  };
}

function resolveJitter(raw: unknown, at: string, errors: string[]): Jitter | undefined {
  const spreadOf = (v: unknown, path: string) => quantity(v, path, errors, parseDuration, (us) => outside(us, LIMITS.delay, 'µs', 'from 0 to 10 s'));
  if (typeof raw === 'string' || typeof raw === 'number') {
    const spread = spreadOf(raw, at);
    return spread === undefined ? undefined : { spread, distribution: 'uniform', correlation: 0 };
  }
  if (!isObject(raw)) return undefined;
  const spread = spreadOf(raw.spread, `${at}.spread`);
  if (spread === undefined) return undefined;
  const distribution = (DISTRIBUTIONS as readonly unknown[]).includes(raw.distribution) ? (raw.distribution as Distribution) : 'uniform';
  return { spread, distribution, correlation: isProbability(raw.correlation) ? raw.correlation : 0 };
}

/** Table entries of a delay distribution (netem's size; tc's own tables have 4096 too). */
export const DELAY_TABLE_SIZE = 4096;

/** The profile's curve sampled at DELAY_TABLE_SIZE evenly spaced probabilities below lossLevel. */
function delayTable(raw: Obj, at: string, errors: string[]): DelayTable | undefined {
  if (!Array.isArray(raw.samples) || raw.samples.length === 0) return undefined;
  const points: { prob: number; delay: number }[] = [];
  raw.samples.forEach((s, i) => {
    if (!isObject(s) || !isProbability(s.prob)) return;
    const delay = quantity(s.delay, `${at}.samples[${i}].delay`, errors, parseDuration, (us) => outside(us, LIMITS.delay, 'µs', 'from 0 to 10 s'));
    if (delay !== undefined) points.push({ prob: s.prob, delay });
  });
  if (points.length !== raw.samples.length) return undefined;
  for (let i = 1; i < points.length; i++) {
    if (points[i]!.prob < points[i - 1]!.prob || points[i]!.delay < points[i - 1]!.delay) {
      errors.push(`${at}.samples[${i}]: samples must rise in both prob and delay (a cumulative curve); it follows prob ${points[i - 1]!.prob}, delay ${points[i - 1]!.delay} µs`);
      return undefined;
    }
  }
  const lossLevel = isProbability(raw.lossLevel) ? raw.lossLevel : 1;
  if (lossLevel === 0) {
    errors.push(`${at}.lossLevel: 0 would lose every packet; allowed: above 0, up to 1`);
    return undefined;
  }
  // the curve starts at (0, first delay) unless it says otherwise; beyond the last point it stays flat
  const curve = points[0]!.prob > 0 ? [{ prob: 0, delay: points[0]!.delay }, ...points] : points;
  const table = Array.from({ length: DELAY_TABLE_SIZE }, (_, i) => {
    const u = ((i + 0.5) / DELAY_TABLE_SIZE) * lossLevel;
    const j = curve.findIndex((c) => c.prob >= u);
    if (j === -1) return curve.at(-1)!.delay;
    if (j === 0) return curve[0]!.delay;
    const a = curve[j - 1]!;
    const b = curve[j]!;
    return Math.round(b.prob === a.prob ? b.delay : a.delay + ((u - a.prob) / (b.prob - a.prob)) * (b.delay - a.delay));
  });
  return { table, lossLevel };
}

/** A mask value: a number, "0x…" hex, a dotted netmask or "/N" (the top N bits of the field). */
export function parseMaskBits(raw: string | number, width: number): number {
  const max = 2 ** width - 1;
  let bits: number;
  if (typeof raw === 'number') bits = raw;
  else if (/^0x[0-9a-f]+$/i.test(raw.trim())) bits = parseInt(raw.trim(), 16);
  else if (/^\d+$/.test(raw.trim())) bits = Number(raw.trim());
  else if (/^\/\d+$/.test(raw.trim())) {
    const n = Number(raw.trim().slice(1));
    if (n < 1 || n > width) throw new Error(`prefix length ${n} is outside 1..${width}`);
    bits = max - (2 ** (width - n) - 1);
  } else if (width === 32 && /^\d+\.\d+\.\d+\.\d+$/.test(raw.trim())) {
    const parts = raw.trim().split('.').map(Number);
    if (parts.some((x) => x > 255)) throw new Error('an octet is above 255');
    bits = parts.reduce((acc, x) => acc * 256 + x, 0);
  } else throw new Error('not a mask');
  if (!Number.isInteger(bits) || bits < 1 || bits > max) throw new Error(`outside 1..0x${max.toString(16)}`);
  return bits;
}

function resolveMask(raw: unknown, at: string, errors: string[]): ResolvedMask | undefined {
  if (!isObject(raw)) return undefined;
  const mask: ResolvedMask = {};
  for (const field of MASK_FIELDS) {
    const v = raw[field];
    if (typeof v !== 'string' && typeof v !== 'number') continue;
    const width = MASK_WIDTH[field];
    if (width === 128) {
      const length = ip6PrefixLength(v);
      if (length === undefined) errors.push(`${at}.${field}: ${show(v)} is not an IPv6 mask; allowed: a prefix length from 1 to 128 (64 or "/64") or a contiguous netmask such as "ffff:ffff:ffff:ffff::"`);
      else mask[field] = length;
      continue;
    }
    try {
      mask[field] = parseMaskBits(v, width);
    } catch (e) {
      const forms = width === 32 ? 'hex such as "0xffffff00", a netmask such as "255.255.255.0" or a prefix such as "/24"' : `hex such as "0x${'f'.repeat(width / 4)}" or a number`;
      errors.push(`${at}.${field}: ${show(v)} is not a ${width}-bit mask (${(e as Error).message}); allowed: ${forms}, not 0`);
    }
  }
  if (Object.keys(raw).length === 0) errors.push(`${at}: an empty mask makes one instance, as no mask does; allowed: one or more of ${MASK_FIELDS.join(', ')}`);
  return Object.keys(mask).length > 0 ? mask : undefined;
}

/** An IPv6 mask as its prefix length: 64, "/64", "64" or "ffff:ffff:ffff:ffff::" (dummynet's masks are prefixes); undefined when it is none of these. */
export function ip6PrefixLength(raw: string | number): number | undefined {
  const text = String(raw).trim();
  const m = /^\/?(\d{1,3})$/.exec(text);
  const length = m ? Number(m[1]) : text.includes(':') && validIpv6(text) ? netmaskLength(text) : undefined;
  return length !== undefined && length >= 1 && length <= 128 ? length : undefined;
}

/** The prefix length of a contiguous IPv6 netmask, undefined when its ones are not all leading. */
function netmaskLength(mask: string): number | undefined {
  const [head, tail] = mask.includes('::') ? mask.split('::') : [mask, undefined];
  const groups = (g: string | undefined) => (g ? g.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  const bits = all.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
  return /^1*0*$/.test(bits) ? bits.indexOf('0') === -1 ? 128 : bits.indexOf('0') : undefined;
}

function resolveRuleAt(r: Obj, at: string, defs: { pipes: Obj; queues: Obj }, errors: string[]): ResolvedRule {
  const named = typeof r.pipe === 'string' ? 'pipe' : typeof r.queue === 'string' ? 'queue' : undefined;
  const action = (ACTIONS as readonly unknown[]).includes(r.action) ? (r.action as ResolvedRule['action']) : (named ?? 'pipe');
  const rule: ResolvedRule = { number: 0, action };
  if (action === 'pipe' || action === 'queue') {
    const target = r[action];
    const pool = action === 'pipe' ? defs.pipes : defs.queues;
    if (typeof target !== 'string') {
      if (r.action !== undefined || named === undefined) errors.push(`${at}: a rule with action "${action}" must name its ${action}: add "${action}": "<name>", or set "action" to "allow" or "deny"`);
      else errors.push(`${at}: a rule names either "pipe" or "queue"`);
    } else if (!Object.hasOwn(pool, target)) {
      const known = Object.keys(pool).length ? Object.keys(pool).join(', ') : `none (add it under "${action}s")`;
      errors.push(`${at}.${action}: ${show(target)} is not a ${action} of this profile; ${action}s: ${known}`);
    } else rule.target = target;
    const otherKey = action === 'pipe' ? 'queue' : 'pipe';
    if (r[otherKey] !== undefined) errors.push(`${at}.${otherKey}: a rule with action "${action}" cannot also name a ${otherKey}`);
  } else {
    for (const key of ['pipe', 'queue'] as const) {
      if (r[key] !== undefined) errors.push(`${at}.${key}: a rule with action "${action}" sends traffic nowhere: remove "${key}"`);
    }
  }
  if (r.from === 'a' || r.from === 'b') rule.from = r.from;
  if (r.proto !== undefined) {
    const list = (Array.isArray(r.proto) ? r.proto : [r.proto]).filter((p) => (PROTOCOLS as readonly unknown[]).includes(p) || (Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 255));
    if (!list.some((p) => p === 'ip' || p === 'all')) rule.proto = list as (string | number)[];
  }
  for (const side of ['src', 'dst'] as const) {
    const set = addressSet(r[side], `${at}.${side}`, errors);
    if (set) rule[side] = set;
  }
  const family = (set: AddressSet | undefined) => (set && !set.not ? (set.v4.length ? 'IPv4' : 'IPv6') : undefined);
  if (family(rule.src) && family(rule.dst) && family(rule.src) !== family(rule.dst)) {
    errors.push(`${at}: src is ${family(rule.src)} and dst ${family(rule.dst)}: no packet has both; allowed: addresses of one family (or "not" on one side)`);
  }
  for (const side of ['srcPort', 'dstPort'] as const) {
    const ports = portSet(r[side], `${at}.${side}`, errors);
    if (ports) rule[side] = ports;
  }
  if ((rule.srcPort || rule.dstPort) && rule.proto?.some((p) => !['tcp', 'udp', 'sctp', 'udplite', 6, 17, 132, 136].includes(p))) {
    errors.push(`${at}: ports only exist in tcp, udp, sctp and udplite; this rule's proto is ${show(r.proto)}`);
  }
  if (isProbability(r.prob)) rule.prob = r.prob;
  if (r.l2 === true) rule.l2 = true;
  for (const side of ['dstMac', 'srcMac'] as const) {
    if (typeof r[side] !== 'string') continue;
    const mac = macAddress(r[side]);
    if (mac) rule[side] = mac;
    else errors.push(`${at}.${side}: ${show(r[side])} is not an Ethernet address; allowed: six hex bytes such as "02:70:77:00:00:01", optionally /bits (1-48)`);
  }
  if (r.macType !== undefined) {
    const types = macTypes(r.macType, `${at}.macType`, errors);
    if (types) rule.macType = types;
  }
  if ((rule.dstMac || rule.srcMac || rule.macType) && !rule.l2) {
    errors.push(`${at}: dstMac, srcMac and macType match Ethernet frames, which a rule takes only with "l2": true (ipfw layer2); add it`);
  }
  if (rule.macType && (rule.proto || rule.src || rule.dst || rule.srcPort || rule.dstPort || (FAMILIES as readonly unknown[]).includes(r.family))) {
    errors.push(`${at}.macType: a rule takes macType or IP conditions (proto, src, dst, ports, family), not both: the IP conditions already say the frame's type`);
  }
  if ((FAMILIES as readonly unknown[]).includes(r.family)) {
    rule.family = r.family as Family;
    const name = rule.family === 'ip6' ? 'IPv6' : 'IPv4';
    const otherFamily = (set: AddressSet | undefined) => set && !set.not && (rule.family === 'ip6' ? set.v6 : set.v4).length === 0;
    for (const side of ['src', 'dst'] as const) {
      if (otherFamily(rule[side])) errors.push(`${at}.${side}: ${show(r[side])} has no ${name} address, and "family": ${show(r.family)} takes ${name} packets only; allowed: ${name} addresses, or leave "family" out`);
    }
    const wrongIcmp = rule.family === 'ip6' ? ['icmp', 1] : ['ipv6-icmp', 'icmp6', 58];
    if (rule.proto?.length && rule.proto.every((p) => wrongIcmp.includes(p))) {
      errors.push(`${at}.proto: ${show(r.proto)} is not carried in ${name} packets; allowed with "family": ${show(r.family)}: ${rule.family === 'ip6' ? 'ipv6-icmp (icmp6)' : 'icmp'}`);
    }
  }
  return rule;
}

/** An Ethernet address, optionally /bits: the address nft compares and, for a prefix, its mask. */
function macAddress(text: string): { addr: string; mask?: string } | undefined {
  const m = /^([0-9a-f]{1,2}(?::[0-9a-f]{1,2}){5})(?:\/(\d{1,2}))?$/i.exec(text.trim());
  if (!m) return undefined;
  const bytes = m[1]!.split(':').map((b) => parseInt(b, 16));
  const bits = m[2] === undefined ? 48 : Number(m[2]);
  if (bits < 1 || bits > 48) return undefined;
  const maskBytes = bytes.map((_, i) => (0xff << (8 - Math.max(0, Math.min(8, bits - 8 * i)))) & 0xff);
  const hex2 = (list: number[]) => list.map((b) => b.toString(16).padStart(2, '0')).join(':');
  const addr = hex2(bytes.map((b, i) => b & maskBytes[i]!));
  return bits === 48 ? { addr } : { addr, mask: hex2(maskBytes) };
}

/** Ethernet type names ipfw knows (its ether_types table), as numbers. */
export const ETHER_TYPES: Record<string, number> = { ip: 0x0800, ipv4: 0x0800, ipv6: 0x86dd, arp: 0x0806, rarp: 0x8035, vlan: 0x8100, loopback: 0x9000, trail: 0x1000, at: 0x809b, atalk: 0x809b, appletalk: 0x809b, aarp: 0x80f3, ipx: 0x8137, pppoe_disc: 0x8863, pppoe_sess: 0x8864 };

/** A list of Ethernet types as nft set items; undefined when none is valid (each bad one is reported). */
function macTypes(raw: unknown, at: string, errors: string[]): string[] | undefined {
  const items = (Array.isArray(raw) ? raw : [raw]).flatMap((p) => (typeof p === 'string' ? p.split(',').map((x) => x.trim()) : [p]));
  const one = (t: string): number | undefined => {
    const v = /^0x[0-9a-f]{1,4}$/i.test(t) ? parseInt(t, 16) : /^\d{1,5}$/.test(t) ? Number(t) : ETHER_TYPES[t.toLowerCase()];
    return v !== undefined && v <= 0xffff ? v : undefined;
  };
  const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;
  const out: string[] = [];
  for (const item of items) {
    if (typeof item === 'number' && Number.isInteger(item) && item >= 0 && item <= 0xffff) {
      out.push(hex4(item));
      continue;
    }
    const m = typeof item === 'string' ? /^([^-\s]+)(?:\s*-\s*([^-\s]+))?$/.exec(item) : null;
    const lo = m ? one(m[1]!) : undefined;
    const hi = m?.[2] !== undefined ? one(m[2]) : lo;
    if (lo === undefined || hi === undefined || hi < lo) {
      errors.push(`${at}: ${show(item)} is not an Ethernet type; allowed: a number (0x0806 or 2054), a name (${Object.keys(ETHER_TYPES).join(', ')}), a range "0x0800-0x86dd" (low <= high), or a list`);
      continue;
    }
    out.push(lo === hi ? hex4(lo) : `${hex4(lo)}-${hex4(hi)}`);
  }
  return out.length ? out : undefined;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/;
const IPV6 = /^([0-9a-f:.]+)(?:\/(\d{1,3}))?$/i;

/** An address match as nft set items, split by family. */
function addressSet(raw: unknown, at: string, errors: string[]): AddressSet | undefined {
  let not = false;
  let value = raw;
  if (isObject(raw)) {
    not = true;
    value = raw.not;
  }
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string') : undefined;
  if (!items) return undefined;
  if (items.includes('any')) {
    if (items.length > 1) errors.push(`${at}: "any" cannot be part of a list`);
    if (not) errors.push(`${at}: "not any" matches nothing; use action "allow" or remove the rule`);
    return undefined;
  }
  const set: AddressSet = { not, v4: [], v6: [] };
  for (const item of items) {
    const v4 = IPV4.exec(item);
    if (v4) {
      const octetsOk = v4.slice(1, 5).every((o) => Number(o) <= 255);
      const prefixOk = v4[5] === undefined || Number(v4[5]) <= 32;
      if (octetsOk && prefixOk) {
        set.v4.push(item);
        continue;
      }
    } else if (item.includes(':') && IPV6.test(item) && validIpv6(item)) {
      set.v6.push(item.toLowerCase());
      continue;
    }
    errors.push(`${at}: ${show(item)} is not an address; allowed: an IPv4 or IPv6 address, optionally /prefix, "any", or a list of them`);
  }
  if (set.v4.length && set.v6.length) errors.push(`${at}: a list mixes IPv4 and IPv6 addresses; write one rule for each family`);
  return set.v4.length || set.v6.length ? set : undefined;
}

function validIpv6(item: string): boolean {
  const [addr, prefix, ...more] = item.split('/');
  if (more.length || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= 128))) return false;
  const halves = addr!.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  // an IPv4 address may end it (::ffff:192.0.2.1), standing for two groups
  const last = groups.at(-1);
  const v4 = last !== undefined && IPV4.test(last) && !last.includes('/') && last.split('.').every((o) => Number(o) <= 255);
  const hexGroups = v4 ? groups.slice(0, -1) : groups;
  const count = hexGroups.length + (v4 ? 2 : 0);
  return hexGroups.every((g) => /^[0-9a-f]{1,4}$/i.test(g)) && (halves.length === 2 ? count < 8 : count === 8);
}

/**
 * The number of a rule written without one, after a rule numbered `last`: as FreeBSD's `ipfw add`
 * numbers it, the last one plus 100 while that stays below the default rule 65535, else the last
 * one again (rules with one number keep the order they were written in).
 */
export function nextRuleNumber(last: number): number {
  return last < 65535 - 100 ? last + 100 : last;
}

/** A port match as nft set items ("22", "1000-2000"); undefined for "any". */
function portSet(raw: unknown, at: string, errors: string[]): string[] | undefined {
  const items = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).flatMap((p) => (typeof p === 'string' ? p.split(',').map((s) => s.trim()) : [p]));
  if (items.length === 0) return undefined;
  if (items.includes('any')) {
    if (items.length > 1) errors.push(`${at}: "any" cannot be part of a list`);
    return undefined;
  }
  const out: string[] = [];
  for (const item of items) {
    if (typeof item === 'number') {
      if (Number.isInteger(item) && item >= 0 && item <= 65535) out.push(String(item));
      continue; // the schema reports numbers out of range
    }
    const m = typeof item === 'string' ? /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(item) : null;
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || lo > 65535 || hi > 65535 || hi < lo) {
      errors.push(`${at}: ${show(item)} is not a port; allowed: 0-65535, a range "low-high" with low <= high, a list, or "any"`);
      continue;
    }
    out.push(hi === lo ? String(lo) : `${lo}-${hi}`);
  }
  return out.length ? out : undefined;
}

/** A range problem as text, or undefined when the value is inside. */
function outside(v: number, range: { min: number; max: number }, unit: string, allowed: string): string | undefined {
  if (!Number.isFinite(v)) return `is not a finite number; allowed: ${allowed}`;
  if (v < range.min) return `is too small (${v} ${unit}); allowed: ${allowed}`;
  if (v > range.max) return `is too large (${v} ${unit}); allowed: ${allowed}`;
  return undefined;
}

/** One validated pipe's values as numbers (for tools and tests that look at a single pipe). */
export function resolvePipe(pipe: unknown): ResolvedPipe {
  const errors: string[] = [];
  const resolved = resolvePipeAt(isObject(pipe) ? pipe : {}, `${ROOT}.pipe`, errors);
  if (errors.length) throw new Error(errors.join('; '));
  return resolved;
}
