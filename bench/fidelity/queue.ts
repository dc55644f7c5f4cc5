// Queue under overload: a 20-packet queue at 1 Mbit/s, UDP offered at 2 Mbit/s (1200-byte
// datagrams, 1242-byte frames) while pings cross the same pipe 20 ms apart. A ping's queueing delay
// is its RTT minus the baseline and its own transmission time (98-byte frame: 0.78 ms); the largest
// can be 20 × L / B = 198.7 ms. Drops: picowire status counts them as overflow, none as random.
// Beside it, what wrappers give by default: netem rate (limit 1000 packets: 9.9 s of queue at
// 1 Mbit/s) and tbf with latency 400ms (limit = rate × latency + burst = 54,000 bytes ≈ 43 frames).
import { pingRtt, udpStream, type PingResult } from '../../src/lab/measure.ts';
import { median, percentile } from '../../src/lab/stats.ts';
import { applyProfile, onEngine, onePipe, pingWithBaseline, pipeDrops, round, sleep, wrapper, type Ctx } from './common.ts';

const BW = 1e6;
const QUEUE = 20;
const PAYLOAD = 1200;
const FRAME = PAYLOAD + 42;
const PING_FRAME = 98;
const INTERVAL_S = 0.02;
/** the longest a packet can wait for the 20 ahead of it */
export const QUEUE_BOUND_MS = ((QUEUE * FRAME * 8) / BW) * 1000;
const OWN_MS = ((PING_FRAME * 8) / BW) * 1000;

export interface QueueRun {
  how: string;
  commands?: string[];
  /** the queue the configuration has, in frames of 1242 bytes */
  queueFrames: number;
  udpSent: number;
  udpLost: number;
  pingsSent: number;
  pingsReceived: number;
  baselineMedianMs: number;
  queueingMedianMs: number;
  queueingP99Ms: number;
  queueingMaxMs: number;
  /** picowire only: the pipe's counters over the run */
  overflowDrops?: number;
  randomDrops?: number;
  /** [seconds since the pings started, queueing delay ms], for the chart */
  series: [number, number][];
}

function summarize(how: string, queueFrames: number, baseMs: number, udp: { sentPackets: number; lostPackets: number }, ping: PingResult, commands?: string[]): QueueRun {
  const q = ping.rttsMs.map((r) => r - baseMs - OWN_MS);
  return {
    how,
    commands,
    queueFrames,
    udpSent: udp.sentPackets,
    udpLost: udp.lostPackets,
    pingsSent: ping.sent,
    pingsReceived: ping.received,
    baselineMedianMs: round(baseMs),
    queueingMedianMs: round(median(q)),
    queueingP99Ms: round(percentile(q, 99)),
    queueingMaxMs: round(Math.max(...q)),
    series: ping.seqs.map((s, i) => [round((s - 1) * INTERVAL_S, 2), round(q[i]!, 2)]),
  };
}

/** UDP at twice the rate for `seconds`; `ping` starts 1.5 s in, once the queue is full. */
async function overload<T>(ctx: Ctx, ping: () => Promise<T>): Promise<{ udp: Awaited<ReturnType<typeof udpStream>>; pinged: T }> {
  const seconds = ctx.n(8, 5);
  const udp = udpStream(ctx.lab.left, ctx.lab.right, { seconds, rateBps: 2 * BW, lengthBytes: PAYLOAD, reverse: true });
  await sleep(1500);
  const pinged = await ping();
  return { udp: await udp, pinged };
}

const pingOpts = (ctx: Ctx) => ({ count: ctx.n(250, 120), intervalS: INTERVAL_S });

export async function measureQueue(ctx: Ctx): Promise<QueueRun> {
  await applyProfile(ctx.vm, onEngine(ctx, onePipe('queue20', { bw: '1Mbit/s', queue: QUEUE })));
  const before = await pipeDrops(ctx.vm, 'p');
  const { udp, pinged } = await overload(ctx, () => pingWithBaseline(ctx, pingOpts(ctx)));
  const after = await pipeDrops(ctx.vm, 'p');
  const run = summarize('picowire queue 20', QUEUE, median(pinged.base.rttsMs), udp, pinged.shaped);
  run.overflowDrops = after.overflow - before.overflow;
  run.randomDrops = after.random - before.random;
  ctx.log(`   picowire: queueing max ${run.queueingMaxMs} ms (bound ${round(QUEUE_BOUND_MS)}), p99 ${run.queueingP99Ms}, median ${run.queueingMedianMs}; UDP ${run.udpLost}/${run.udpSent} lost, pings ${run.pingsSent - run.pingsReceived} lost; status ${run.overflowDrops} overflow, ${run.randomDrops} random`);
  return run;
}

export async function measureQueueWrappers(ctx: Ctx, plainBaselineMs: number): Promise<QueueRun[]> {
  const recipes: [string, number, string[]][] = [
    ['netem rate (limit 1000)', 1000, ['tc qdisc add dev a root netem rate 1mbit']],
    ['tbf latency 400ms', Math.floor((BW * 0.4) / 8 + 4000) / FRAME, ['tc qdisc add dev a root tbf rate 1mbit burst 32kbit latency 400ms']],
  ];
  const runs: QueueRun[] = [];
  for (const [how, frames, commands] of recipes) {
    await wrapper(ctx.vm, commands);
    const { udp, pinged } = await overload(ctx, () => pingRtt(ctx.lab.right, ctx.lab.left, pingOpts(ctx)));
    const run = summarize(how, round(frames, 1), plainBaselineMs, udp, pinged, commands);
    ctx.log(`   ${how}: queueing max ${run.queueingMaxMs} ms, p99 ${run.queueingP99Ms}, median ${run.queueingMedianMs}; UDP ${run.udpLost}/${run.udpSent} lost, pings ${run.pingsSent - run.pingsReceived} lost`);
    runs.push(run);
  }
  return runs;
}
