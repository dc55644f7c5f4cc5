// Delay and jitter. Delay: a pipe with only `delay` on the shaped direction; the RTT error is the
// shaped ping's RTT minus (configured delay + the unshaped baseline's median, pinged at the same
// time). Jitter: 20 ms ± 5 ms normal, its RTT distribution over the baseline against the normal
// curve, and how many replies came out of order (netem alone reorders; picowire's delay line keeps order).
import { median, percentile, stddev } from '../../src/lab/stats.ts';
import { applyProfile, onEngine, onePipe, pingShaped, pingWithBaseline, reordered, round, wrapper, type Ctx } from './common.ts';

export const DELAYS_MS = [1, 5, 20, 100, 500];

export interface DelayRow {
  delayMs: number;
  pings: number;
  received: number;
  baselineMedianMs: number;
  rttMedianMs: number;
  errorMedianMs: number;
  errorP99Ms: number;
  targetMs: number;
  met: boolean;
}

/** The RTT error target: 0.5 ms + 1 % of the configured one-way delay, at the median. */
export const delayTarget = (delayMs: number) => 0.5 + 0.01 * delayMs;

export async function measureDelay(ctx: Ctx): Promise<DelayRow[]> {
  const rows: DelayRow[] = [];
  const count = ctx.n(500, 100);
  for (const d of DELAYS_MS) {
    await applyProfile(ctx.vm, onEngine(ctx, onePipe(`delay-${d}`, { delay: `${d}ms` })));
    const { shaped, base } = await pingWithBaseline(ctx, { count, intervalS: 0.01 });
    const baseMs = median(base.rttsMs);
    const errors = shaped.rttsMs.map((r) => r - baseMs - d);
    const errMed = median(errors);
    const row: DelayRow = {
      delayMs: d,
      pings: shaped.sent,
      received: shaped.received,
      baselineMedianMs: round(baseMs),
      rttMedianMs: round(median(shaped.rttsMs)),
      errorMedianMs: round(errMed),
      errorP99Ms: round(percentile(errors, 99)),
      targetMs: delayTarget(d),
      met: Math.abs(errMed) <= delayTarget(d) && shaped.received === shaped.sent,
    };
    ctx.log(`   delay ${d} ms: RTT median ${row.rttMedianMs} ms (baseline ${row.baselineMedianMs}), error median ${row.errorMedianMs} ms, p99 ${row.errorP99Ms} ms, ${shaped.received}/${shaped.sent} replies`);
    rows.push(row);
  }
  return rows;
}

export interface JitterRun {
  how: string;
  /** tc commands, for a wrapper */
  commands?: string[];
  pings: number;
  received: number;
  baselineMedianMs: number;
  /** RTT minus the baseline's median, every reply, in arrival order */
  extraMs: number[];
  medianMs: number;
  iqrMs: number;
  stddevMs: number;
  reordered: number;
}

export const JITTER = { delayMs: 20, spreadMs: 5, distribution: 'normal' } as const;
/** the IQR of a normal distribution is 1.349 σ */
export const NORMAL_IQR = 1.349;

function jitterRun(how: string, baseMs: number, shaped: { sent: number; received: number; rttsMs: number[]; seqs: number[] }, commands?: string[]): JitterRun {
  const extra = shaped.rttsMs.map((r) => round(r - baseMs));
  return {
    how,
    commands,
    pings: shaped.sent,
    received: shaped.received,
    baselineMedianMs: round(baseMs),
    extraMs: extra,
    medianMs: round(median(extra)),
    iqrMs: round(percentile(extra, 75) - percentile(extra, 25)),
    stddevMs: round(stddev(extra)),
    reordered: reordered(shaped.seqs),
  };
}

/** The jitter case's profile. */
export const jitterProfile = () => onePipe('jitter', { delay: `${JITTER.delayMs}ms`, jitter: { spread: `${JITTER.spreadMs}ms`, distribution: JITTER.distribution } });

const jitterOpts = (ctx: Ctx) => ({ count: ctx.n(400, 100), intervalS: 0.025 });

export async function measureJitter(ctx: Ctx): Promise<JitterRun> {
  await applyProfile(ctx.vm, onEngine(ctx, jitterProfile()));
  const { shaped, base } = await pingWithBaseline(ctx, jitterOpts(ctx));
  const run = jitterRun('picowire', median(base.rttsMs), shaped);
  ctx.log(`   picowire jitter: median ${run.medianMs} ms, IQR ${run.iqrMs} ms (normal: ${NORMAL_IQR * JITTER.spreadMs}), stddev ${run.stddevMs} ms, ${run.reordered} reordered`);
  return run;
}

/** netem's own jitter on the port, as wrappers set it (`netem delay 20ms 5ms distribution normal`). */
export async function measureJitterWrapper(ctx: Ctx, plainBaselineMs: number): Promise<JitterRun> {
  const commands = await wrapper(ctx.vm, [`tc qdisc add dev a root netem delay ${JITTER.delayMs}ms ${JITTER.spreadMs}ms distribution ${JITTER.distribution}`]);
  const shaped = await pingShaped(ctx, jitterOpts(ctx));
  const run = jitterRun('netem delay 20ms 5ms distribution normal', plainBaselineMs, shaped, commands);
  ctx.log(`   netem jitter: median ${run.medianMs} ms, IQR ${run.iqrMs} ms, stddev ${run.stddevMs} ms, ${run.reordered} reordered`);
  return run;
}
