// Large bandwidth-delay product: 100 Mbit/s with 100 ms each way (RTT 200 ms, BDP 2.5 MB ≈ 1650
// full frames). One TCP flow's goodput with picowire's default queue (2 × bw × delay), with a fixed
// 1000-packet queue, and with the wrapper way: `netem delay 100ms rate 100mbit` on both ports, whose
// default limit of 1000 packets holds the ~825 in the delay line as well as the queue.
//
// The hosts' TCP buffers are raised to 32 MB for this step, as anyone measuring a long fat path
// does: Linux's default tcp_wmem maximum of 4 MB holds about 2 MB of data in flight once the
// socket's overhead is counted, less than the 2.5 MB the path holds, so the sender, not the link,
// set the pace (65–71 % of ideal with 4 MB, 96 % with 32 MB, in scratch boots on this 2-core EPYC).
import { runOnConsole } from '../../src/lab/console.ts';
import { iperf3Tcp } from '../../src/lab/measure.ts';
import { median } from '../../src/lab/stats.ts';
import { applyProfile, onEngine, pipeDrops, round, steadyBps, TCP_EFFICIENCY, wrapper, type Ctx, type Profile } from './common.ts';

const RATE = 100e6;
export const BDP_IDEAL_BPS = RATE * TCP_EFFICIENCY;

export interface BdpRow {
  how: string;
  commands?: string[];
  /** what bounds the packets the bottleneck holds */
  queue: string;
  tcpBps: number[];
  medianBps: number;
  ratio: number;
  retransmits: number[];
  /** frames the pipe's queue dropped over all runs, slow start included (picowire only: from its counters) */
  overflowDrops?: number;
}

const wan = (name: string, extra: Record<string, unknown> = {}): Profile => ({ name, pipes: { wan: { bw: '100Mbit/s', delay: '100ms', ...extra } }, rules: [{ pipe: 'wan' }] });

/** net.ipv4 sysctls of the hosts' namespaces for this step: TCP buffers of up to 32 MB (min, default, max) */
const LARGE_BUFFERS = { tcp_wmem: '4096 16384 33554432', tcp_rmem: '4096 131072 33554432' };

/** Sets `values` in both hosts' namespaces for the length of fn, then puts back what was there. */
async function withSysctls<T>(ctx: Ctx, values: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const hosts = [ctx.lab.left, ctx.lab.right];
  const set = async (v: Record<string, string>) => {
    for (const host of hosts) {
      const r = await host.exec(['sysctl', '-q', '-w', ...Object.entries(v).map(([k, x]) => `net.ipv4.${k}=${x}`)]);
      if (r.exitCode !== 0) throw new Error(`sysctl in ${host.netns}: ${r.stderr.trim()}`);
    }
  };
  const before: Record<string, string> = {};
  for (const k of Object.keys(values)) before[k] = (await ctx.lab.left.exec(['sysctl', '-n', `net.ipv4.${k}`])).stdout.trim().replace(/\s+/g, ' ');
  await set(values);
  try {
    return await fn();
  } finally {
    await set(before);
  }
}

async function runs(ctx: Ctx): Promise<{ bps: number[]; retransmits: number[] }> {
  const bps: number[] = [];
  const retransmits: number[] = [];
  await withSysctls(ctx, LARGE_BUFFERS, async () => {
    for (let i = 0; i < ctx.n(2, 1); i++) {
      const r = await iperf3Tcp(ctx.lab.left, ctx.lab.right, { seconds: ctx.n(12, 6), omitS: 4, reverse: true });
      bps.push(round(steadyBps(r.json), 0));
      retransmits.push(r.retransmits);
    }
  });
  return { bps, retransmits };
}

function row(how: string, queue: string, r: { bps: number[]; retransmits: number[] }, commands?: string[]): BdpRow {
  const med = median(r.bps);
  return { how, commands, queue, tcpBps: r.bps, medianBps: round(med, 0), ratio: round(med / BDP_IDEAL_BPS, 4), retransmits: r.retransmits };
}

/** picowire with its default queue and with a fixed 1000-packet one. */
export async function measureBdp(ctx: Ctx): Promise<BdpRow[]> {
  const rows: BdpRow[] = [];
  for (const [profile, how, queue] of [
    [wan('bdp-default'), 'picowire, default queue', '2 × bw × delay = 1651 packets'],
    [wan('bdp-q1000', { queue: 1000 }), 'picowire, queue 1000', '1000 packets, delay line apart'],
  ] as const) {
    await applyProfile(ctx.vm, onEngine(ctx, profile));
    const before = await pipeDrops(ctx.vm, 'wan');
    const r = row(how, queue, await runs(ctx));
    r.overflowDrops = (await pipeDrops(ctx.vm, 'wan')).overflow - before.overflow;
    ctx.log(`   ${r.how}: ${(r.ratio * 100).toFixed(1)} % of ideal (${r.tcpBps.join(', ')}), retransmits ${r.retransmits.join(', ')}, queue overflow ${r.overflowDrops}`);
    rows.push(r);
  }
  return rows;
}

export async function measureBdpWrapper(ctx: Ctx): Promise<BdpRow> {
  const commands = await wrapper(ctx.vm, ['tc qdisc add dev a root netem delay 100ms rate 100mbit', 'tc qdisc add dev b root netem delay 100ms rate 100mbit']);
  const r = row('netem delay + rate', '1000 packets, delay line included (netem default)', await runs(ctx), commands);
  ctx.log(`   ${r.how}: ${(r.ratio * 100).toFixed(1)} % of ideal (${r.tcpBps.join(', ')}), retransmits ${r.retransmits.join(', ')}`);
  return r;
}
