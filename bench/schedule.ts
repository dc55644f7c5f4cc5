// `make bench`, links that change over time (issue 18): in one boot of the PXE image, a synthetic
// cellular trace (test/fixtures/traces/cellular-8s.mahi, made by src/lab/cellular-trace.ts)
// replayed by the agent's runner, against the same trace replayed the way a tc-script user would: a
// shell loop on the appliance running `tc qdisc change ... netem rate R` every window. Figures:
// bytes delivered per 100 ms window against what the trace allows (a saturating UDP flow), TCP
// goodput against the trace's mean, how late the runner's changes were in force after their
// instants, and the appliance's CPU for each replay (no traffic). Then how soon a schedule's steps
// hold on the wire, on each engine (stepResponse below). Written to bench/schedule-results.json and
// as tables into README.md.
//   npx tsx bench/schedule.ts            everything, one boot (about 4 minutes)
//   npx tsx bench/schedule.ts --steps    the step response alone, its own boot (about 2 minutes)
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { bytesPerWindow, pacedUdp } from '../src/lab/arrivals.ts';
import { fitSteps, type StepFit, type StepSpec } from '../src/lab/step-response.ts';
import { runOnConsole } from '../src/lab/console.ts';
import { withLab } from '../src/lab/lab.ts';
import { tcpFlow } from '../src/lab/measure.ts';
import { median, percentile } from '../src/lab/stats.ts';
import type { Vm } from '../src/lab/qemu.ts';
import { parseTrace } from '../src/profile/timed.ts';
import { align, traceAllowance } from '../test/helpers/trace-fit.ts';
import { applyProfile, pipeDrops, readStatus, round, type Profile } from './fidelity/common.ts';
import { writeReadmeBlock } from './readme.ts';

const REPO = resolve(import.meta.dirname, '..');
const TRACE = readFileSync(join(REPO, 'test/fixtures/traces/cellular-8s.mahi'), 'utf8');
const WINDOW_MS = 20;
const FULL = 1472; // a 1514-byte frame: one trace opportunity
const SECONDS = 16; // two loops of the trace

const profile: Profile = {
  name: 'bench-trace',
  pipes: {
    cell: { delay: '5ms', trace: { mahimahi: TRACE, window: `${WINDOW_MS}ms` } },
    // the tc-script user's pipe: a plain netem rate the shell loop changes (class 1:11, netem 11:)
    script: { bw: '3Mbit/s', delay: '5ms' },
  },
  rules: [
    { from: 'a', proto: 'udp', dstPort: 6002, pipe: 'cell' },
    { from: 'a', proto: 'tcp', dstPort: 6004, pipe: 'cell' },
    { from: 'a', proto: 'udp', dstPort: 6003, pipe: 'script' },
  ],
};
/** the same trace in 100 ms windows: what the runner's CPU is per change */
const coarse: Profile = { ...profile, name: 'bench-trace-100ms', pipes: { ...profile.pipes, cell: { delay: '5ms', trace: { mahimahi: TRACE, window: '100ms' } } } };
/** no timed pipe, the same layout (the script's pipe stays class 1:11): the runner is idle */
const still: Profile = { ...profile, name: 'bench-still', pipes: { cell: { bw: '3Mbit/s', delay: '5ms' }, script: { bw: '3Mbit/s', delay: '5ms' } } };

/** The guest's CPU busy share over `seconds`, from /proc/stat (all CPUs). */
async function cpuBusy(vm: Vm, seconds: number): Promise<number> {
  const out = await runOnConsole(vm, `head -1 /proc/stat; sleep ${seconds}; head -1 /proc/stat`, (seconds + 60) * 1000);
  const [a, b] = out.split('\n').filter((l) => l.startsWith('cpu ')).map((l) => l.trim().split(/\s+/).slice(1).map(Number));
  const idle = (v: number[]) => v[3]! + v[4]!;
  const total = (v: number[]) => v.reduce((s, x) => s + x, 0);
  return (total(b!) - total(a!) - (idle(b!) - idle(a!))) / (total(b!) - total(a!));
}

