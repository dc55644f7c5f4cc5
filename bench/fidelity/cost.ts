// Emulation cost: the highest TCP throughput through the bridge with picowire in place but no limits
// (profile "open": no pipes, so the ports keep their own qdiscs, and the nft table's forward chain
// sees every packet and allows it),
// against the same VM's plain bridge (picowire's table and qdiscs removed). Measured before the
// wrappers (picowire), with the plain bridge, and after picowire's profile is applied again.
import { iperf3Tcp } from '../../src/lab/measure.ts';
import { median } from '../../src/lab/stats.ts';
import { round, steadyBps, type Ctx } from './common.ts';

export interface CostRun {
  how: 'picowire (open profile)' | 'plain bridge';
  tcpBps: number[];
}

export interface CostResult {
  runs: CostRun[];
  picowireMedianBps: number;
  plainMedianBps: number;
  ratio: number;
  met: boolean;
}

/** TCP runs through whatever the bridge has now. */
export async function throughput(ctx: Ctx, how: CostRun['how']): Promise<CostRun> {
  const tcpBps: number[] = [];
  for (let i = 0; i < ctx.n(3, 1); i++) {
    const r = await iperf3Tcp(ctx.lab.left, ctx.lab.right, { seconds: ctx.n(6, 4), omitS: 1, reverse: true });
    tcpBps.push(round(steadyBps(r.json), 0));
  }
  ctx.log(`   ${how}: ${tcpBps.map((b) => (b / 1e6).toFixed(0)).join(', ')} Mbit/s`);
  return { how, tcpBps };
}

export function costResult(runs: CostRun[]): CostResult {
  const of = (how: CostRun['how']) => runs.filter((r) => r.how === how).flatMap((r) => r.tcpBps);
  const pw = median(of('picowire (open profile)'));
  const plain = median(of('plain bridge'));
  return { runs, picowireMedianBps: round(pw, 0), plainMedianBps: round(plain, 0), ratio: round(pw / plain, 3), met: pw / plain >= 0.9 };
}
