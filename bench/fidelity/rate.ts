// Rate: a pipe with only `bw` at 256 Kbit/s, 1, 10 and 100 Mbit/s. TCP goodput against the ideal
// (1448/1514 of the rate: full frames with timestamps), and UDP offered at twice the rate (1472-byte
// datagrams, 1514-byte frames): the delivered frame rate against the configured one. Rates are the
// receiver's steady-state intervals (steadyBps). Beside it: `netem rate` (limit 1000) and
// `tbf rate … burst 32kbit latency 400ms` on the port, TCP only.
import { iperf3Tcp, udpStream } from '../../src/lab/measure.ts';
import { median } from '../../src/lab/stats.ts';
import { applyProfile, onEngine, onePipe, pipeDrops, rootCounters, round, sentBps, steadyBps, TCP_EFFICIENCY, wrapper, type Ctx } from './common.ts';

export const RATES: { bps: number; profile: string; tc: string }[] = [
  { bps: 256e3, profile: '256Kbit/s', tc: '256kbit' },
  { bps: 1e6, profile: '1Mbit/s', tc: '1mbit' },
  { bps: 10e6, profile: '10Mbit/s', tc: '10mbit' },
  { bps: 100e6, profile: '100Mbit/s', tc: '100mbit' },
];
const UDP_PAYLOAD = 1472;
const UDP_FRAME = UDP_PAYLOAD + 42;

export interface RateRow {
  how: string;
  commands?: string[];
  rateBps: number;
  /** each run's TCP goodput (bit/s) */
  tcpBps: number[];
  tcpMedianBps: number;
  tcpIdealBps: number;
  /** median goodput / ideal */
  tcpRatio: number;
  tcpMet: boolean;
  /** bytes per packet the bottleneck sent during the TCP runs: 1514 is one frame, more is GRO lumps */
  meanPacketBytes?: number;
  /** each run's delivered UDP rate in frame bits (bit/s), offered at twice the rate */
  udpDeliveredBps?: number[];
  udpOfferedBps?: number[];
  udpMedianBps?: number;
  /** median delivered / configured */
  udpRatio?: number;
  udpMet?: boolean;
}

/** TCP runs of `seconds` (the first few left out: slow start into the queue), right → left. */
async function tcpRuns(ctx: Ctx, rateBps: number, runs: number): Promise<number[]> {
  const out: number[] = [];
  const omitS = rateBps < 1e6 ? 3 : 2;
  for (let i = 0; i < runs; i++) {
    const r = await iperf3Tcp(ctx.lab.left, ctx.lab.right, { seconds: ctx.n(8, 5), omitS, reverse: true });
    out.push(round(steadyBps(r.json), 0));
  }
  return out;
}

function tcpRow(how: string, rateBps: number, tcpBps: number[], commands?: string[]): RateRow {
  const ideal = rateBps * TCP_EFFICIENCY;
  const med = median(tcpBps);
  return { how, commands, rateBps, tcpBps, tcpMedianBps: round(med, 0), tcpIdealBps: round(ideal, 0), tcpRatio: round(med / ideal, 4), tcpMet: med >= 0.97 * ideal };
}

/** picowire's TCP runs through a `bw` pipe, with the bytes per packet its pipe counted. */
async function picowireTcp(ctx: Ctx, how: string, rate: (typeof RATES)[number], runs: number): Promise<RateRow> {
  await applyProfile(ctx.vm, onEngine(ctx, onePipe(`rate-${rate.tc}`, { bw: rate.profile })));
  const before = await pipeDrops(ctx.vm, 'p');
  const row = tcpRow(how, rate.bps, await tcpRuns(ctx, rate.bps, runs));
  const after = await pipeDrops(ctx.vm, 'p');
  row.meanPacketBytes = Math.round((after.bytes - before.bytes) / Math.max(1, after.packets - before.packets));
  return row;
}

export async function measureRate(ctx: Ctx): Promise<RateRow[]> {
  const rows: RateRow[] = [];
  for (const rate of RATES) {
    const row = await picowireTcp(ctx, 'picowire', rate, ctx.n(3, 1));
    const delivered: number[] = [];
    const offered: number[] = [];
    for (let i = 0; i < ctx.n(3, 1); i++) {
      const u = await udpStream(ctx.lab.left, ctx.lab.right, { seconds: ctx.n(6, 4), rateBps: 2 * rate.bps, lengthBytes: UDP_PAYLOAD, reverse: true });
      // first interval left out too: the queue is still filling
      delivered.push(round((steadyBps(u.json, 1) * UDP_FRAME) / UDP_PAYLOAD, 0));
      offered.push(round((sentBps(u.json) * UDP_FRAME) / UDP_PAYLOAD, 0));
    }
    const udpMed = median(delivered);
    Object.assign(row, { udpDeliveredBps: delivered, udpOfferedBps: offered, udpMedianBps: round(udpMed, 0), udpRatio: round(udpMed / rate.bps, 4), udpMet: Math.abs(udpMed / rate.bps - 1) <= 0.01 });
    ctx.log(`   picowire ${rate.tc}: TCP ${(row.tcpRatio * 100).toFixed(1)} % of ideal (${row.tcpBps.join(', ')}; ${row.meanPacketBytes} bytes per packet), UDP delivered ${((row.udpRatio ?? 0) * 100).toFixed(1)} % of the rate (offered ${offered.join(', ')})`);
    rows.push(row);
  }
  return rows;
}

export async function measureRateWrappers(ctx: Ctx): Promise<RateRow[]> {
  const rows: RateRow[] = [];
  for (const rate of RATES) {
    const recipes: [string, string[]][] = [
      ['netem rate', [`tc qdisc add dev a root netem rate ${rate.tc}`]],
      ['tbf', [`tc qdisc add dev a root tbf rate ${rate.tc} burst 32kbit latency 400ms`]],
    ];
    for (const [how, commands] of recipes) {
      await wrapper(ctx.vm, commands);
      const row = tcpRow(how, rate.bps, await tcpRuns(ctx, rate.bps, ctx.n(2, 1)), commands);
      const sent = await rootCounters(ctx.vm);
      row.meanPacketBytes = Math.round(sent.bytes / Math.max(1, sent.packets));
      ctx.log(`   ${how} ${rate.tc}: TCP ${(row.tcpRatio * 100).toFixed(1)} % of ideal (${row.tcpBps.join(', ')}; ${row.meanPacketBytes} bytes per packet)`);
      rows.push(row);
    }
  }
  return rows;
}