/** The tc-script replay: the trace's windows as netem rates in a file, and a shell loop that sets one per window. */
export async function startScript(vm: Vm): Promise<void> {
  const parsed = parseTrace(TRACE, 'mahimahi', 'trace', { window: WINDOW_MS * 1000, loop: true });
  if ('error' in parsed) throw new Error(parsed.error);
  // one rate per window, as the user's script would read it (an empty window: drop everything)
  const rates: string[] = [];
  for (let i = 0; i < parsed.period / 1000 / WINDOW_MS; i++) {
    const t = i * WINDOW_MS * 1000;
    const w = [...parsed.windows].reverse().find((x) => x.t <= t)!;
    rates.push(w.bw === 0 ? 'loss' : String(w.bw));
  }
  await runOnConsole(vm, ': > /tmp/rates', 10_000);
  for (let i = 0; i < rates.length; i += 40) await runOnConsole(vm, `printf '%s\\n' ${rates.slice(i, i + 40).join(' ')} >> /tmp/rates`, 30_000);
  const loop = [
    'last=3000000;',
    'while :; do while read r; do',
    'if [ "$r" = loss ]; then /sbin/tc qdisc change dev b parent 1:11 handle 11: netem rate ${last}bit loss 100% limit 43;',
    'else last=$r; /sbin/tc qdisc change dev b parent 1:11 handle 11: netem rate ${r}bit limit 43; fi;',
    `usleep ${WINDOW_MS * 1000}; done < /tmp/rates; done`,
  ].join(' ');
  await runOnConsole(vm, `printf '%s\\n' '${loop}' > /tmp/loop.sh; sh /tmp/loop.sh > /dev/null 2>&1 & echo $! > /tmp/loop.pid`, 30_000);
}

/** Delivery of a saturating UDP flow on `port` against the trace, window by window (100 ms). */
async function fidelity(lab: { left: Parameters<typeof pacedUdp>[0]; right: Parameters<typeof pacedUdp>[1] }, port: number) {
  const flow = await pacedUdp(lab.left, lab.right, { port, rateBps: 8e6, size: FULL, seconds: SECONDS, drainS: 2 });
  const windows = 10 * SECONDS - 10;
  const measured = bytesPerWindow(flow, flow.start + 500, 100, windows);
  const fit = align(measured, traceAllowance(TRACE, 100, FULL), 10);
  const total = measured.reduce((s, x) => s + x, 0);
  const allowed = fit.allowed.reduce((s, x) => s + x, 0);
  const mean = allowed / windows;
  const err = measured.map((m, i) => Math.abs(m - fit.allowed[i]!) / mean);
  const dark = fit.allowed.map((a, i) => (a === 0 ? measured[i]! : -1)).filter((x) => x >= 0);
  return {
    deliveredOfAllowed: round(total / allowed, 3),
    windowErrorP50: round(median(err), 3),
    windowErrorP90: round(percentile(err, 90), 3),
    within10: round(err.filter((e) => e <= 0.1).length / err.length, 3),
    outageWindows: dark.length,
    outageBytes: dark.reduce((s, x) => s + x, 0),
  };
}

// ---- how soon a step holds on the wire --------------------------------------------------------

const STEP_PERIOD_MS = 2000;
/** the steps of each period: delay 5 → 40 → 5 ms, then the rate 4 Mbit/s → 800 kbit/s → 4 Mbit/s */
const STEPS: StepSpec[] = [
  { kind: 'delay-up', atMs: 500 },
  { kind: 'delay-down', atMs: 1000 },
  { kind: 'rate-down', atMs: 1300 },
  { kind: 'rate-up', atMs: 1600 },
];
const LOW_BPS = 800e3;
const HIGH_BPS = 4e6;
/** the probe: 1000 datagrams/s of 100 bytes (142-byte frames, 1.14 Mbit/s: between the two rates) */
const PROBE = { rateBps: 100 * 8 * 1000, size: 100 };
const STEP_SECONDS = 24;
/** the issue's target: within 10 ms plus one packet's time (a full-size frame at the rate after the step) */
const targetMs = (kind: StepSpec['kind']) => 10 + (1514 * 8 * 1000) / (kind === 'rate-down' ? LOW_BPS : HIGH_BPS);

