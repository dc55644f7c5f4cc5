// The fidelity benchmark (issue 5): how close the emulated link is to the one asked for, beside the
// way common tc wrappers configure the same kernel, in one boot of the appliance between the lab's
// two hosts. Writes bench/fidelity-results.json, bench/report.md and bench/charts/*.svg.
//   npx tsx bench/fidelity/run.ts [--quick]      measure (quick: fewer repeats and packets)
//   npx tsx bench/fidelity/run.ts --report-only  write the report and charts again from the JSON
//   npx tsx bench/fidelity/run.ts --only loss    measure only these steps (names as logged, comma-separated) into the JSON
//
// Order: every picowire measurement first (profiles changed with `picowire apply` on the console),
// then picowire's state is removed and the wrappers' qdiscs typed in its place, then picowire's
// open profile is applied again and the bridge's throughput measured once more.
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runOnConsole } from '../../src/lab/console.ts';
import { addHostAddress } from '../../src/lab/hosts.ts';
import { withLab } from '../../src/lab/lab.ts';
import { pingRtt } from '../../src/lab/measure.ts';
import { median } from '../../src/lab/stats.ts';
import { AQM_BW, AQM_CASES, AQM_QUEUE, measureAqm } from './aqm.ts';
import { measureBdp, measureBdpWrapper } from './bdp.ts';
import { measureChange } from './change.ts';
import { applyProfile, attempt, LEFT_ALT, onePipe, OPEN, plainBridge, refusal, round, type Ctx, type Profile } from './common.ts';
import { costResult, throughput, type CostRun } from './cost.ts';
import { JITTER, jitterProfile, measureDelay, measureJitter, measureJitterWrapper } from './delay.ts';
import { measureFormula, measureFormulaWrappers } from './formula.ts';
import { measureLoss } from './loss.ts';
import { measureQueue, measureQueueWrappers } from './queue.ts';
import { measureRate, measureRateWrappers } from './rate.ts';
import { writeReport } from './report.ts';
import type { FidelityResults } from './results.ts';

const REPO = resolve(import.meta.dirname, '../..');
const IMAGES = process.env.PICOWIRE_IMAGES ?? join(REPO, 'images');
const PXE = join(IMAGES, 'default-pxe');
export const RESULTS = join(REPO, 'bench/fidelity-results.json');

/** The picowire cases the dummynet engine refuses, each with the agent's own refusal. */
function dummynetRefusals(ctx: Ctx): { case: string; error: string }[] {
  const cases: [string, Profile][] = [
    [`jitter ${JITTER.delayMs} ± ${JITTER.spreadMs} ms ${JITTER.distribution}`, jitterProfile()],
    ...AQM_CASES.map(([how, extra]): [string, Profile] => [`aqm: ${how}`, onePipe('aqm', { bw: AQM_BW, queue: AQM_QUEUE, ...extra })]),
  ];
  return cases.flatMap(([what, p]) => {
    const error = refusal(ctx, p);
    return error ? [{ case: what, error }] : [];
  });
}

async function save(r: FidelityResults): Promise<void> {
  await writeFile(RESULTS, JSON.stringify(r, null, 1) + '\n');
}

