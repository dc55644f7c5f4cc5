import test from 'ava';
import { binomialInterval, binomialPmf, fitsBinomial, mean, median, percentile, stddev, summarize } from '../../src/lab/stats.ts';

/** P(X = k) for Binomial(n, p) from the textbook formula, with exact integer binomial coefficients. */
function directPmf(n: number, k: number, p: number): number {
  let c = 1n;
  for (let i = 0; i < k; i++) c = (c * BigInt(n - i)) / BigInt(i + 1);
  return Number(c) * p ** k * (1 - p) ** (n - k);
}

test('median, mean and percentiles of a known list match hand computation', (t) => {
  const v = [7, 1, 3, 9, 5];
  t.is(median(v), 5);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.is(mean(v), 5);
  t.is(percentile(v, 0), 1);
  t.is(percentile(v, 100), 9);
  t.is(percentile(v, 25), 3);
  t.is(percentile([10, 20], 90), 19); // interpolated between the two ranks
});

test('the standard deviation uses n - 1 and is 0 for one sample', (t) => {
  t.is(stddev([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7));
  t.is(stddev([3]), 0);
});

test('summaries and percentiles refuse empty lists and out-of-range p, naming the problem', (t) => {
  t.throws(() => median([]), { message: /empty list/ });
  t.throws(() => percentile([1], 101), { message: /p = 101 is out of range; allowed: 0 to 100/ });
  t.throws(() => mean([1, Number.NaN]), { message: /NaN/ });
});

test('summarize gives min, median, mean, p99, max and stddev without changing the input', (t) => {
  const v = [3, 1, 2];
  t.deepEqual(summarize(v), { count: 3, min: 1, median: 2, mean: 2, p99: 2.98, max: 3, stddev: 1 });
  t.deepEqual(v, [3, 1, 2]);
});

test('the binomial pmf matches the textbook formula and sums to 1', (t) => {
  const pmf = binomialPmf(30, 0.2);
  for (const k of [0, 1, 6, 15, 30]) t.true(Math.abs(pmf[k]! - directPmf(30, k, 0.2)) < 1e-12, `k = ${k}`);
  t.true(Math.abs(pmf.reduce((a, b) => a + b, 0) - 1) < 1e-12);
});

test('the 99% interval for 1000 trials at p = 0.05 is [33, 69], each tail just under 0.5%', (t) => {
  const [lo, hi] = binomialInterval(1000, 0.05);
  t.deepEqual([lo, hi], [33, 69]);
  // check the edges against a direct CDF sum: moving either edge inwards would exceed the tail
  let below = 0;
  for (let k = 0; k < lo; k++) below += directPmf(1000, k, 0.05);
  let above = 0;
  for (let k = hi + 1; k <= 1000; k++) above += directPmf(1000, k, 0.05);
  t.true(below <= 0.005 && below + directPmf(1000, lo, 0.05) > 0.005, `P(X < ${lo}) = ${below}`);
  t.true(above <= 0.005 && above + directPmf(1000, hi, 0.05) > 0.005, `P(X > ${hi}) = ${above}`);
});

test('a symmetric case gives a symmetric interval, and p = 0 or 1 gives a single count', (t) => {
  t.deepEqual(binomialInterval(20, 0.5, 0.95), [6, 14]);
  t.deepEqual(binomialInterval(100, 0), [0, 0]);
  t.deepEqual(binomialInterval(100, 1), [100, 100]);
});

test('large n is handled without overflow and centres on n·p', (t) => {
  const [lo, hi] = binomialInterval(1_000_000, 0.001);
  t.true(lo < 1000 && hi > 1000 && hi - lo < 200, `[${lo}, ${hi}]`);
});

test('fitsBinomial accepts counts inside the interval and rejects those outside', (t) => {
  t.true(fitsBinomial(50, 1000, 0.05));
  t.true(fitsBinomial(33, 1000, 0.05));
  t.false(fitsBinomial(32, 1000, 0.05));
  t.false(fitsBinomial(70, 1000, 0.05));
});

test('bad binomial arguments are refused with what is allowed', (t) => {
  t.throws(() => binomialInterval(10.5, 0.1), { message: /n = 10.5 is not allowed; allowed: an integer ≥ 0/ });
  t.throws(() => binomialInterval(10, 1.5), { message: /p = 1.5 is not allowed; allowed: 0 to 1/ });
  t.throws(() => binomialInterval(10, 0.1, 1), { message: /confidence = 1 is not allowed/ });
});
