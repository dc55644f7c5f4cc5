// Measurements of the emulation that hold on either engine (tc and dummynet), each a function of
// a booted lab with its profile in force: the VM tests of each engine (emulation.test.ts,
// dummynet.test.ts) boot the image with their profile and call these, so both engines are held to
// the same assertions and tolerances (see emulation.test.ts's header for where they come from).
import type { ExecutionContext } from 'ava';
import { runOnConsole } from '../../src/lab/console.ts';
import type { Lab } from '../../src/lab/hosts.ts';
import { pingRtt, tcpFlow, udpEchoRtt, udpFlow } from '../../src/lab/measure.ts';
import { median, percentile } from '../../src/lab/stats.ts';
import type { Vm } from '../../src/lab/qemu.ts';
import type { PipeStatus, Status } from '../../src/agent/status.ts';

/** TCP payload per full-size frame as tc counts it (1448 bytes of data with timestamps in 1514): the ideal goodput / link rate */
const TCP_EFFICIENCY = 1448 / 1514;
const kbit = (bps: number) => `${(bps / 1e3).toFixed(1)} kbit/s`;
const ms = (v: number) => `${v.toFixed(2)} ms`;

/** Seed 2.2 (the profile of SEED_2_2 in force): on ports 2000-3000 the link is 256 Kbit/s + 20 ms up and 4 Mbit/s + 5 ms down; other traffic is unshaped. */
export async function seed22(t: ExecutionContext, lab: Lab): Promise<void> {
  const { left, right } = lab;
  // ping is ICMP: no port, so rules 100 and 200 never match it and it crosses unshaped (rule 300)
  const ping = await pingRtt(left, right, { count: 30, intervalS: 0.05 });
  const pingMs = median(ping.rttsMs);
  t.log(`ping RTT median ${ms(pingMs)} (ICMP, not on the port range)`);
  t.true(pingMs < 10, `ping (${pingMs} ms) does not cross the 25 ms of pipes 10 and 11`);

  // RTT on the ports: a UDP echo on port 2500 goes out through pipe 10 (dst-port 2500) and comes
  // back through pipe 11 (src-port 2500); one on port 5000, at the same time so it sees the same
  // load, crosses unshaped and gives the baseline of this measurement (node's own overhead
  // included). A 100-byte payload is a 142-byte frame: 4.44 ms at 256 Kbit/s and 0.28 ms at
  // 4 Mbit/s, so the pipes add 20 + 5 + 4.72 = 29.72 ms.
  const echoArgs = { count: 40, intervalMs: 100, size: 100 };
  const [unshapedEcho, shapedEcho] = await Promise.all([
    udpEchoRtt(left, right, { port: 5000, ...echoArgs }),
    udpEchoRtt(left, right, { port: 2500, ...echoArgs }),
  ]);
  const ideal = 20 + 5 + ((142 * 8) / 256e3) * 1e3 + ((142 * 8) / 4e6) * 1e3;
  const q = (r: { rttsMs: number[] }) => ({ min: Math.min(...r.rttsMs), p25: percentile(r.rttsMs, 25), med: median(r.rttsMs) });
  const [base, shaped] = [q(unshapedEcho), q(shapedEcho)];
  t.log(`UDP echo RTT, port 5000: min ${ms(base.min)} p25 ${ms(base.p25)} median ${ms(base.med)}; port 2500: min ${ms(shaped.min)} p25 ${ms(shaped.p25)} median ${ms(shaped.med)} (ideal ${ms(ideal)} + baseline)`);
  t.is(shapedEcho.received, shapedEcho.sent, 'no echo on port 2500 lost');
  t.true(base.med < 10, `port 5000 (${base.med} ms) is unshaped`);
  t.true(shaped.min >= ideal - 0.5, 'no echo on port 2500 beats the two pipes (0.5 ms: timer slack)');
  // The lower quartiles, not the medians: when other VMs load the machine, node's echo (four
  // processes waking per exchange) is late for a good part of the samples (one run: median 37.0 ms
  // for an ideal + baseline of 31.8). Lower quartile over the baseline's, quiet runs: +1.7, +1.1,
  // +2.2 ms (medians then); 3 ms over the ideal allows ~1 ms of TCG scheduling per direction. A
  // reply through pipe 10 instead of 11 would add 19 ms, a missing pipe 11 take 5 ms away.
  t.true(shaped.p25 - base.p25 <= ideal + 3, `port 2500 lower-quartile RTT ${shaped.p25} ms within 3 ms of ${ideal} + ${base.p25}`);

  // goodput to the server's port 2500: up crosses pipe 10, down (-R) pipe 11; 12 s, the first 3
  // left out (slow start into the 43-packet default queue, which holds 2 s at 256 Kbit/s)
  const up = await tcpFlow(left, right, { port: 2500, seconds: 12, omitS: 3 });
  const down = await tcpFlow(left, right, { port: 2500, seconds: 12, omitS: 3, reverse: true });
  const upRatio = up.goodputBps / (256e3 * TCP_EFFICIENCY);
  const downRatio = down.goodputBps / (4e6 * TCP_EFFICIENCY);
  t.log(`port 2500: up ${kbit(up.goodputBps)} (${(upRatio * 100).toFixed(1)} % of the ideal ${kbit(256e3 * TCP_EFFICIENCY)}), down ${kbit(down.goodputBps)} (${(downRatio * 100).toFixed(1)} % of ${kbit(4e6 * TCP_EFFICIENCY)})`);
  // the ideal is 1448/1514 of the link (runs: up 100.6/100.2/100.3 %, down 97.0/98.5/98.7 %); up to
  // 4 % above (a 9 s window's edges cut packets in flight: one frame is 47 ms at 256 Kbit/s), 12 %
  // below (losses when slow start overflows the queue, ACK clocking on a loaded host)
  t.true(upRatio > 0.88 && upRatio < 1.04, `up goodput ${up.goodputBps} bit/s is 256 Kbit/s less headers`);
  t.true(downRatio > 0.88 && downRatio < 1.04, `down goodput ${down.goodputBps} bit/s is 4 Mbit/s less headers`);

  // port 5201 is outside 2000-3000 both ways: rule 300 lets it through unshaped
  const freeUp = await tcpFlow(left, right, { port: 5201, seconds: 4 });
  const freeDown = await tcpFlow(left, right, { port: 5201, seconds: 4, reverse: true });
  t.log(`port 5201: up ${kbit(freeUp.goodputBps)}, down ${kbit(freeDown.goodputBps)}`);
  t.true(freeUp.goodputBps > 10 * 4e6, 'upload outside the port range is far faster than either pipe');
  t.true(freeDown.goodputBps > 10 * 4e6, 'download outside the port range is far faster than either pipe');
}

