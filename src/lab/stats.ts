// Statistics for lab measurements: summaries of RTT samples and the binomial acceptance region
// that tells whether an observed loss count fits a configured loss probability.

/** The values sorted ascending, as a copy; NaN is refused because it would sort anywhere. */
function sorted(values: readonly number[], what: string): number[] {
  if (values.length === 0) throw new RangeError(`${what} of an empty list is undefined: measure at least one sample`);
  if (values.some((v) => Number.isNaN(v))) throw new RangeError(`${what}: the samples contain NaN; allowed: numbers`);
  return [...values].sort((a, b) => a - b);
}

/** The p-th percentile (0–100) with linear interpolation between closest ranks (the usual "type 7"). */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p = ${p} is out of range; allowed: 0 to 100`);
  const s = sorted(values, 'percentile');
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

/** The middle value (mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** The arithmetic mean. */
export function mean(values: readonly number[]): number {
  sorted(values, 'mean');
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** The sample standard deviation (n − 1 in the denominator); 0 for a single sample. */
export function stddev(values: readonly number[]): number {
  const m = mean(values);
  if (values.length === 1) return 0;
  return Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1));
}

export interface Summary {
  count: number;
  min: number;
  median: number;
  mean: number;
  p99: number;
  max: number;
  stddev: number;
}

/** The numbers a report prints for a list of samples. */
export function summarize(values: readonly number[]): Summary {
  const s = sorted(values, 'summarize');
  return { count: s.length, min: s[0]!, median: median(s), mean: mean(s), p99: percentile(s, 99), max: s.at(-1)!, stddev: stddev(s) };
}

/**
 * The probabilities P(X = k), k = 0..n, of X ~ Binomial(n, p). Computed in log space by the ratio
 * P(k+1)/P(k) = (n−k)/(k+1) · p/(1−p), then normalised: no factorials, so n in the millions is fine.
 */
export function binomialPmf(n: number, p: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`binomial: n = ${n} is not allowed; allowed: an integer ≥ 0`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`binomial: p = ${p} is not allowed; allowed: 0 to 1`);
  if (p === 0 || p === 1) return Array.from({ length: n + 1 }, (_, k) => (k === (p === 0 ? 0 : n) ? 1 : 0));
  const logOdds = Math.log(p / (1 - p));
  const logs = new Float64Array(n + 1);
  for (let k = 0; k < n; k++) logs[k + 1] = logs[k]! + Math.log((n - k) / (k + 1)) + logOdds;
  let max = -Infinity;
  for (const l of logs) if (l > max) max = l;
  const weights = Array.from(logs, (l) => Math.exp(l - max));
  const total = weights.reduce((sum, w) => sum + w, 0);
  return weights.map((w) => w / total);
}

/**
 * The equal-tailed acceptance region [lo, hi] for the count X of successes (e.g. lost packets) in
 * n Bernoulli(p) trials: P(X < lo) ≤ (1−c)/2 and P(X > hi) ≤ (1−c)/2, each as tight as possible, so
 * P(lo ≤ X ≤ hi) ≥ c. A measured loss count outside it rejects "the loss probability is p" at level 1−c.
 */
export function binomialInterval(n: number, p: number, confidence = 0.99): [number, number] {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`binomialInterval: confidence = ${confidence} is not allowed; allowed: between 0 and 1 (e.g. 0.99)`);
  const pmf = binomialPmf(n, p);
  const tail = (1 - confidence) / 2;
  let lo = 0;
  for (let below = 0; lo < n && below + pmf[lo]! <= tail; lo++) below += pmf[lo]!;
  let hi = n;
  for (let above = 0; hi > 0 && above + pmf[hi]! <= tail; hi--) above += pmf[hi]!;
  return [lo, hi];
}

/** Whether an observed count of k successes in n trials lies in binomialInterval(n, p, confidence). */
export function fitsBinomial(k: number, n: number, p: number, confidence = 0.99): boolean {
  const [lo, hi] = binomialInterval(n, p, confidence);
  return k >= lo && k <= hi;
}
