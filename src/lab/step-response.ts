// How soon a schedule's steps hold on the wire (issue 18): a dense probe (paced UDP, arrivals.ts)
// crosses a pipe whose schedule steps its delay and its rate at known offsets of a period, and
// each probe's one-way delay (arrival − send, both on the host's monotonic clock) against its send
// time shows every step:
//   - delay up (5 → 40 ms): a jump; the step is between the last probe with the old delay and the
//     first with the new;
//   - delay down: the delay falls with slope −1 (later probes wait behind the ones ahead); the step
//     is where the falling line meets the level before;
//   - rate down below the probe's rate: the queue starts to grow; the step is where the rising line
//     meets the level before;
//   - rate up: the queue starts to drain; where the rising and the falling lines meet is the probe
//     at the head of the queue at the step, which was sent its wait before it.
// The box's clock and the host's differ by an unknown offset, so the instants are not compared with
// the box's schedule: the schedule's period is exact, and a grid (phase + k × period + the step's
// offset) is fitted over all the transitions found; what is measured is each kind's mean distance
// from that grid (a kind that holds later than the others) and each transition's distance from its
// kind's mean (the spread: how much the moment a step holds varies).
import type { Arrivals } from './arrivals.ts';

export type StepKind = 'delay-up' | 'delay-down' | 'rate-down' | 'rate-up';

export interface StepSpec {
  kind: StepKind;
  /** ms from the start of the period */
  atMs: number;
}

export interface Transition {
  kind: StepKind;
  /** the period it falls in (0: the first the probe saw) */
  period: number;
  /** ms, host monotonic: where the probe shows the step (by the probes' send times) */
  atMs: number;
  /** ms: its distance from the fitted grid (positive: later) */
  residualMs: number;
}

export interface StepFit {
  transitions: Transition[];
  /** ms: the fitted period (the schedule's, by the box's clock as the host sees it) */
  periodMs: number;
  /** per kind: how many were found (of the instants the grid puts inside the probe), their mean distance from the grid, and p50/p99 of |distance − that mean| */
  kinds: Record<string, { found: number; expected: number; meanMs: number; p50Ms: number; p99Ms: number }>;
  /** over all: p50 and p99 of |distance − its kind's mean| (ms): how much the steps' moments vary */
  p50Ms: number;
  p99Ms: number;
}

/** A probe's send time and one-way delay (ms), by send time. */
interface Point {
  s: number;
  d: number;
}

const quantile = (values: number[], q: number) => {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const med = (values: number[]) => quantile(values, 0.5);

/** Least squares line d = a + b·s through the points (undefined with fewer than 3). */
function line(points: Point[]): { a: number; b: number } | undefined {
  if (points.length < 3) return undefined;
  const n = points.length;
  const ms = points.reduce((x, p) => x + p.s, 0) / n;
  const md = points.reduce((x, p) => x + p.d, 0) / n;
  const sxx = points.reduce((x, p) => x + (p.s - ms) ** 2, 0);
  if (sxx === 0) return undefined;
  const b = points.reduce((x, p) => x + (p.s - ms) * (p.d - md), 0) / sxx;
  return { a: md - b * ms, b };
}

/** A line through the points that a few outliers (a stall of the VM: a spike that falls at slope −1) do not move: Theil–Sen, the median of the pairwise slopes. */
function robustLine(points: Point[]): { a: number; b: number } | undefined {
  if (points.length < 3) return undefined;
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) if (points[j]!.s !== points[i]!.s) slopes.push((points[j]!.d - points[i]!.d) / (points[j]!.s - points[i]!.s));
  }
  if (slopes.length === 0) return undefined;
  const b = med(slopes);
  return { a: med(points.map((p) => p.d - b * p.s)), b };
}

/** The probes that arrived, as send time and one-way delay, in order of sending. */
export function delays(a: Arrivals): Point[] {
  return a.received.map(([seq, at]) => ({ s: a.sent[seq]!, d: at - a.sent[seq]! })).sort((x, y) => x.s - y.s);
}

const within = (points: Point[], from: number, to: number) => points.filter((p) => p.s >= from && p.s < to);

