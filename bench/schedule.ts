// `make bench`, links that change over time (issue 18): in one boot of the PXE image, a synthetic
// cellular trace (test/fixtures/traces/cellular-8s.mahi, made by src/lab/cellular-trace.ts)
// replayed by the agent's runner, against the same trace replayed the way a tc-script user would: a
// shell loop on the appliance running `tc qdisc change ... netem rate R` every window. Figures:
// bytes delivered per 100 ms window against what the trace allows (a saturating UDP flow), TCP
// goodput against the trace's mean, how late the runner's changes were in force after their
// instants, and the appliance's CPU for each replay (no traffic). Written to
// bench/schedule-results.json and as a table into README.md.
//   npx tsx bench/schedule.ts
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { bytesPerWindow, pacedUdp } from '../src/lab/arrivals.ts';
import { runOnConsole } from '../src/lab/console.ts';
import { withLab } from '../src/lab/lab.ts';
import { tcpFlow } from '../src/lab/measure.ts';
import { median, percentile } from '../src/lab/stats.ts';
import type { Vm } from '../src/lab/qemu.ts';
import { parseTrace } from '../src/profile/timed.ts';
import { align, traceAllowance } from '../test/helpers/trace-fit.ts';
import { applyProfile, readStatus, round, type Profile } from './fidelity/common.ts';
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
    // the trace's mean rate over its period, as TCP goodput would carry it
    const parsed = parseTrace(TRACE, 'mahimahi', 'trace', { window: 1000, loop: true });
    if ('error' in parsed) throw new Error(parsed.error);
    const opportunities = TRACE.split('\n').filter((l) => /^\d+$/.test(l)).length;
    const meanBps = (opportunities * 1514 * 8) / (parsed.period / 1e6);
    return {
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
  const out = { date: new Date().toISOString().slice(0, 10), machine, load: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) }, window: WINDOW_MS, ...results };
  await writeFile(join(REPO, 'bench/schedule-results.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify(out, null, 2));
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const r = results;
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
}

if (process.argv[1] === import.meta.filename) main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
