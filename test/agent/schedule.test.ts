import test from 'ava';
import { plan } from '../../src/agent/plan.ts';
import { formatStatus } from '../../src/agent/status.ts';
import { ScheduleRunner, type Prepared } from '../../src/agent/schedule/runner.ts';
import { changeLines, pipePorts } from '../../src/agent/schedule/tc.ts';
import { TcStream } from '../../src/agent/schedule/tc-stream.ts';
import { configLine, dummynetEngine } from '../../src/agent/schedule/dummynet.ts';
import type { PipeChange } from '../../src/agent/schedule/engine.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { resolve } from '../../src/profile/validate.ts';

const outage: Profile = {
  name: 'outage',
  pipes: {
    up: { bw: '2Mbit/s', delay: '10ms', schedule: { clock: 'train', every: '300ms', steps: [{ at: '100ms', outage: '100ms' }] } },
    down: { bw: '8Mbit/s', delay: '10ms', schedule: { clock: 'train', every: '300ms', steps: [{ at: '100ms', bw: '4Mbit/s' }] } },
  },
  rules: [
    { from: 'a', pipe: 'up' },
    { from: 'b', pipe: 'down' },
  ],
};

test('a timed pipe is an HTB class at its rate over the delay line over a plug, released, made in place', (t) => {
  const p = plan(outage, { qdiscs: [] });
  t.deepEqual(
    p.tc.filter((l) => l.includes(' b ') || l.includes('dev b ')),
    [
      'qdisc replace dev b root handle 1: htb default ffff',
      'class replace dev b parent 1: classid 1:ffff htb rate 100gbit burst 64k cburst 64k quantum 1514',
      'qdisc replace dev b parent 1:ffff handle 2: pfifo limit 1000',
      'class replace dev b parent 1: classid 1:10 htb rate 2000000bit ceil 2000000bit burst 1514 cburst 1514 quantum 1514',
      'qdisc replace dev b parent 1:10 handle 10: netem delay 10000us rate 100gbit limit 8257',
      'qdisc replace dev b parent 10:1 handle 4000: plug limit 65536',
      'qdisc change dev b parent 10:1 handle 4000: plug release_indefinite',
    ],
  );
});

test('each change is made in place: an outage blocks the plug first and releases it last; a rate is a class change', (t) => {
  const profile = resolve(outage);
  const ports = pipePorts(profile);
  const up = { bw: 2e6, delay: 10_000, plr: 0 };
  t.deepEqual(changeLines(profile, ports, { pipe: 'up', values: { ...up, outage: 'wait' }, was: up }), ['qdisc change dev b parent 10:1 handle 4000: plug block']);
  t.deepEqual(changeLines(profile, ports, { pipe: 'up', values: { ...up, bw: 1e6 }, was: { ...up, outage: 'wait' } }), [
    'class change dev b parent 1: classid 1:10 htb rate 1000000bit ceil 1000000bit burst 1514 cburst 1514 quantum 1514',
    'qdisc change dev b parent 10:1 handle 4000: plug release_indefinite',
  ]);
  // a dropping outage: the delay line loses every arrival, the queue waits
  t.deepEqual(changeLines(profile, ports, { pipe: 'up', values: { ...up, outage: 'drop' }, was: up }), [
    'qdisc change dev b parent 10:1 handle 4000: plug block',
    'qdisc change dev b parent 1:10 handle 10: netem delay 10000us loss random 100% rate 100gbit limit 8257',
  ]);
  t.false(changeLines(profile, ports, { pipe: 'down', values: { bw: 4e6, delay: 10_000, plr: 0 }, was: { bw: 8e6, delay: 10_000, plr: 0 } }).some((l) => / (del|add) /.test(l)), 'nothing deleted or added');
});

/** A clock the test moves by hand, and the runner's timers on it. */
function fakeRunner(profile: Profile) {
  let now = 0;
  const sets: { t: number; changes: PipeChange[] }[] = [];
  const runner = new ScheduleRunner({ root: '/nonexistent', run: async () => ({ code: 0, stdout: '', stderr: '' }) }, () => ({ set: async (changes) => void sets.push({ t: now, changes }) }), () => undefined, () => now);
  const prepared: Prepared = { profile: resolve(profile) };
  return { runner, prepared, sets, advance: (us: number) => (now += us) };
}

test('the runner sets every timed pipe at the start, then each pipe only when its values change, on one shared clock', async (t) => {
  const { runner, prepared, sets, advance } = fakeRunner(outage);
  runner.start(prepared);
  await new Promise((r) => setTimeout(r, 20));
  t.is(sets.length, 1);
  t.deepEqual(sets[0]!.changes.map((c) => [c.pipe, c.was]), [['up', undefined], ['down', undefined]], 'the first set is whole');
  advance(100_000);
  await new Promise((r) => setTimeout(r, 120));
  const second = sets[1]!;
  t.deepEqual(second.changes.map((c) => c.pipe), ['up', 'down'], 'both pipes of clock "train" change at 100 ms, in one batch');
  t.is(second.changes[0]!.values.outage, 'wait');
  t.is(second.changes[1]!.values.bw, 4e6);
  const position = runner.positions().find((p) => p.pipe === 'up')!;
  t.is(position.clock, 'train');
  t.is(position.outage, 'wait');
  await runner.stop();
  const after = sets.length;
  advance(1_000_000);
  await new Promise((r) => setTimeout(r, 50));
  t.is(sets.length, after, 'a stopped runner changes nothing');
});