/**
 * Finds the schedule's steps in the probe's delays and fits the grid. `steps` must hold one
 * 'delay-up' (the reference: a jump no noise makes); `jumpMs` is its size, `searchMs` how far from
 * where the grid puts a step the others are looked for, `phaseMs` how far from each other in the
 * period the jumps may be (a runner that lags widely needs more).
 */
export function fitSteps(a: Arrivals, steps: StepSpec[], periodMs: number, opts: { jumpMs: number; searchMs?: number; skipMs?: number; phaseMs?: number }): StepFit {
  const search = opts.searchMs ?? 120;
  const points = delays(a).filter((p) => p.s >= a.start + (opts.skipMs ?? 0));
  const up = steps.find((s) => s.kind === 'delay-up');
  if (!up) throw new Error('fitSteps: the schedule needs a delay-up step as the reference');
  // 1. the delay-up jumps: the median of the next 5 delays above the median of the 5 before by more than half the jump
  const jumps: number[] = [];
  for (let i = 5; i + 5 <= points.length; i++) {
    const before = med(points.slice(i - 5, i).map((p) => p.d));
    const after = med(points.slice(i, i + 5).map((p) => p.d));
    // and it lasts: 50 to 150 ms later the delay is still up (a stall of the VM jumps too, then falls)
    const later = med(within(points, points[i]!.s + 50, points[i]!.s + 150).map((p) => p.d));
    if (after - before > opts.jumpMs / 2 && points[i]!.d - points[i - 1]!.d > opts.jumpMs / 2 && later - before > opts.jumpMs / 2) {
      if (jumps.length && points[i]!.s - jumps.at(-1)! < 100) continue;
      jumps.push((points[i - 1]!.s + points[i]!.s) / 2);
    }
  }
  // a long stall of the VM or the host can pass for a jump: the real ones share a phase of the period, the largest such set
  const phase = (t: number) => (((t - jumps[0]!) % periodMs) + periodMs) % periodMs;
  const close = (x: number, y: number) => Math.min(Math.abs(phase(x) - phase(y)), periodMs - Math.abs(phase(x) - phase(y))) < (opts.phaseMs ?? 60);
  const best = jumps.map((t) => jumps.filter((u) => close(t, u))).reduce((m, set) => (set.length > m.length ? set : m), [] as number[]);
  // one a period: the one nearest the set's median phase
  const centre = med(best.map(phase));
  const byPeriod = new Map<number, number>();
  for (const t of best) {
    const n = Math.round((t - best[0]!) / periodMs);
    const had = byPeriod.get(n);
    if (had === undefined || Math.abs(phase(t) - centre) < Math.abs(phase(had) - centre)) byPeriod.set(n, t);
  }
  jumps.splice(0, jumps.length, ...[...byPeriod.values()].sort((x, y) => x - y));
  if (jumps.length < 2) return { transitions: [], periodMs: NaN, kinds: {}, p50Ms: NaN, p99Ms: NaN };
  // 2. the grid from the jumps alone, then every other kind looked for near where it puts them
  const first = jumps[0]!;
  const k = (t: number) => Math.round((t - first) / periodMs);
  const found: { kind: StepKind; period: number; at: number }[] = jumps.map((t) => ({ kind: 'delay-up', period: k(t), at: t }));
  const roughPeriod = jumps.length > 1 ? (jumps.at(-1)! - first) / Math.max(1, k(jumps.at(-1)!)) : periodMs;
  const periods = k(jumps.at(-1)!) + 1;
  for (const step of steps) {
    if (step.kind === 'delay-up') continue;
    for (let n = -1; n <= periods; n++) {
      const predicted = first + n * roughPeriod + (step.atMs - up.atMs);
      const at = locate(points, step.kind, predicted, search);
      if (at !== undefined) found.push({ kind: step.kind, period: n, at });
    }
  }
  // 3. the grid over all of them: at = phase + period·n + offset (least squares in phase and period)
  const offset = (kind: StepKind) => steps.find((s) => s.kind === kind)!.atMs - up.atMs;
  const fit = line(found.map((f) => ({ s: f.period, d: f.at - offset(f.kind) })))!;
  // only the grid's instants that the probe covers with room to look around them count, found or not
  const covered = (kind: StepKind, n: number) => {
    const t = fit.a + fit.b * n + offset(kind);
    return t - search - 60 >= points[0]!.s && t + search <= points.at(-1)!.s;
  };
  const transitions = found.filter((f) => covered(f.kind, f.period)).map((f) => ({ kind: f.kind, period: f.period, atMs: f.at, residualMs: f.at - offset(f.kind) - (fit.a + fit.b * f.period) })).sort((x, y) => x.atMs - y.atMs);
  // the spread is each transition's distance from the grid moved by its kind's mean (a kind that holds later is its mean, not spread)
  const kinds: StepFit['kinds'] = {};
  const spread: number[] = [];
  for (const step of steps) {
    const mine = transitions.filter((t) => t.kind === step.kind);
    const mean = mine.reduce((x, t) => x + t.residualMs, 0) / Math.max(1, mine.length);
    const abs = mine.map((t) => Math.abs(t.residualMs - mean));
    spread.push(...abs);
    // the grid's instants of this kind that the probe covers (with room to look around them)
    let expected = 0;
    for (let n = -1; n <= periods; n++) if (covered(step.kind, n)) expected++;
    kinds[step.kind] = { found: mine.length, expected, meanMs: mean, p50Ms: quantile(abs, 0.5), p99Ms: quantile(abs, 0.99) };
  }
  return { transitions, periodMs: fit.b, kinds, p50Ms: quantile(spread, 0.5), p99Ms: quantile(spread, 0.99) };
}

