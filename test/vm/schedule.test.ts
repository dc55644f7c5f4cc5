// Links that change over time against real traffic (issue 18), in the real image: a schedule's
// steps and an outage in which packets wait (none lost), and a cellular-like trace replayed on the
// wire, delivered window by window as the trace allows. One boot, two pipes on two UDP ports; then,
// in the same boot, a schedule on the dummynet engine (steps of delay and rate seen on the wire, a
// dropping outage, an outage that would hold packets refused).
// Timings are not asserted beyond generous sanity bounds (QEMU TCG on a shared machine): the bench
// (bench/schedule.ts) measures them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesPerWindow, pacedUdp } from '../../src/lab/arrivals.ts';
import { runOnConsole } from '../../src/lab/console.ts';
import { withLab } from '../../src/lab/lab.ts';
import type { Status } from '../../src/agent/status.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { median } from '../../src/lab/stats.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';
import { traceAllowance, align } from '../helpers/trace-fit.ts';
import { fitSteps } from '../../src/lab/step-response.ts';

const PXE = join(IMAGES, 'default-pxe');
const TRACE = readFileSync(new URL('../fixtures/traces/cellular-8s.mahi', import.meta.url), 'utf8');
/** a 1472-byte datagram is a 1514-byte frame: one trace opportunity */
const FULL = 1472;

const profile: Profile = {
  name: 'timed',
  pipes: {
    // 2 Mbit/s, then 1 Mbit/s from 1 s, an outage from 2 to 3 s in which packets wait; every 4 s
    steps: { bw: '2Mbit/s', delay: '5ms', queue: '256KB', schedule: { clock: 'c', every: '4s', steps: [{ at: '1s', bw: '1Mbit/s' }, { at: '2s', outage: '1s' }] } },
    cell: { delay: '5ms', trace: { mahimahi: TRACE, window: '20ms' } },
  },
  rules: [
    { from: 'a', proto: 'udp', dstPort: 6001, pipe: 'steps' },
    { from: 'a', proto: 'udp', dstPort: 6002, pipe: 'cell' },
  ],
};

async function readStatus(vm: Parameters<Parameters<typeof withLab>[3]>[1]): Promise<Status> {
  const out = await runOnConsole(vm, 'dmesg -n 1; picowire status --json', 60_000);
  return JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as Status;
}

