// Links that change over time (issue 18): a pipe's schedule (steps, linear ramps and outages of bw,
// delay, plr and queue, once or repeated) or a recorded trace of its capacity (Mahimahi's format, or
// rate samples), resolved to numbers and checked here like the rest of a profile, and the one
// function every engine's runner asks: what the pipe's values are at time t of its clock.
//
// A Mahimahi trace is one line per millisecond timestamp at which one 1500-byte packet may leave the
// bottleneck; it loops at its last timestamp. A data plane cannot be told "one packet now" every
// millisecond, so the trace is replayed as a rate set once per window (default 20 ms): the window's
// opportunities × one full-size frame (1514 bytes as tc counts it) per window. A window without one
// is an outage in which packets wait, as behind Mahimahi's link.
import { show } from '../common/describe.ts';
import type { QueueSize } from './resolve.ts';
import { parseBandwidth, parseDuration, parseQueue } from './units.ts';

/** The bytes one trace opportunity carries, as tc counts a full-size frame (1500 bytes of IP and the Ethernet header). */
export const TRACE_FRAME = 1514;
/** How often a ramp's values are set on the way (µs). */
export const RAMP_STEP_US = 50_000;
const DEFAULT_WINDOW_US = 20_000;
const WINDOW = { min: 1_000, max: 10_000_000 };
/** Each clock's period, or a run-once schedule's length, at most (µs): a day. */
const LONGEST_US = 86_400e6;
export const TRACE_FORMATS = ['mahimahi', 'rates'] as const;
const CLOCK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/** What a pipe's runner sets at an instant. */
export interface TimedValues {
  /** bit/s; absent: no bottleneck */
  bw?: number;
  /** µs */
  delay: number;
  plr: number;
  queue?: QueueSize;
  /** the link passes nothing: packets wait in the queue, or arrivals are dropped */
  outage?: 'wait' | 'drop';
}

export interface ResolvedStep {
  /** µs from the start of the clock or period */
  at: number;
  bw?: number;
  delay?: number;
  plr?: number;
  queue?: QueueSize;
  ramp: boolean;
  outage?: { for: number; drop: boolean };
}

export interface ResolvedSchedule {
  clock: string;
  /** µs; absent: once */
  every?: number;
  steps: ResolvedStep[];
}

/** A trace's capacity as the windows a runner sets: from `t` (µs) on, `bw` bit/s (0: nothing passes, packets wait). */
export interface TraceWindow {
  t: number;
  bw: number;
}