/** Where one step of `kind` shows near `predicted` (ms), or undefined when the probe does not show it clearly. */
function locate(points: Point[], kind: StepKind, predicted: number, search: number): number | undefined {
  const near = within(points, predicted - search, predicted + search);
  const before = within(points, predicted - search - 60, predicted - search);
  if (near.length < 20 || before.length < 10) return undefined;
  // the level before the step; a rate up comes while the queue grows: its level is the drained one after it
  const level = kind === 'rate-up' ? quantile(near.map((p) => p.d), 0.05) : med(before.map((p) => p.d));
  // how far above or below the level a probe must be to count: 3 ms, or the noise before the step (dummynet's is wider)
  const margin = Math.max(3, quantile(before.map((p) => p.d), 0.9) - quantile(before.map((p) => p.d), 0.1));
  if (kind === 'delay-down') {
    // the falling line: probes a margin or more below the level, down to the new level
    const falling = near.filter((p) => p.d < level - margin);
    const firstBelow = falling[0];
    if (!firstBelow) return undefined;
    const run = falling.filter((p) => p.s < firstBelow.s + 25);
    const l = robustLine(run);
    if (!l || l.b > -0.3) return undefined;
    return (level - l.a) / l.b;
  }
  // a queue that grows (rate down) or grows then drains (rate up): the peak of the delays near the step
  const peakAt = near.reduce((m, p) => (p.d > m.d ? p : m), near[0]!);
  if (peakAt.d < level + margin + 2) return undefined;
  if (kind === 'rate-down') {
    // the rising line: the run of probes a margin or more above the level that ends at the peak (a stall of
    // the VM before it makes a spike of its own, not part of the run)
    const upTo = within(points, predicted - search, peakAt.s + 0.001);
    let from = upTo.length - 1;
    while (from > 0 && upTo[from - 1]!.d > level + margin) from--;
    const rising = upTo.slice(from);
    const l = robustLine(rising);
    if (!l || l.b < 0.05) return undefined;
    // where the line meets the level; a stall just before the step leaves its backlog at the start of
    // the run, which moves that point early: the run's first probe, a margin above the level, bounds it
    return Math.max((level - l.a) / l.b, rising[0]!.s - margin / l.b);
  }
  // rate up: the rising line's last 30 ms and the falling line's first 30 ms, where they meet
  const rising = within(points, peakAt.s - 30, peakAt.s + 0.001);
  const falling = within(points, peakAt.s, peakAt.s + 30).filter((p) => p.d > level + 3);
  const r = robustLine(rising);
  const f = robustLine(falling);
  if (!r || !f || r.b <= 0 || f.b >= 0) return undefined;
  // the kink is the probe at the head of the queue when the rate rose: it was sent its wait earlier
  const kink = (f.a - r.a) / (r.b - f.b);
  return kink + (r.a + r.b * kink - level);
}
