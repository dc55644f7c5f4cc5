// Queue management under load (issue 19): one 10 Mbit/s pipe with a 300-frame queue (363 ms), four
// bulk TCP flows through it (right → left, NewReno: loss-based, as FreeBSD's senders; the lab's
// hosts would otherwise take the host's BBR, which keeps its own minimum window queued whatever the
// AQM), and pings beside them from 5 s in. The same link with droptail, RED, CoDel, PIE and
// fq_codel: the ping's queueing delay (RTT − the unshaped address's RTT at the same time) and what
// the flows got.
import { iperf3Tcp } from '../../src/lab/measure.ts';
import { median, percentile } from '../../src/lab/stats.ts';
import { applyProfile, onEngine, refusal, onePipe, pingWithBaseline, pipeDrops, round, sleep, TCP_EFFICIENCY, type Ctx } from './common.ts';

export const AQM_BW = 10e6;
export const AQM_QUEUE = 300;
/** the droptail queue's whole length: 300 frames of 1514 bytes at 10 Mbit/s */
export const AQM_FULL_MS = ((AQM_QUEUE * 1514 * 8) / AQM_BW) * 1000;

export const AQM_CASES: [string, Record<string, unknown>][] = [
  ['droptail', {}],
  ['RED 0.002/30/150/0.1', { aqm: { type: 'red', wq: 0.002, minTh: 30, maxTh: 150, maxP: 0.1 } }],
  ['CoDel (5ms, 100ms)', { aqm: { type: 'codel' } }],
  ['PIE (15ms)', { aqm: { type: 'pie' } }],
  ['fq_codel', { scheduler: 'fq_codel' }],
];

export interface AqmRow {
  how: string;
  pipe: Record<string, unknown>;
  pingsSent: number;
  pingsReceived: number;
  queueingMedianMs: number;
  queueingP90Ms: number;
  /** the four flows' goodput against 1448/1514 of the link */
  goodputRatio: number;
  /** the pipe's drops over the run (queue and AQM) */
  drops: number;
}

export async function measureAqm(ctx: Ctx): Promise<AqmRow[]> {
  const { left, right, } = ctx.lab;
  const before = (await right.exec(['sysctl', '-n', 'net.ipv4.tcp_congestion_control'])).stdout.trim();
  await right.exec(['sysctl', '-qw', 'net.ipv4.tcp_congestion_control=reno']);
  const rows: AqmRow[] = [];
  try {
    for (const [how, extra] of AQM_CASES) {
      const pipe = { bw: AQM_BW, queue: AQM_QUEUE, ...extra };
      // what the engine refuses is left out here: the report names the refusal (results.ts, refused)
      if (refusal(ctx, onePipe('aqm', pipe))) continue;
      await applyProfile(ctx.vm, onEngine(ctx, onePipe(`aqm-${rows.length}`, pipe)));
      const dropsBefore = await pipeDrops(ctx.vm, 'p');
      const bulk = iperf3Tcp(right, left, { seconds: 15, parallel: 4 });
      await sleep(5_000);
      const { shaped, base } = await pingWithBaseline(ctx, { count: ctx.n(50, 20), intervalS: 0.15 });
      const flows = await bulk;
      const dropsAfter = await pipeDrops(ctx.vm, 'p');
      const q = shaped.rttsMs.map((r) => r - median(base.rttsMs));
      rows.push({
        how,
        pipe,
        pingsSent: shaped.sent,
        pingsReceived: shaped.received,
        queueingMedianMs: round(median(q), 1),
        queueingP90Ms: round(percentile(q, 90), 1),
        goodputRatio: round(flows.goodputBps / (AQM_BW * TCP_EFFICIENCY)),
        drops: dropsAfter.overflow + dropsAfter.random - dropsBefore.overflow - dropsBefore.random,
      });
      ctx.log(`   ${how}: ping queueing delay median ${rows.at(-1)!.queueingMedianMs} ms, p90 ${rows.at(-1)!.queueingP90Ms} ms; goodput ${(rows.at(-1)!.goodputRatio * 100).toFixed(1)} % of ideal`);
    }
  } finally {
    await right.exec(['sysctl', '-qw', `net.ipv4.tcp_congestion_control=${before || 'cubic'}`]);
  }
  return rows;
}
