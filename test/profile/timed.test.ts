import test from 'ava';
import { readFileSync } from 'node:fs';
import { validateProfile, resolve } from '../../src/profile/validate.ts';
import { parseTrace, positionAt, TRACE_FRAME } from '../../src/profile/timed.ts';
import { cellularTrace } from '../../src/lab/cellular-trace.ts';

const profile = (pipe: object) => ({ name: 'timed', pipes: { p: pipe }, rules: [{ from: 'a', pipe: 'p' }] });
const errorsOf = (pipe: object): string[] => {
  const r = validateProfile(profile(pipe));
  if (r.ok) throw new Error('expected the profile to be rejected');
  return r.errors;
};
const timedOf = (pipe: object) => {
  const r = validateProfile(profile(pipe));
  if (!r.ok) throw new Error(r.errors.join('; '));
  return resolve(r.value).pipes.p!;
};
const at = (pipe: object, ms: number) => {
  const p = timedOf(pipe);
  return positionAt({ bw: p.bw, delay: p.delay, plr: p.plr, queue: p.queue }, p, ms * 1000);
};

const outageEvery30s = { bw: '10Mbit/s', delay: '20ms', schedule: { every: '30s', steps: [{ at: '28s', outage: '2s' }] } };

test('a 2-second outage every 30 s: the link is up before it, down during it, up again in the next period', (t) => {
  t.is(at(outageEvery30s, 27_999).values.outage, undefined);
  t.is(at(outageEvery30s, 28_000).values.outage, 'wait');
  t.is(at(outageEvery30s, 29_999).values.outage, 'wait');
  t.is(at(outageEvery30s, 30_000).values.outage, undefined);
  t.is(at(outageEvery30s, 58_500).values.outage, 'wait');
  // the next change is the outage's start, then its end
  t.is(at(outageEvery30s, 1000).next, 28_000_000);
  t.is(at(outageEvery30s, 28_500).next, 30_000_000);
  t.is(at(outageEvery30s, 28_500).values.bw, 10e6);
});

test('steps hold their values from their offset; a ramp moves linearly from the previous point', (t) => {
  const pipe = { bw: '10Mbit/s', delay: '10ms', schedule: { steps: [{ at: '1s', bw: '2Mbit/s', delay: '50ms' }, { at: '3s', bw: '6Mbit/s', ramp: true }, { at: '4s', plr: 0.1 }] } };
  t.is(at(pipe, 500).values.bw, 10e6);
  t.is(at(pipe, 1000).values.bw, 2e6);
  t.is(at(pipe, 1000).values.delay, 50_000);
  t.is(at(pipe, 2000).values.bw, 4e6, 'half way up the ramp');
  t.is(at(pipe, 3000).values.bw, 6e6);
  t.is(at(pipe, 5000).values.plr, 0.1);
  t.is(at(pipe, 5000).next, undefined, 'run once: nothing changes after the last point');
  // on a ramp the next change comes within RAMP_STEP_US (50 ms)
  t.is(at(pipe, 2010).next, 2_050_000);
});

test('an outage that drops says so; one that waits is the default', (t) => {
  const pipe = { bw: '1Mbit/s', schedule: { steps: [{ at: '1s', outage: '500ms', drop: true }] } };
  t.is(at(pipe, 1200).values.outage, 'drop');
});

test('a bad schedule is refused with every error naming its field, the value and what is allowed', (t) => {
  const errors = errorsOf({
    delay: '5ms',
    schedule: {
      clock: 'bad clock',
      every: '2s',
      steps: [{ at: '1s', bw: '1Mbit/s' }, { at: '500ms', delay: '2 parsecs' }, { at: '1.5s', outage: '1s' }, { at: 0, ramp: true, plr: 0.1 }, { at: '1.8s' }],
    },
  });
  const has = (s: string) => t.true(errors.some((e) => e.includes(s)), `${s} in ${errors.join('\n')}`);
  has('profile.pipes.p.schedule.clock: "bad clock" is not a clock name; allowed:');
  has('profile.pipes.p.schedule.steps[1].at: "500ms" comes before the previous point');
  has('profile.pipes.p.schedule.steps[1].delay: "2 parsecs": unknown duration unit');
  has('profile.pipes.p.schedule.steps[2]: its outage ends at 2500 ms, after the period');
  has('profile.pipes.p.schedule.steps[4]: a point changes nothing; allowed: one or more of bw, delay, plr, queue, outage');
  has('profile.pipes.p.schedule.steps[0].bw: the pipe has no bottleneck to change: add "bw" to the pipe');
});