export interface ResolvedTrace {
  clock: string;
  loop: boolean;
  /** µs */
  window: number;
  /** a file the agent reads (the PICOWIRE partition, /etc/picowire/traces); absent for an inline trace */
  file?: { name: string; format: (typeof TRACE_FORMATS)[number] };
  /** the capacity, window by window (absent until a file trace is read) */
  windows?: TraceWindow[];
  /** µs: where a looping trace starts again, or where a run-once trace's last rate takes over */
  period?: number;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isProbability = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;

/** One quantity through `parse`, an error naming the field when it fails or is out of `range`. */
function value<T>(raw: unknown, at: string, errors: string[], parse: (v: string | number) => T, check: (v: T) => string | undefined): T | undefined {
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  try {
    const v = parse(raw);
    const problem = check(v);
    if (problem) errors.push(`${at}: ${show(raw)} ${problem}`);
    return problem ? undefined : v;
  } catch (e) {
    errors.push(`${at}: ${(e as Error).message}`);
    return undefined;
  }
}

const within = (min: number, max: number, allowed: string) => (v: number) => (Number.isFinite(v) && v >= min && v <= max ? undefined : `is outside ${allowed}`);
const bwCheck = within(8, 100e9, 'from 8 bit/s to 100 Gbit/s');
const delayCheck = within(0, 10e6, 'from 0 to 10 s');
const timeCheck = within(0, LONGEST_US, 'from 0 to 24 h');

/** A pipe's schedule as numbers, or undefined (its errors added) when there is none or it is unusable. */
export function resolveSchedule(raw: unknown, at: string, errors: string[], pipeName: string): ResolvedSchedule | undefined {
  if (!isObject(raw)) return undefined;
  const clock = clockOf(raw.clock, `${at}.clock`, errors, pipeName);
  const every = value(raw.every, `${at}.every`, errors, parseDuration, within(1_000, LONGEST_US, 'from 1ms to 24 h'));
  const steps: ResolvedStep[] = [];
  const rawSteps = Array.isArray(raw.steps) ? raw.steps : [];
  rawSteps.forEach((s, i) => {
    if (!isObject(s)) return;
    const here = `${at}.steps[${i}]`;
    const when = value(s.at, `${here}.at`, errors, parseDuration, timeCheck);
    if (when === undefined) return;
    const step: ResolvedStep = { at: when, ramp: s.ramp === true };
    const bw = value(s.bw, `${here}.bw`, errors, parseBandwidth, bwCheck);
    if (bw !== undefined) step.bw = Math.round(bw);
    const delay = value(s.delay, `${here}.delay`, errors, parseDuration, delayCheck);
    if (delay !== undefined) step.delay = delay;
    if (isProbability(s.plr)) step.plr = s.plr;
    const queue = value(s.queue, `${here}.queue`, errors, parseQueue, (q) =>
      'packets' in q ? within(1, 100_000, 'from 1 to 100000 packets')(q.packets) : within(1514, 1024 ** 3, 'from 1514 bytes to 1GB')(q.bytes),
    );
    if (queue !== undefined) step.queue = queue;
    const outage = value(s.outage, `${here}.outage`, errors, parseDuration, within(1_000, LONGEST_US, 'from 1ms to 24 h'));
    if (outage !== undefined) step.outage = { for: outage, drop: s.drop === true };
    else if (s.drop !== undefined) errors.push(`${here}.drop: only an outage drops: add "outage": "<how long>" or remove "drop"`);
    if (step.ramp && step.bw === undefined && step.delay === undefined && step.plr === undefined) {
      errors.push(`${here}.ramp: a ramp moves bw, delay or plr: give one of them here (a queue changes at once)`);
    }
    if (step.ramp && steps.length === 0 && when === 0) errors.push(`${here}.ramp: the first point at 0 has nothing to ramp from; allowed: a ramp on a later point`);
    const prev = steps.at(-1);
    if (prev && when < prev.at) errors.push(`${here}.at: ${show(s.at)} comes before the previous point (${prev.at / 1000} ms); allowed: points in order of time`);
    if (step.bw === undefined && step.delay === undefined && step.plr === undefined && step.queue === undefined && !step.outage) {
      errors.push(`${here}: a point changes nothing; allowed: one or more of bw, delay, plr, queue, outage`);
    }
    steps.push(step);
  });
  if (steps.length !== rawSteps.length) return undefined;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const ends = s.at + (s.outage?.for ?? 0);
    if (every !== undefined && (s.at >= every || ends > every)) {
      errors.push(`${at}.steps[${i}]: ${s.outage ? 'its outage ends' : 'it comes'} at ${ends / 1000} ms, after the period ("every": ${show(raw.every)}); allowed: points and outages inside the period`);
    }
    const next = steps[i + 1];
    if (s.outage && next && next.outage && next.at < ends) errors.push(`${at}.steps[${i + 1}].outage: it starts inside the outage of steps[${i}]; allowed: outages one after the other`);
  }
  return { clock, ...(every !== undefined && { every }), steps };
}

function clockOf(raw: unknown, at: string, errors: string[], pipeName: string): string {
  if (typeof raw !== 'string') return `pipe:${pipeName}`;
  if (!CLOCK_NAME.test(raw)) errors.push(`${at}: ${show(raw)} is not a clock name; allowed: up to 32 letters, digits, ".", "_" and "-", starting with a letter or digit`);
  return raw;
}

/** A pipe's trace as numbers (an inline one parsed), or undefined (its errors added) when there is none or it is unusable. */
export function resolveTrace(raw: unknown, at: string, errors: string[], pipeName: string): ResolvedTrace | undefined {
  if (!isObject(raw)) return undefined;
  const given = (['mahimahi', 'rates', 'file'] as const).filter((k) => raw[k] !== undefined);
  if (given.length !== 1) {
    errors.push(`${at}: ${given.length === 0 ? 'no trace given' : `${given.join(' and ')} given together`}; allowed: exactly one of "mahimahi" (the trace's text), "rates" (rate samples) or "file" (a file name)`);
    return undefined;
  }
  if (raw.format !== undefined && raw.file === undefined) errors.push(`${at}.format: "format" tells how to read a "file"; an inline trace says its format by its key`);
  const window = value(raw.window, `${at}.window`, errors, parseDuration, within(WINDOW.min, WINDOW.max, 'from 1ms to 10 s')) ?? DEFAULT_WINDOW_US;
  const trace: ResolvedTrace = { clock: clockOf(raw.clock, `${at}.clock`, errors, pipeName), loop: raw.loop !== false, window };
  if (typeof raw.file === 'string') {
    trace.file = { name: raw.file, format: raw.format === 'rates' ? 'rates' : 'mahimahi' };
    return trace;
  }
  const text = raw.mahimahi ?? raw.rates;
  if (typeof text !== 'string') return undefined;
  const parsed = parseTrace(text, raw.mahimahi !== undefined ? 'mahimahi' : 'rates', `${at}.${given[0]}`, trace);
  if ('error' in parsed) {
    errors.push(parsed.error);
    return undefined;
  }
  return { ...trace, ...parsed };
}