const stepsProfile = (engine: 'tc' | 'dummynet'): Profile & { engine: string } => ({
  name: `bench-steps-${engine}`,
  engine,
  pipes: {
    steps: {
      bw: '4Mbit/s',
      delay: '5ms',
      queue: '256KB',
      schedule: { every: `${STEP_PERIOD_MS}ms`, steps: [{ at: '500ms', delay: '40ms' }, { at: '1000ms', delay: '5ms' }, { at: '1300ms', bw: '800kbit/s' }, { at: '1600ms', bw: '4Mbit/s' }] },
    },
  },
  rules: [{ from: 'a', proto: 'udp', dstPort: 6005, pipe: 'steps' }],
});

/** The step response on one engine: the probe through the schedule, the grid fitted, the runner's own lateness beside it. */
async function stepResponse(lab: { left: Parameters<typeof pacedUdp>[0]; right: Parameters<typeof pacedUdp>[1] }, vm: Vm, engine: 'tc' | 'dummynet') {
  await applyProfile(vm, stepsProfile(engine));
  await new Promise((r) => setTimeout(r, 1000));
  const probe = await pacedUdp(lab.left, lab.right, { port: 6005, ...PROBE, seconds: STEP_SECONDS, drainS: 1 });
  const lateness = (await readStatus(vm)).scheduleLateness;
  // where lost probes went: the pipe's own counters (overflow, random); the rest were lost outside it
  const drops = await pipeDrops(vm, 'steps');
  if (process.env.PICOWIRE_STEPS_DUMP) await writeFile(join(process.env.PICOWIRE_STEPS_DUMP, `steps-${engine}.json`), JSON.stringify(probe));
  // dummynet's steps wander by hundreds of ms (an ipfw run each): its jumps are taken from a wider part of the period
  const fit: StepFit = fitSteps(probe, STEPS, STEP_PERIOD_MS, { jumpMs: 35, skipMs: 300, phaseMs: engine === 'dummynet' ? 250 : 60 });
  const lost = probe.sent.length - new Set(probe.received.map(([seq]) => seq)).size;
  const ref = fit.kinds['delay-up']?.meanMs ?? 0;
  // inferred: the reference kind holds when the runner is done with it (its median lateness, by the box's clock); each kind
  // holds its mean later than the reference; at p99 add the kind's spread on the wire
  const kinds = Object.fromEntries(
    STEPS.map(({ kind }) => {
      const k = fit.kinds[kind]!;
      const relative = k.meanMs - ref;
      const p50 = (lateness?.p50Ms ?? NaN) + relative;
      const p99 = (lateness?.p50Ms ?? NaN) + relative + k.p99Ms;
      return [kind, { found: k.found, expected: k.expected, laterThanDelayUpMs: round(relative, 1), spreadP50Ms: round(k.p50Ms, 1), spreadP99Ms: round(k.p99Ms, 1), holdsP50Ms: round(p50, 1), holdsP99Ms: round(p99, 1), targetMs: round(targetMs(kind), 1), met: p99 <= targetMs(kind) }];
    }),
  );
  return { engine, probes: probe.sent.length, lost, pipeDrops: { overflow: drops.overflow, random: drops.random }, periodMs: round(fit.periodMs, 2), spreadP50Ms: round(fit.p50Ms, 1), spreadP99Ms: round(fit.p99Ms, 1), lateness, kinds };
}

type StepResult = Awaited<ReturnType<typeof stepResponse>>;