test('a change that leaves a clock\'s pipes as they were keeps that clock where it was; a changed one starts again', async (t) => {
  const { runner, prepared, advance } = fakeRunner(outage);
  runner.start(prepared);
  advance(150_000);
  await runner.stop();
  runner.start({ profile: resolve({ ...outage, name: 'renamed' }) });
  t.is(Math.round(runner.positions()[0]!.offsetS * 1000), 150, 'same pipes: the train goes on');
  await runner.stop();
  const changed = structuredClone(outage);
  changed.pipes.up!.delay = '20ms';
  runner.start({ profile: resolve(changed) });
  t.is(runner.positions()[0]!.offsetS, 0, 'a changed pipe on the clock: it starts again');
  await runner.stop();
});

test('picowire status prints where each timed pipe is and how late the changes were', (t) => {
  const text = formatStatus({
    profile: 'outage',
    pipes: [],
    rules: [],
    schedules: [{ pipe: 'up', clock: 'train', offsetS: 0.15, index: 0, bw: 2e6, delayMs: 10, plr: 0, outage: 'wait', nextS: 0.05 }],
    scheduleLateness: { batches: 12, p50Ms: 2.5, p99Ms: 9, maxMs: 11 },
  });
  t.regex(text, /up \(train\)\s+0\.150\s+0 outage \(wait\)\s+10ms\s+0\s+0\.050/);
  t.regex(text, /changes sent after their instant: median 2\.5 ms, p99 9 ms \(last 12\)/);
});

test('the runner\'s tc stream runs lines without waiting, and reports a line tc refused at the next send', async (t) => {
  const stream = new TcStream(['tc']);
  t.is(stream.send('class change dev pwnosuchdev parent 1: classid 1:10 htb rate 1mbit\n'), undefined);
  await new Promise((r) => setTimeout(r, 500));
  const complaint = stream.send('\n');
  stream.close();
  t.truthy(complaint, 'tc refused the line: the next send says so');
  t.regex(complaint!, /^tc: .*pwnosuchdev.* \(line 1 of the schedule's tc stream\)$/);
});

// ---- the dummynet engine's side (src/agent/schedule/dummynet.ts) -------------------------------

const onDummynet: Profile = {
  name: 'dn-steps',
  engine: 'dummynet',
  pipes: { p: { bw: '4Mbit/s', delay: '5ms', schedule: { every: '2s', steps: [{ at: '500ms', delay: '40ms' }, { at: '1s', bw: '800kbit/s', delay: '5ms' }, { at: '1500ms', outage: '200ms', drop: true }] } } },
  rules: [{ from: 'a', pipe: 'p' }],
};

test('dummynet: each instant is the pipe\'s whole config line with its values, the queue held at the pipe\'s own size', (t) => {
  const profile = resolve(onDummynet);
  const base = { bw: 4e6, delay: 5000, plr: 0 };
  t.is(configLine(profile, 'p', 7, base), 'pipe 7 config bw 4000000 delay 5 queue 43');
  // a longer delay would size the planner's queue at bw × delay: here it stays 43 (a new size rebuilds dummynet's queues)
  t.is(configLine(profile, 'p', 7, { ...base, delay: 40_000 }), 'pipe 7 config bw 4000000 delay 40 queue 43');
  t.is(configLine(profile, 'p', 7, { ...base, bw: 8e5 }), 'pipe 7 config bw 800000 delay 5 queue 43');
  // a ramp's point between whole ms is rounded; an outage that drops is plr 1
  t.is(configLine(profile, 'p', 7, { ...base, delay: 12_600 }), 'pipe 7 config bw 4000000 delay 13 queue 43');
  t.is(configLine(profile, 'p', 7, { ...base, outage: 'drop' }), 'pipe 7 config bw 4000000 delay 5 plr 1 queue 43');
  t.is(configLine(profile, 'p', 7, { ...base, queue: { bytes: 100_000 } }), 'pipe 7 config bw 4000000 delay 5 queue 100000B');
});

test('dummynet: without a plan in force the engine says which pipe it could not set, and runs nothing', async (t) => {
  const ran: string[][] = [];
  const engine = dummynetEngine(resolve(onDummynet), { root: '/nonexistent-root', run: async (cmd, args) => (ran.push([cmd, ...args]), { code: 0, stdout: '', stderr: '' }) });
  t.is(await engine.set([{ pipe: 'p', values: { bw: 4e6, delay: 5000, plr: 0 } }]), 'dummynet: pipe "p" has no number (no plan in force)');
  t.deepEqual(ran, []);
});