/** A trace's text as windows (see the top), or an error naming the line; `at` is the field it came from. */
export function parseTrace(text: string, format: (typeof TRACE_FORMATS)[number], at: string, how: { window: number; loop: boolean }): { windows: TraceWindow[]; period: number } | { error: string } {
  const lines = text.split('\n').map((l) => l.trim());
  if (format === 'mahimahi') {
    const stamps: number[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === '' || line.startsWith('#')) continue;
      if (!/^\d{1,9}$/.test(line)) return { error: `${at}: line ${i + 1} is ${show(line.slice(0, 40))}; allowed: one whole number of milliseconds per line (Mahimahi's format)` };
      const ms = Number(line);
      if (stamps.length && ms < stamps.at(-1)!) return { error: `${at}: line ${i + 1} (${ms} ms) comes before the line above it (${stamps.at(-1)} ms); allowed: timestamps in order` };
      stamps.push(ms);
    }
    const period = (stamps.at(-1) ?? 0) * 1000;
    if (period === 0) return { error: `${at}: the trace ends at 0 ms; allowed: at least one line with a timestamp above 0 (Mahimahi loops at the last one)` };
    if (period > LONGEST_US) return { error: `${at}: the trace lasts ${period / 1e6} s; allowed: at most 24 h` };
    // opportunity at ms t is the one at t mod period when the trace loops (its last line is the next loop's first instant)
    const count = new Map<number, number>();
    for (const ms of stamps) {
      const us = how.loop ? (ms * 1000) % period : ms * 1000;
      const w = Math.floor(us / how.window);
      count.set(w, (count.get(w) ?? 0) + 1);
    }
    const windows: TraceWindow[] = [];
    const n = Math.ceil(period / how.window);
    for (let w = 0; w < n; w++) {
      const t = w * how.window;
      const length = Math.min(how.window, period - t);
      const bw = Math.round(((count.get(w) ?? 0) * TRACE_FRAME * 8 * 1e6) / length);
      if (windows.at(-1)?.bw !== bw) windows.push({ t, bw });
    }
    return { windows, period };
  }
  const samples: TraceWindow[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' || line.startsWith('#')) continue;
    const words = line.split(/[\s,]+/);
    const bad = (why: string) => ({ error: `${at}: line ${i + 1} ${show(line.slice(0, 40))} ${why}; allowed: a time and a rate per line, such as "0ms 4Mbit/s" or "1500 2000000" (ms and bit/s), in order of time` });
    if (words.length !== 2) return bad('is not a time and a rate');
    let t: number, bw: number;
    try {
      t = parseDuration(/^\d+(\.\d+)?$/.test(words[0]!) ? Number(words[0]) : words[0]!);
      bw = Math.round(parseBandwidth(/^\d+(\.\d+)?$/.test(words[1]!) ? Number(words[1]) : words[1]!));
    } catch (e) {
      return bad(`(${(e as Error).message})`);
    }
    if (bw !== 0 && (bw < 8 || bw > 100e9)) return bad('has a rate outside 0 (an outage) or 8 bit/s to 100 Gbit/s');
    if (samples.length && t <= samples.at(-1)!.t) return bad('does not come after the line above it');
    if (t > LONGEST_US) return bad('is beyond 24 h');
    samples.push({ t, bw });
  }
  if (samples.length === 0) return { error: `${at}: no samples; allowed: lines of a time and a rate, such as "0ms 4Mbit/s"` };
  // the first rate holds from 0; the last one as long as the interval before it (a lone sample: for ever)
  samples[0] = { ...samples[0]!, t: 0 };
  const last = samples.at(-1)!.t;
  const period = samples.length > 1 ? last + (last - samples.at(-2)!.t) : Math.max(how.window, 1000);
  return { windows: samples, period };
}

/** The values of a pipe without a schedule's or trace's changes (what the pipe says itself). */
export interface BaseValues {
  bw?: number;
  delay: number;
  plr: number;
  queue?: QueueSize;
}