function stepLines(date: string, machine: string, load: { start: number; end: number }, results: StepResult[]): string[] {
  const names: Record<string, string> = { 'delay-up': 'delay 5 → 40 ms', 'delay-down': 'delay 40 → 5 ms', 'rate-down': 'rate 4 Mbit/s → 800 kbit/s', 'rate-up': 'rate 800 kbit/s → 4 Mbit/s' };
  const rows = results.flatMap((r) =>
    STEPS.map(({ kind }) => {
      const k = r.kinds[kind]!;
      return `| ${r.engine} | ${names[kind]} | ${k.found} / ${k.expected} | ${k.laterThanDelayUpMs} ms | ${k.spreadP50Ms} / ${k.spreadP99Ms} ms | ${k.holdsP50Ms} / ${k.holdsP99Ms} ms | ${k.targetMs} ms: ${k.met ? 'met' : 'not met'} |`;
    }),
  );
  return [
    `Measured ${date} by \`npx tsx bench/schedule.ts --steps\` on ${machine}, QEMU under TCG, one boot (host load ${load.start} at the start, ${load.end} at the end): a schedule of period ${STEP_PERIOD_MS / 1000} s that steps a pipe's delay and rate, and a probe of 1000 datagrams/s (142-byte frames) through it for ${STEP_SECONDS} s on each engine. **Measured on the wire**: where each step shows in the probe's one-way delays (found / periods seen), each kind's mean distance from the delay step's (later than delay up), and how much a step's moment varies (spread p50 / p99, from a grid fitted over all of them: the box's clock is not the host's). **Measured on the box**: the runner's lateness (${results.map((r) => `${r.engine}: ${r.lateness ? `p50 ${r.lateness.p50Ms} ms, p99 ${r.lateness.p99Ms} ms over ${r.lateness.batches} changes` : 'none'}`).join('; ')}; on tc the change handed to tc, on dummynet the ipfw run returned). **Inferred**: the new values hold after the step's instant by the lateness's median plus the kind's mean distance, and at p99 plus its spread; the target is the issue's 10 ms plus one full-size frame at the rate after the step.`,
    '',
    '| engine | step | found | later than delay up | spread p50 / p99 | holds (inferred) p50 / p99 | target |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Probe datagrams lost: ${results.map((r) => `${r.lost} of ${r.probes} on ${r.engine} (the pipe's counters: ${r.pipeDrops.overflow} overflow, ${r.pipeDrops.random} random)`).join(', ')}; no step drops any.`,
  ];
}

async function stepsOnly(): Promise<void> {
  const loadStart = loadavg()[0]!;
  const results = await withLab(join(REPO, 'images/default-pxe'), 'direct', JSON.stringify(stepsProfile('tc')), async (lab, vm) => {
    await runOnConsole(vm, 'dmesg -n 1', 10_000);
    return [await stepResponse(lab, vm, 'tc'), await stepResponse(lab, vm, 'dummynet')];
  });
  await writeSteps(loadStart, results);
}

