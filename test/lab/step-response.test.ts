// The step finder of bench/schedule.ts against a simulated link: a FIFO bottleneck whose rate and
// delay step at known instants of a box clock offset from the host's, probed every millisecond.
import test from 'ava';
import type { Arrivals } from '../../src/lab/arrivals.ts';
import { fitSteps, type StepSpec } from '../../src/lab/step-response.ts';

const PERIOD = 2000;
const STEPS: StepSpec[] = [
  { kind: 'delay-up', atMs: 500 },
  { kind: 'delay-down', atMs: 1000 },
  { kind: 'rate-down', atMs: 1300 },
  { kind: 'rate-up', atMs: 1600 },
];

/** `seconds` of 1000 probes/s of 142-byte frames through the link; each step holds `late(n)` ms after its instant; the box's clock starts at `offset`. */
function simulate(seconds: number, offset: number, late: (i: number) => number, noise: (i: number) => number): Arrivals {
  const changes: { at: number; bw?: number; delay?: number }[] = [];
  let i = 0;
  for (let t = offset; t < offset + seconds * 1000 + PERIOD; t += PERIOD) {
    changes.push({ at: t + 500 + late(i++), delay: 40 }, { at: t + 1000 + late(i++), delay: 5 }, { at: t + 1300 + late(i++), bw: 0.8e6 }, { at: t + 1600 + late(i++), bw: 4e6 });
  }
  const at = (t: number) => {
    let bw = 4e6, delay = 5;
    for (const c of changes) if (c.at <= t) ({ bw = bw, delay = delay } = { bw: c.bw ?? bw, delay: c.delay ?? delay });
    return { bw, delay };
  };
  const sent: number[] = [];
  const received: Arrivals['received'] = [];
  let free = 0, out = 0;
  for (let n = 0; n < seconds * 1000; n++) {
    const s = 1000 + n;
    sent.push(s);
    const start = Math.max(s, free);
    free = start + (142 * 8 * 1000) / at(start).bw;
    out = Math.max(out, free + at(free).delay);
    received.push([n, out + noise(n), 100]);
  }
  return { start: 1000, sent, received };
}

test('steps are found on a link that holds them at once, on a grid, wherever the box clock starts', (t) => {
  const fit = fitSteps(simulate(12, 1234.5, () => 0, () => 0), STEPS, PERIOD, { jumpMs: 35 });
  for (const s of STEPS) t.true(fit.kinds[s.kind]!.found >= 5, `${s.kind}: ${JSON.stringify(fit.kinds[s.kind])}`);
  t.true(Math.abs(fit.periodMs - PERIOD) < 1, `period ${fit.periodMs}`);
  t.true(fit.p99Ms < 2.5, `every transition within 2.5 ms of the grid (p99 ${fit.p99Ms})`);
});

test('a kind of step that holds later shows as its mean distance from the grid, and late steps as the spread', (t) => {
  // the rate changes hold 8 ms after the delay changes; every 7th step 20 ms late
  const late = (i: number) => (i % 4 >= 2 ? 8 : 0) + (i % 7 === 3 ? 20 : 0);
  const fit = fitSteps(simulate(16, 300, late, (n) => (n % 13) / 13), STEPS, PERIOD, { jumpMs: 35 });
  const gap = fit.kinds['rate-down']!.meanMs - fit.kinds['delay-up']!.meanMs;
  t.true(Math.abs(gap - 8) < 2.5, `rate steps hold ${gap.toFixed(1)} ms after the delay steps`);
  t.true(fit.p99Ms > 12, `the late ones are in the spread (p99 ${fit.p99Ms})`);
  t.true(fit.p50Ms < 3, `the median is not (p50 ${fit.p50Ms})`);
});