/** Where a pipe is on its clock: the period's offset, which point or window, and its values. */
export interface Position {
  /** µs into the period (or since the start, when it runs once) */
  offset: number;
  /** the index of the last point or window reached (-1: before the first) */
  index: number;
  /** the values in force */
  values: TimedValues;
  /** µs of the clock at which the values next change; undefined: never again */
  next?: number;
}

/** Where a pipe stands at `t` µs of its clock: its values, and when they next change. Pure: every engine's runner and `picowire status` ask it. */
export function positionAt(base: BaseValues, timed: { schedule?: ResolvedSchedule; trace?: ResolvedTrace }, t: number): Position {
  const s = timed.schedule ? scheduleAt(base, timed.schedule, t) : undefined;
  // a trace gives bw (and its empty windows' outages); a schedule beside it the rest
  const tr = timed.trace?.windows ? traceAt(s?.values ?? base, timed.trace, t) : undefined;
  if (!tr) return s ?? { offset: t, index: -1, values: { ...base } };
  const next = [s?.next, tr.next].filter((n): n is number => n !== undefined);
  return { ...tr, ...(next.length ? { next: Math.min(...next) } : {}) };
}

function traceAt(base: BaseValues, trace: ResolvedTrace, t: number): Position {
  const windows = trace.windows!;
  const period = trace.period!;
  const loops = Math.floor(t / period);
  const ended = !trace.loop && t >= period;
  const offset = ended ? t : t - loops * period;
  const i = ended ? windows.length - 1 : lastAtOrBefore(windows, offset);
  const w = windows[i]!;
  const values: TimedValues = { ...base, bw: w.bw === 0 ? base.bw : w.bw, ...(w.bw === 0 && { outage: 'wait' as const }) };
  if (w.bw === 0 && values.bw === undefined) values.bw = windows.find((x) => x.bw > 0)?.bw;
  let next: number | undefined;
  if (!ended) next = i + 1 < windows.length ? t - offset + windows[i + 1]!.t : trace.loop ? (loops + 1) * period : period;
  return { offset, index: i, values, ...(next !== undefined && { next }) };
}

function lastAtOrBefore(list: { t: number }[], t: number): number {
  let lo = 0, hi = list.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (list[mid]!.t <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function scheduleAt(base: BaseValues, s: ResolvedSchedule, t: number): Position {
  const start = s.every ? Math.floor(t / s.every) * s.every : 0;
  const offset = t - start;
  const v: TimedValues = { ...base };
  let index = -1;
  let prevAt = 0;
  let from: TimedValues = { ...v };
  let next: number | undefined;
  for (let i = 0; i < s.steps.length; i++) {
    const step = s.steps[i]!;
    if (step.at > offset) {
      if (step.ramp) {
        // between the previous point and this one, bw, delay and plr move in a straight line
        const f = (offset - prevAt) / (step.at - prevAt);
        const mix = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? a : a + (b - a) * f);
        if (step.bw !== undefined) v.bw = Math.round(mix(from.bw, step.bw)!);
        if (step.delay !== undefined) v.delay = Math.round(mix(from.delay, step.delay)!);
        if (step.plr !== undefined) v.plr = mix(from.plr, step.plr)!;
        next = Math.min(step.at, offset + RAMP_STEP_US - ((offset - prevAt) % RAMP_STEP_US));
      } else next = step.at;
      break;
    }
    index = i;
    if (step.bw !== undefined) v.bw = step.bw;
    if (step.delay !== undefined) v.delay = step.delay;
    if (step.plr !== undefined) v.plr = step.plr;
    if (step.queue !== undefined) v.queue = step.queue;
    prevAt = step.at;
    from = { ...v };
  }
  // an outage in progress, and its end as the next change if that comes first
  for (const step of s.steps) {
    if (!step.outage) continue;
    const end = step.at + step.outage.for;
    if (step.at <= offset && offset < end) {
      v.outage = step.outage.drop ? 'drop' : 'wait';
      next = next === undefined ? end : Math.min(next, end);
    }
  }
  if (next === undefined && s.every) next = s.every;
  return { offset, index, values: v, ...(next !== undefined && { next: start + next }) };
}

/** The largest delay (µs) a schedule ever sets, for sizing the delay line. */
export function maxScheduledDelay(base: number, s: ResolvedSchedule | undefined): number {
  return Math.max(base, ...(s?.steps ?? []).map((x) => x.delay ?? 0));
}