/** A 10-packet queue at 1 Mbit/s on pipe "up" from a (the profile in force) under 3 Mbit/s: status counts the drops as overflow, none as random loss, and 1 Mbit/s arrives. */
export async function overflow(t: ExecutionContext, lab: Lab, vm: Vm): Promise<void> {
  const before = await pipeCounters(vm, 'up');
  const udp = await udpFlow(lab.left, lab.right, { port: 5201, seconds: 6, rateBps: 3e6, lengthBytes: 1200 });
  const after = await pipeCounters(vm, 'up');
  const overflow = after.overflowDrops - before.overflowDrops;
  const random = after.randomDrops - before.randomDrops;
  // 1200-byte datagrams are 1242-byte frames: 1 Mbit/s of frames carries 966 kbit/s of payload
  const ideal = (1e6 * 1200) / 1242;
  t.log(`UDP ${udp.sentPackets} sent, ${udp.lostPackets} lost, ${kbit(udp.deliveredBps)} delivered (ideal ${kbit(ideal)}); status: ${overflow} overflow, ${random} random`);
  t.is(random, 0, 'no random loss is configured, and none is counted');
  // two thirds of 3 Mbit/s cannot leave through 1 Mbit/s
  t.true(overflow > 0.5 * udp.sentPackets, `the queue dropped ${overflow} of ${udp.sentPackets}`);
  // every datagram iperf3 missed was dropped at the queue (a few of the iperf3 control connection's
  // packets may be dropped there too; runs: 1263 drops for 1261 datagrams lost)
  t.true(Math.abs(overflow - udp.lostPackets) <= 0.02 * udp.sentPackets + 5, `overflow drops ${overflow} ≈ UDP lost ${udp.lostPackets}`);
  // runs: 943.6 kbit/s (97.7 %); iperf3 divides by the sender's 6 s, the queue drains 0.1 s after
  t.true(udp.deliveredBps > 0.9 * ideal && udp.deliveredBps < 1.05 * ideal, `delivered ${udp.deliveredBps} bit/s ≈ 1 Mbit/s less headers`);
}

/** `picowire status --json` on the appliance. */
export async function readStatus(vm: Vm): Promise<Status> {
  // kernel messages on the console would cut into the JSON: keep them off it first
  const out = await runOnConsole(vm, 'dmesg -n 1; picowire status --json', 60_000);
  return JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as Status;
}

/** Pipe `name`'s counters as `picowire status --json` reports them on the appliance. */
export async function pipeCounters(vm: Vm, name: string): Promise<PipeStatus> {
  const status = await readStatus(vm);
  const pipe = status.pipes.find((p) => p.pipe === name);
  if (!pipe) throw new Error(`picowire status shows no pipe ${name}: ${JSON.stringify(status)}`);
  return pipe;
}

