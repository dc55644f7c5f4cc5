// The seed's formula ΔT = (Q + L)/B + t_PD, with Q = 0: pings of 64, 512 and 1472 bytes (ICMP
// payload) through a 1 Mbit/s, 10 ms pipe, 50 ms apart so none waits for another. L counts the
// link-layer bytes tc counts: the Ethernet frame without FCS, IP length + 14 = payload + 42. The
// measured one-way time is the shaped RTT's median minus the baseline's (same size, same moment;
// the reply crosses unshaped). Beside it: netem `delay 10ms rate 1mbit` (also pays L/B) and the
// netem + tbf recipe, whose full bucket lets an isolated packet through without its L/B.
import { median } from '../../src/lab/stats.ts';
import { applyProfile, onEngine, onePipe, pingShaped, plainBridge, pingWithBaseline, round, wrapper, type Ctx } from './common.ts';
import { pingRtt } from '../../src/lab/measure.ts';

export const SIZES = [64, 512, 1472];
const BW = 1e6;
const DELAY_MS = 10;
/** the frame tc counts for a ping of `size` payload bytes: + 8 ICMP + 20 IP + 14 Ethernet */
export const frameBytes = (size: number) => size + 42;
export const expectedMs = (size: number) => ((frameBytes(size) * 8) / BW) * 1000 + DELAY_MS;

export interface FormulaRow {
  how: string;
  commands?: string[];
  size: number;
  frameBytes: number;
  expectedMs: number;
  measuredMs: number;
  errorPct: number;
  met: boolean;
}

const row = (how: string, size: number, measuredMs: number, commands?: string[]): FormulaRow => {
  const exp = expectedMs(size);
  const errorPct = ((measuredMs - exp) / exp) * 100;
  return { how, commands, size, frameBytes: frameBytes(size), expectedMs: round(exp), measuredMs: round(measuredMs), errorPct: round(errorPct, 1), met: Math.abs(errorPct) <= 5 };
};

const opts = (ctx: Ctx, size: number) => ({ count: ctx.n(100, 30), intervalS: 0.05, size });

export async function measureFormula(ctx: Ctx): Promise<FormulaRow[]> {
  await applyProfile(ctx.vm, onEngine(ctx, onePipe('formula', { bw: '1Mbit/s', delay: `${DELAY_MS}ms` })));
  const rows: FormulaRow[] = [];
  for (const size of SIZES) {
    const { shaped, base } = await pingWithBaseline(ctx, opts(ctx, size));
    const r = row('picowire', size, median(shaped.rttsMs) - median(base.rttsMs));
    ctx.log(`   picowire ${size} B: ${r.measuredMs} ms one way, formula ${r.expectedMs} ms (${r.errorPct} %)`);
    rows.push(r);
  }
  return rows;
}

/** Baselines on the plain bridge (wrappers shape the whole port), then each wrapper recipe. */
export async function measureFormulaWrappers(ctx: Ctx): Promise<FormulaRow[]> {
  await plainBridge(ctx.vm);
  const base = new Map<number, number>();
  for (const size of SIZES) base.set(size, median((await pingRtt(ctx.lab.right, ctx.lab.left, opts(ctx, size))).rttsMs));
  const recipes: [string, string[]][] = [
    ['netem delay + rate', [`tc qdisc add dev a root netem delay ${DELAY_MS}ms rate 1mbit`]],
    ['netem delay + tbf', [`tc qdisc add dev a root handle 1: netem delay ${DELAY_MS}ms`, 'tc qdisc add dev a parent 1:1 handle 10: tbf rate 1mbit burst 32kbit latency 400ms']],
  ];
  const rows: FormulaRow[] = [];
  for (const [how, commands] of recipes) {
    await wrapper(ctx.vm, commands);
    for (const size of SIZES) {
      const shaped = await pingShaped(ctx, opts(ctx, size));
      const r = row(how, size, median(shaped.rttsMs) - base.get(size)!, commands);
      ctx.log(`   ${how} ${size} B: ${r.measuredMs} ms one way, formula ${r.expectedMs} ms (${r.errorPct} %)`);
      rows.push(r);
    }
  }
  return rows;
}