testNeeding(['root', 'qemu', 'image'], 'a schedule steps and holds packets through its outages, and a cellular trace is delivered window by window as it allows', async (t) => {
  await withLab(PXE, 'direct', JSON.stringify(profile), async (lab, vm) => {
    const { left, right } = lab;
    const status = await readStatus(vm);
    t.log(`status: ${JSON.stringify(status.schedules)}`);
    const steps = status.schedules?.find((s) => s.pipe === 'steps');
    t.is(steps?.clock, 'c', 'picowire status shows where the pipe is on its clock');
    t.true((status.schedules ?? []).some((s) => s.pipe === 'cell'));

    // 300 kbit/s of 1000-byte datagrams for 9 s: below every rate, so only the outages hold packets
    const a = await pacedUdp(left, right, { port: 6001, rateBps: 300e3, size: 1000, seconds: 9, drainS: 3 });
    const seqs = new Set(a.received.map(([s]) => s));
    const lost = a.sent.length - seqs.size;
    const times = a.received.map(([, at]) => at).sort((x, y) => x - y);
    const gaps = times.slice(1).map((at, i) => at - times[i]!);
    const long = gaps.filter((g) => g > 700);
    t.log(`steps: ${a.sent.length} sent, ${lost} lost; gaps over 0.7 s: ${long.map((g) => g.toFixed(0)).join(', ')} ms`);
    t.is(lost, 0, 'no packet lost: an outage that waits holds them');
    // 9 s of a 4-second period holds two whole outages of 1 s (a third may start at the edges)
    t.true(long.length >= 2 && long.length <= 3, `the outages left gaps in the arrivals (${long.length})`);
    t.true(long.every((g) => g < 1400), `each gap lasts about the 1 s outage (${long.map((g) => g.toFixed(0)).join(', ')} ms)`);

    // a saturating flow through the trace: 8 Mbit/s of full-size datagrams, above the trace's peaks.
    // 10 s, so the 9 s of windows measured hold the 8 s trace's 0.5 s outage whole wherever its clock stands
    const seconds = 10;
    const b = await pacedUdp(left, right, { port: 6002, rateBps: 8e6, size: FULL, seconds, drainS: 2 });
    const windows = 10 * seconds - 10; // the first and last half second left out (start-up, drain)
    const measured = bytesPerWindow(b, b.start + 500, 100, windows);
    const allowance = traceAllowance(TRACE, 100, FULL);
    const fit = align(measured, allowance, 10);
    const allowed = fit.allowed;
    const total = measured.reduce((s, x) => s + x, 0), totalAllowed = allowed.reduce((s, x) => s + x, 0);
    const errors = measured.map((m, i) => Math.abs(m - allowed[i]!) / Math.max(1, allowed[i]!));
    const mean = totalAllowed / windows;
    const absErr = measured.map((m, i) => Math.abs(m - allowed[i]!));
    t.log(`trace: delivered ${(total / totalAllowed * 100).toFixed(1)} % of what the trace allows over ${windows} windows of 100 ms (aligned at ${fit.shiftMs} ms); median |error| per window ${(median(absErr) / mean * 100).toFixed(1)} % of the mean window, ${(median(errors) * 100).toFixed(1)} % of its own`);
    // the bench holds the figure (99.9 % on a quiet host); a host loaded by other VMs starved the sender
    // to 0.839 once, so the floor here only says the trace, not something else, shapes the flow
    t.true(total / totalAllowed > 0.75 && total / totalAllowed < 1.1, `the trace's total (${(total / totalAllowed).toFixed(3)} of it)`);
    t.true(median(absErr) < 0.25 * mean, 'window by window, within a quarter of the mean window at the median');
    // the trace's outage (0.5 s at 5 s): the windows wholly inside it deliver (almost) nothing. The
    // first and last of a run of dark windows may carry what the runner let through late on a loaded host
    const dark = allowed.flatMap((x, i) => (x === 0 ? [i] : []));
    const inner = dark.filter((i) => dark.includes(i - 1) && dark.includes(i + 1));
    const passed = inner.map((i) => measured[i]!);
    t.log(`windows the trace allows nothing: ${dark.length} (${dark.map((i) => measured[i]).join(', ')} bytes); inside the outage: ${passed.join(', ')} bytes`);
    t.true(dark.length >= 4, `the measured windows hold the trace's whole outage (${dark.length} dark windows)`);
    t.true(passed.every((x) => x <= 2 * FULL), `the trace's outage passes nothing (a frame of slack): ${passed.join(', ')} bytes`);

    // a runtime change replaces the schedules whole: the trace's pipe goes, the other's clock starts again
    const changed: Profile = { name: 'timed-2', pipes: { steps: { bw: '2Mbit/s', delay: '5ms', schedule: { clock: 'd', every: '10s', steps: [{ at: '5s', bw: '500Kbit/s' }] } } }, rules: [profile.rules[0]!] };
    const text = JSON.stringify(changed);
    await runOnConsole(vm, `printf '%s' '${text}' > /tmp/changed.json`, 30_000);
    const applied = await runOnConsole(vm, 'picowire apply /tmp/changed.json', 60_000);
    t.regex(applied, /applied profile timed-2/);
    const after = (await readStatus(vm)).schedules ?? [];
    t.log(`after the change: ${JSON.stringify(after)}`);
    t.deepEqual(after.map((p) => [p.pipe, p.clock]), [['steps', 'd']], 'only the new profile\'s schedule runs');
    t.true(after[0]!.offsetS < 5 && after[0]!.bw === 2e6, `its clock started at the change (${after[0]!.offsetS} s in)`);

    // the same boot on the dummynet engine: an outage that would hold packets is refused, naming the field and the engine
    await runOnConsole(vm, `printf '%s' '${JSON.stringify(onDummynet([{ at: '1s', outage: '500ms' }]))}' > /tmp/dn-wait.json`, 30_000);
    const refused = await runOnConsole(vm, 'picowire apply /tmp/dn-wait.json; true', 60_000);
    t.regex(refused, /profile\.pipes\.drops\.schedule\.steps\[0\]\.outage: the dummynet engine cannot hold packets/, refused);
    // steps of delay and rate on one pipe, a dropping outage on another, each under its own probe
    await runOnConsole(vm, `printf '%s' '${JSON.stringify(onDummynet([{ at: '1s', outage: '500ms', drop: true }]))}' > /tmp/dn.json`, 30_000);
    t.regex(await runOnConsole(vm, 'picowire apply /tmp/dn.json', 120_000), /applied profile timed-dummynet/);
    t.deepEqual(((await readStatus(vm)).schedules ?? []).map((p) => p.pipe).sort(), ['drops', 'steps'], 'picowire status shows both pipes on their clock');
    const [stepped, dropped] = await Promise.all([
      pacedUdp(left, right, { port: 6001, rateBps: 100 * 8 * 1000, size: 100, seconds: 8, drainS: 1 }),
      pacedUdp(left, right, { port: 6003, rateBps: 100 * 8 * 200, size: 100, seconds: 8, drainS: 1 }),
    ]);
    const steppedLost = stepped.sent.length - new Set(stepped.received.map(([seq]) => seq)).size;
    // dummynet's steps wander by an ipfw run each (0.15-0.4 s under TCG): jumps are taken from a wide part of the period
    const grid = fitSteps(stepped, [{ kind: 'delay-up', atMs: 500 }, { kind: 'delay-down', atMs: 1000 }, { kind: 'rate-down', atMs: 1300 }, { kind: 'rate-up', atMs: 1600 }], 2000, { jumpMs: 35, skipMs: 300, phaseMs: 250 });
    const dn = (await readStatus(vm)).pipes.filter((p) => p.pipe === 'steps');
    const stepDrops = dn.reduce((x, p) => x + p.overflowDrops + p.randomDrops, 0);
    t.log(`dummynet steps: ${stepped.sent.length} probes, ${steppedLost} lost, ${stepDrops} dropped by the pipe; found ${JSON.stringify(grid.kinds)}; period ${grid.periodMs.toFixed(1)} ms, spread p50 ${grid.p50Ms.toFixed(1)} / p99 ${grid.p99Ms.toFixed(1)} ms`);
    // the pipe's own counters: a probe lost in a loaded VM or host is not the schedule's
    t.true(dn.length > 0 && stepDrops === 0, `steps of bw and delay drop nothing on dummynet (${stepDrops})`);
    t.true(steppedLost < 0.1 * stepped.sent.length, `the probe crossed (${steppedLost} of ${stepped.sent.length} lost)`);
    // 8 s of a 2 s period: the delay steps show, on a grid of the period (generous: a loaded CI host)
    t.true(grid.kinds['delay-up']!.found >= 2, 'the delay steps show on the wire');
    t.true(Math.abs(grid.periodMs - 2000) < 200, `periodic, every 2 s (${grid.periodMs.toFixed(1)} ms)`);
    const droppedLost = dropped.sent.length - new Set(dropped.received.map(([seq]) => seq)).size;
    t.log(`dummynet dropping outage: ${droppedLost} of ${dropped.sent.length} probes lost (a quarter of the time is outage)`);
    // a quarter of the time; a runner late by an ipfw run moves both ends of an outage alike
    t.true(droppedLost > 0.05 * dropped.sent.length && droppedLost < 0.6 * dropped.sent.length, `the outages drop what arrives in them (${droppedLost} of ${dropped.sent.length})`);
  });
});

/** Steps of delay and rate every 2 s (as bench/schedule.ts --steps measures), and an outage `drops` on another pipe, on the dummynet engine. */
function onDummynet(outage: NonNullable<NonNullable<NonNullable<Profile['pipes']>[string]['schedule']>['steps']>): Profile {
  return {
    name: 'timed-dummynet',
    engine: 'dummynet',
    pipes: {
      steps: { bw: '4Mbit/s', delay: '5ms', queue: '256KB', schedule: { every: '2s', steps: [{ at: '500ms', delay: '40ms' }, { at: '1000ms', delay: '5ms' }, { at: '1300ms', bw: '800kbit/s' }, { at: '1600ms', bw: '4Mbit/s' }] } },
      drops: { bw: '4Mbit/s', delay: '5ms', schedule: { every: '2s', steps: outage } },
    },
    rules: [
      { from: 'a', proto: 'udp', dstPort: 6001, pipe: 'steps' },
      { from: 'a', proto: 'udp', dstPort: 6003, pipe: 'drops' },
    ],
  };
}
