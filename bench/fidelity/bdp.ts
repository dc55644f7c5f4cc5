// Large bandwidth-delay product: 100 Mbit/s with 100 ms each way (RTT 200 ms, BDP 2.5 MB ≈ 1650
// full frames). One TCP flow's goodput with picowire's default queue (2 × bw × delay), with a fixed
// 1000-packet queue, and with the wrapper way: `netem delay 100ms rate 100mbit` on both ports, whose
// default limit of 1000 packets holds the ~825 in the delay line as well as the queue.
import { runOnConsole } from '../../src/lab/console.ts';
import { iperf3Tcp } from '../../src/lab/measure.ts';
import { median } from '../../src/lab/stats.ts';
import { applyProfile, round, steadyBps, TCP_EFFICIENCY, wrapper, type Ctx, type Profile } from './common.ts';

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
}

const wan = (name: string, extra: Record<string, unknown> = {}): Profile => ({ name, pipes: { wan: { bw: '100Mbit/s', delay: '100ms', ...extra } }, rules: [{ pipe: 'wan' }] });

async function runs(ctx: Ctx): Promise<{ bps: number[]; retransmits: number[] }> {
  const bps: number[] = [];
  const retransmits: number[] = [];
  for (let i = 0; i < ctx.n(2, 1); i++) {
    const r = await iperf3Tcp(ctx.lab.left, ctx.lab.right, { seconds: ctx.n(12, 6), omitS: 4, reverse: true });
    bps.push(round(steadyBps(r.json), 0));
    retransmits.push(r.retransmits);
  }
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
    await applyProfile(ctx.vm, profile);
    const r = row(how, queue, await runs(ctx));
    ctx.log(`   ${r.how}: ${(r.ratio * 100).toFixed(1)} % of ideal (${r.tcpBps.join(', ')}), retransmits ${r.retransmits.join(', ')}`);
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