async function writeSteps(loadStart: number, results: StepResult[]): Promise<void> {
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()})`;
  const date = new Date().toISOString().slice(0, 10);
  const load = { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) };
  const file = join(REPO, 'bench/schedule-results.json');
  const before = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  await writeFile(file, JSON.stringify({ ...before, steps: { date, machine, load, results } }, null, 2) + '\n');
  console.log(JSON.stringify(results, null, 2));
  await writeReadmeBlock(join(REPO, 'README.md'), 'schedule-steps', stepLines(date, machine, load, results));
}

async function main(): Promise<void> {
  const loadStart = loadavg()[0]!;
  const results = await withLab(join(REPO, 'images/default-pxe'), 'direct', JSON.stringify(profile), async (lab, vm) => {
    await runOnConsole(vm, 'dmesg -n 1', 10_000);
    const cpuRunner = await cpuBusy(vm, 10);
    const runner = await fidelity(lab, 6002);
    const tcp = await tcpFlow(lab.left, lab.right, { port: 6004, seconds: SECONDS, omitS: 2 });
    const lateness = (await readStatus(vm)).scheduleLateness;
    await applyProfile(vm, coarse);
    const cpuRunner100 = await cpuBusy(vm, 10);
    const runner100 = await fidelity(lab, 6002);
    // the script alone: the runner has nothing to run under this profile
    await applyProfile(vm, still);
    const cpuIdle = await cpuBusy(vm, 10);
    await startScript(vm);
    const cpuScript = await cpuBusy(vm, 10);
    const script = await fidelity(lab, 6003);
    await runOnConsole(vm, 'kill $(cat /tmp/loop.pid)', 10_000);
    const steps = [await stepResponse(lab, vm, 'tc'), await stepResponse(lab, vm, 'dummynet')];
    // the trace's mean rate over its period, as TCP goodput would carry it
    const parsed = parseTrace(TRACE, 'mahimahi', 'trace', { window: 1000, loop: true });
    if ('error' in parsed) throw new Error(parsed.error);
    const opportunities = TRACE.split('\n').filter((l) => /^\d+$/.test(l)).length;
    const meanBps = (opportunities * 1514 * 8) / (parsed.period / 1e6);
    return {
      steps,
      runner,
      runner100,
      script,
      meanBps: round(meanBps, 0),
      tcp: { goodputBps: round(tcp.goodputBps, 0), ofIdeal: round(tcp.goodputBps / (meanBps * (1448 / 1514)), 3) },
      lateness,
      cpu: { idle: round(cpuIdle, 3), runner: round(cpuRunner - cpuIdle, 3), runner100: round(cpuRunner100 - cpuIdle, 3), script: round(cpuScript - cpuIdle, 3) },
    };
  });
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()})`;
  const { steps, ...replays } = results;
  const out = { date: new Date().toISOString().slice(0, 10), machine, load: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) }, window: WINDOW_MS, ...replays };
  await writeFile(join(REPO, 'bench/schedule-results.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify(out, null, 2));
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const r = replays;
  await writeReadmeBlock(join(REPO, 'README.md'), 'schedule', [
    `Measured ${out.date} by \`npx tsx bench/schedule.ts\` on ${machine}, QEMU under TCG, one boot (host load ${out.load.start} at the start, ${out.load.end} at the end): the synthetic cellular trace (mean ${(r.meanBps / 1e6).toFixed(2)} Mbit/s of frames, a 0.5 s outage), ${SECONDS} s of UDP at 8 Mbit/s in 1472-byte datagrams, ${WINDOW_MS} ms windows, 100 ms measurement windows aligned with the trace.`,
    '',
    '| replayed by | delivered / trace allows | window error p50 (of the mean window) | p90 | windows within 10 % | in the outage\'s windows | appliance CPU (2 vCPUs), no traffic |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| picowire's runner (HTB rate + plug, one \`tc -batch\`) | ${pct(r.runner.deliveredOfAllowed)} | ${pct(r.runner.windowErrorP50)} | ${pct(r.runner.windowErrorP90)} | ${pct(r.runner.within10)} | ${r.runner.outageBytes} bytes in ${r.runner.outageWindows} | ${pct(r.cpu.runner)} |`,
    `| the same, 100 ms windows | ${pct(r.runner100.deliveredOfAllowed)} | ${pct(r.runner100.windowErrorP50)} | ${pct(r.runner100.windowErrorP90)} | ${pct(r.runner100.within10)} | ${r.runner100.outageBytes} bytes in ${r.runner100.outageWindows} | ${pct(r.cpu.runner100)} |`,
    `| a shell loop of \`tc qdisc change ... netem rate\` | ${pct(r.script.deliveredOfAllowed)} | ${pct(r.script.windowErrorP50)} | ${pct(r.script.windowErrorP90)} | ${pct(r.script.within10)} | ${r.script.outageBytes} bytes in ${r.script.outageWindows} | ${pct(r.cpu.script)} |`,
    '',
    `TCP through the runner's replay: ${(r.tcp.goodputBps / 1e6).toFixed(2)} Mbit/s, ${pct(r.tcp.ofIdeal)} of the trace's mean less headers. The runner's changes were handed to tc ${r.lateness ? `${r.lateness.p50Ms} ms after their instant at the median, ${r.lateness.p99Ms} ms at p99 (max ${r.lateness.maxMs} ms, ${r.lateness.batches} changes)` : '(no figure)'}; the guest's CPU without either replay: ${pct(r.cpu.idle)}.`,
  ]);
  await writeSteps(loadStart, steps);
}

if (process.argv[1] === import.meta.filename) (process.argv.includes('--steps') ? stepsOnly() : main()).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