async function measure(quick: boolean, only?: string[]): Promise<FidelityResults> {
  const started = Date.now();
  const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  const r: FidelityResults = {
    date: new Date().toISOString(),
    machine: { model: cpus()[0]?.model ?? 'unknown', nproc: cpus().length, qemu: 'TCG (no KVM), 2 vCPUs, boot mode direct', loadAvgAtStart: round(loadavg()[0]!, 2) },
    image: PXE,
    mode: quick ? 'quick' : 'full',
    durationS: 0,
    errors: [],
  };
  const consoleLog = join(tmpdir(), 'picowire-fidelity-console.log');
  log(`booting ${PXE} (console in ${consoleLog})`);
  await withLab(
    PXE,
    'direct',
    JSON.stringify(OPEN),
    async (lab, vm) => {
      const ctx: Ctx = { lab, vm, quick, n: (full, q) => (quick ? q : full), log };
      const step = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
        if (only && !only.includes(what)) return undefined;
        const out = await attempt(ctx, r.errors, what, fn);
        r.durationS = Math.round((Date.now() - started) / 1000);
        if (!only) await save(r);
        return out;
      };
      log('lab ready');
      await runOnConsole(vm, 'dmesg -n 1', 30_000);
      await addHostAddress(lab.left, LEFT_ALT, [lab.right]);
      const cost: CostRun[] = [];
      const keep = (c: CostRun | undefined) => c && cost.push(c);

      // picowire
      keep(await step('emulation cost: picowire (open profile)', () => throughput(ctx, 'picowire (open profile)')));
      r.delay = await step('delay', () => measureDelay(ctx));
      const jitter = await step('jitter', () => measureJitter(ctx));
      r.jitter = jitter ? [jitter] : [];
      r.formula = (await step('formula', () => measureFormula(ctx))) ?? [];
      r.rate = (await step('rate', () => measureRate(ctx))) ?? [];
      r.loss = await step('loss', () => measureLoss(ctx));
      const queue = await step('queue', () => measureQueue(ctx));
      r.queue = queue ? [queue] : [];
      r.bdp = (await step('large BDP', () => measureBdp(ctx))) ?? [];
      r.change = await step('change glitch and apply latency', () => measureChange(ctx));
      r.aqm = await step('aqm', () => measureAqm(ctx));

      // the same kernel, configured the way tc wrappers do
      const plain = await step('plain bridge', async () => {
        await plainBridge(vm);
        const base = median((await pingRtt(lab.right, lab.left, { count: ctx.n(200, 50), intervalS: 0.01 })).rttsMs);
        log(`   plain bridge ping RTT median ${round(base)} ms`);
        return base;
      });
      if (plain !== undefined) {
        r.plainBaselineMs = round(plain);
        keep(await step('emulation cost: plain bridge', () => throughput(ctx, 'plain bridge')));
        const w = await step('jitter: netem', () => measureJitterWrapper(ctx, plain));
        if (w) r.jitter.push(w);
        r.formula.push(...((await step('formula: wrappers', () => measureFormulaWrappers(ctx))) ?? []));
        r.rate.push(...((await step('rate: wrappers', () => measureRateWrappers(ctx))) ?? []));
        r.queue.push(...((await step('queue: wrappers', () => measureQueueWrappers(ctx, plain))) ?? []));
        const b = await step('large BDP: netem', () => measureBdpWrapper(ctx));
        if (b) r.bdp.push(b);
      }

      // picowire again: first `picowire apply` over the plain bridge; if the agent refuses (it plans
      // from the kernel state it left, not the one it finds), a respawned agent reads the kernel afresh
      const again = await step('picowire applied again', async () => {
        await plainBridge(vm);
        try {
          await applyProfile(vm, OPEN);
          r.reapply = { applyWorked: true };
        } catch (e) {
          r.reapply = { applyWorked: false, error: (e as Error).message.split('\n').slice(0, 3).join(' ') };
          log('   picowire apply refused the changed kernel; respawning the agent (kill -9), which reads it afresh');
          vm.send('kill -9 $(pidof node)\n');
          await vm.waitFor(/picowire: applied profile \S+/, 120_000);
        }
        return true;
      });
      if (again !== undefined) keep(await step('emulation cost: picowire again', () => throughput(ctx, 'picowire (open profile)')));

      // the dummynet column: the same picowire cases with "engine": "dummynet" (kipfw takes the ports
      // from the bridge); what the engine refuses is named, not measured
      const dn: Ctx = { ...ctx, engine: 'dummynet' };
      const d: NonNullable<FidelityResults['dummynet']> = { refused: dummynetRefusals(dn) };
      d.delay = await step('dummynet delay', () => measureDelay(dn));
      d.formula = await step('dummynet formula', () => measureFormula(dn));
      d.rate = await step('dummynet rate', () => measureRate(dn));
      d.loss = await step('dummynet loss', () => measureLoss(dn));
      const dq = await step('dummynet queue', () => measureQueue(dn));
      if (dq) d.queue = [dq];
      d.bdp = await step('dummynet large BDP', () => measureBdp(dn));
      d.change = await step('dummynet change glitch and apply latency', () => measureChange(dn));
      d.aqm = await step('dummynet aqm', () => measureAqm(dn));
      if (Object.entries(d).some(([k, v]) => k !== 'refused' && v !== undefined)) r.dummynet = d;
      if (cost.some((c) => c.how === 'plain bridge') && cost.some((c) => c.how !== 'plain bridge')) r.cost = costResult(cost);
    },
    { log: consoleLog, bootTimeoutMs: 300_000 },
  );
  r.durationS = Math.round((Date.now() - started) / 1000);
  r.machine.loadAvgAtEnd = round(loadavg()[0]!, 2);
  if (!only) await save(r);
  log(`measured in ${r.durationS} s; ${r.errors.length} step(s) failed`);
  return r;
}

/**
 * Measures only the named steps (`--only loss,queue`) and puts their figures into the existing
 * results, noting when: for a step that failed in the full run.
 */
async function supplement(quick: boolean, only: string[]): Promise<FidelityResults> {
  const base = JSON.parse(await readFile(RESULTS, 'utf8')) as FidelityResults;
  const r = await measure(quick, only);
  const fresh = Object.fromEntries(Object.entries(r).filter(([k, v]) => !['date', 'machine', 'image', 'mode', 'durationS', 'errors'].includes(k) && v !== undefined && !(Array.isArray(v) && v.length === 0)));
  const merged = { ...base, ...fresh } as FidelityResults;
  // the dummynet column step by step: a supplement of some of its steps keeps the others' figures
  if (base.dummynet && r.dummynet) merged.dummynet = { ...base.dummynet, ...Object.fromEntries(Object.entries(r.dummynet).filter(([, v]) => v !== undefined)) };
  merged.errors = [...base.errors.filter((e) => !only.some((o) => e.startsWith(`${o}:`))), ...r.errors];
  merged.supplements = [...(base.supplements ?? []), { date: r.date, steps: only, durationS: r.durationS, loadAvg: [r.machine.loadAvgAtStart, r.machine.loadAvgAtEnd], replaced: base.errors.filter((e) => only.some((o) => e.startsWith(`${o}:`))) }];
  await save(merged);
  return merged;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1]?.split(',') : undefined;
  const unknown = args.filter((a) => a !== '--quick' && a !== '--report-only');
  if (unknown.length || (onlyAt >= 0 && !only?.length)) throw new Error(`fidelity: unknown argument ${unknown.join(' ')}; usage: run.ts [--quick] [--report-only] [--only step,step]`);
  const quick = args.includes('--quick');
  const results = args.includes('--report-only') ? (JSON.parse(await readFile(RESULTS, 'utf8')) as FidelityResults) : only ? await supplement(quick, only) : await measure(quick);
  const written = await writeReport(results, join(REPO, 'bench'));
  console.log(`wrote ${RESULTS}, ${written.join(', ')}`);
  if (results.errors.length) {
    console.log(`failed steps:\n  ${results.errors.join('\n  ')}`);
    process.exitCode = 1;
  }
}

await main();