test('a trace goes in place of bw, and not with a scheduler or a mask', (t) => {
  const errors = errorsOf({ bw: '1Mbit/s', mask: { srcIp: '/24' }, trace: { mahimahi: '1\n2\n' } });
  t.true(errors.some((e) => e.startsWith('profile.pipes.p.bw: a trace gives the pipe\'s bandwidth')), errors.join('\n'));
  t.true(errors.some((e) => e.startsWith('profile.pipes.p.mask: a pipe with a trace takes no mask yet')), errors.join('\n'));
  const two = errorsOf({ trace: { mahimahi: '1\n', file: 'x.txt' } });
  t.true(two.some((e) => e.includes('mahimahi and file given together; allowed: exactly one of')), two.join('\n'));
});

test('a Mahimahi trace with a bad line is refused naming the line', (t) => {
  const errors = errorsOf({ trace: { mahimahi: '1\n2\nthree\n' } });
  t.true(errors.some((e) => e.startsWith('profile.pipes.p.trace.mahimahi: line 3 is "three"; allowed: one whole number of milliseconds per line')), errors.join('\n'));
  const back = errorsOf({ trace: { mahimahi: '5\n3\n' } });
  t.true(back.some((e) => e.includes('line 2 (3 ms) comes before the line above it')), back.join('\n'));
});

test('a Mahimahi trace becomes one rate per window: its opportunities × one full-size frame', (t) => {
  // 10 opportunities in the first 20 ms, none in the second, then 5 in the third; it loops at 60 ms
  const text = [...Array.from({ length: 10 }, (_, i) => i + 1), ...[41, 45, 49, 50, 55], 60].join('\n');
  const r = parseTrace(text, 'mahimahi', 'x', { window: 20_000, loop: true });
  if ('error' in r) throw new Error(r.error);
  t.is(r.period, 60_000);
  // 60 is 0 of the next loop: it joins the first window
  t.deepEqual(r.windows, [
    { t: 0, bw: Math.round((11 * TRACE_FRAME * 8) / 0.02) },
    { t: 20_000, bw: 0 },
    { t: 40_000, bw: Math.round((5 * TRACE_FRAME * 8) / 0.02) },
  ]);
});

test('an empty trace window is an outage in which packets wait; the trace loops', (t) => {
  const pipe = { trace: { mahimahi: '1\n2\n3\n40\n60\n', window: '20ms' } };
  t.is(at(pipe, 25).values.outage, 'wait');
  t.is(at(pipe, 85).values.outage, 'wait', 'the second loop, 25 ms in');
  t.is(at(pipe, 5).values.outage, undefined);
  t.true(at(pipe, 5).values.bw! > 0);
});

test('rate samples: each rate holds until the next; the last one as long as the interval before it', (t) => {
  const r = parseTrace('0 4000000\n1s 2Mbit/s\n2500 0\n', 'rates', 'x', { window: 20_000, loop: true });
  if ('error' in r) throw new Error(r.error);
  t.deepEqual(r.windows, [{ t: 0, bw: 4e6 }, { t: 1e6, bw: 2e6 }, { t: 2.5e6, bw: 0 }]);
  t.is(r.period, 4e6);
  const bad = parseTrace('0 4Mbit/s\nlater 2Mbit/s\n', 'rates', 'profile.pipes.p.trace.rates', { window: 20_000, loop: true });
  t.true('error' in bad && bad.error.startsWith('profile.pipes.p.trace.rates: line 2 "later 2Mbit/s" (') && bad.error.includes('allowed: a time and a rate per line'));
});

test('the generated cellular fixture is a valid trace whose mean is near the generator\'s', (t) => {
  const text = readFileSync(new URL('../fixtures/traces/cellular-8s.mahi', import.meta.url), 'utf8');
  t.is(text, cellularTrace({ seconds: 8, meanBps: 3e6, seed: 7, outages: [[5, 0.5]] }), 'the fixture is what the generator writes');
  const r = parseTrace(text, 'mahimahi', 'x', { window: 100_000, loop: true });
  if ('error' in r) throw new Error(r.error);
  t.is(r.period, 8e6);
  t.true(r.windows.some((w) => w.bw === 0), 'it has an outage');
});

test('the profiles of docs/schedules.md\'s worked examples are accepted', (t) => {
  const doc = readFileSync(new URL('../../docs/schedules.md', import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('"name"'));
  t.is(blocks.length, 2);
  for (const block of blocks) {
    const r = validateProfile(JSON.parse(block));
    t.true(r.ok, r.ok ? '' : r.errors.join('\n'));
  }
});

test('a pipe that changes over time takes no scheduler and no aqm yet: refused naming the field, not applied without them', (t) => {
  t.regex(errorsOf({ ...outageEvery30s, scheduler: 'qfq' }).join('\n'), /profile\.pipes\.p\.schedule: a pipe that changes over time takes no scheduler, queues or aqm yet/);
  t.regex(errorsOf({ ...outageEvery30s, aqm: { type: 'codel' } }).join('\n'), /profile\.pipes\.p\.schedule: .*takes no scheduler, queues or aqm yet; allowed: a plain pipe/);
});
