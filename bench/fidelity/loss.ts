// Random loss: a pipe with only `plr` at 0.001, 0.01 and 0.1; a UDP stream of small datagrams at
// 5000/s crosses it (>= 20,000 in the full run). The observed rate is iperf3's lost / sent, judged
// against the 99 % binomial acceptance interval for that many packets; picowire status tells random
// drops (the plr) from queue overflow (a TCG burst), so a loss that is not the profile's shows.
// netem's `loss random` is the same code a wrapper would configure, so there is no wrapper column.
import { udpStream } from '../../src/lab/measure.ts';
import { binomialInterval } from '../../src/lab/stats.ts';
import { applyProfile, onEngine, onePipe, pipeDrops, round, type Ctx } from './common.ts';

export const PLRS = [0.001, 0.01, 0.1];
const PPS = 5000;
const PAYLOAD = 64;

export interface LossRow {
  plr: number;
  sent: number;
  lost: number;
  observed: number;
  /** the 99 % interval for the lost count, and as rates */
  intervalLost: [number, number];
  intervalRate: [number, number];
  /** the pipe's own drop counters over the stream */
  randomDrops: number;
  overflowDrops: number;
  met: boolean;
}

/**
 * The stream, tried up to three times: iperf3 -R sets its UDP stream up with a datagram each way, and
 * the one back crosses the lossy pipe (lost 1 time in 10 at plr 0.1: "unable to read from stream socket").
 */
async function lossyStream(ctx: Ctx): Promise<Awaited<ReturnType<typeof udpStream>>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await udpStream(ctx.lab.left, ctx.lab.right, { seconds: ctx.n(5, 2), rateBps: PPS * PAYLOAD * 8, lengthBytes: PAYLOAD, reverse: true });
    } catch (e) {
      if (attempt >= 3) throw e;
      ctx.log(`   iperf3 failed (${(e as Error).message.trim()}); again`);
    }
  }
}

export async function measureLoss(ctx: Ctx): Promise<LossRow[]> {
  const rows: LossRow[] = [];
  for (const plr of PLRS) {
    await applyProfile(ctx.vm, onEngine(ctx, onePipe(`plr-${plr}`, { plr })));
    const before = await pipeDrops(ctx.vm, 'p');
    const u = await lossyStream(ctx);
    const after = await pipeDrops(ctx.vm, 'p');
    const [lo, hi] = binomialInterval(u.sentPackets, plr, 0.99);
    const row: LossRow = {
      plr,
      sent: u.sentPackets,
      lost: u.lostPackets,
      observed: round(u.lostPackets / u.sentPackets, 5),
      intervalLost: [lo, hi],
      intervalRate: [round(lo / u.sentPackets, 5), round(hi / u.sentPackets, 5)],
      randomDrops: after.random - before.random,
      overflowDrops: after.overflow - before.overflow,
      met: u.lostPackets >= lo && u.lostPackets <= hi,
    };
    ctx.log(`   plr ${plr}: ${row.lost} of ${row.sent} lost (${row.observed}), 99 % interval [${lo}, ${hi}]; status: ${row.randomDrops} random, ${row.overflowDrops} overflow`);
    rows.push(row);
  }
  return rows;
}
