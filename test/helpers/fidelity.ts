// Measurements of the emulation that hold on either engine (tc and dummynet), each a function of
// a booted lab with its profile in force: the VM tests of each engine (emulation.test.ts,
// dummynet.test.ts) boot the image with their profile and call these, so both engines are held to
// the same assertions and tolerances (see emulation.test.ts's header for where they come from).
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { runOnConsole } from '../../src/lab/console.ts';
import { addHostAddress, type Lab } from '../../src/lab/hosts.ts';
import { pingRtt, tcpFlow, udpEchoRtt, udpFlow } from '../../src/lab/measure.ts';
import { median, percentile } from '../../src/lab/stats.ts';
import type { Vm } from '../../src/lab/qemu.ts';
import type { PipeStatus, QueueStatus, Status } from '../../src/agent/status.ts';

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

export type Engine = 'tc' | 'dummynet';

/**
 * Seed 2.3 (the profile of SEED_2_3 in force): each source /24 gets its own 1 Mbit/s pipe instance
 * (mask src-ip 0xffffff00), and within one, queue 1 (dst-port 22, weight 10) and queue 2 (weight 4)
 * share it 10:4 under QFQ. `in` = entering on b = from the right host.
 */
export async function seed23(t: ExecutionContext, lab: Lab, vm: Vm, engine: Engine): Promise<void> {
  const { left, right } = lab;
  // `in` = entering on b = from the right host; two more of its addresses in two other /24s
  await addHostAddress(right, '198.18.2.2', [left]);
  // 198.18.18.0/24, not .3.0/24: a key that shares its low masked bits with 198.18.2.0/24, which a
  // bucket chosen by hash or by low bits would put in the same instance; each key gets its own
  await addHostAddress(right, '198.18.18.2', [left]);
  const ideal = 1e6 * TCP_EFFICIENCY;

  // 198.18.2.0/24 and 198.18.18.0/24: two pipe instances (mask src-ip 0xffffff00), each 1 Mbit/s
  const [a, b] = await Promise.all([
    tcpFlow(right, left, { port: 5301, bind: '198.18.2.2', seconds: 12, omitS: 3 }),
    tcpFlow(right, left, { port: 5302, bind: '198.18.18.2', seconds: 12, omitS: 3 }),
  ]);
  t.log(`two /24s at once: ${kbit(a.goodputBps)} and ${kbit(b.goodputBps)} (ideal ${kbit(ideal)} each)`);
  // runs: 95.4/94.6 %, 100.3/99.8 %, 97.6/97.5 % of the ideal (tbf's one-frame burst); sharing one pipe would give ~50 %
  for (const g of [a, b]) t.true(g.goodputBps > 0.85 * ideal && g.goodputBps < 1.05 * ideal, `${g.goodputBps} bit/s: a pipe of its own (not half of one)`);
  const keyed = await seed23Instances(vm, engine);
  t.log(`instances: ${keyed.join('; ')}`);
  t.true(keyed.some((k) => k.endsWith(': 198.18.2.0')) && keyed.some((k) => k.endsWith(': 198.18.18.0')), `each /24 has an instance of its own: ${keyed.join('; ')}`);

  // one source: one pipe instance; dst-port 22 goes to queue 1 (weight 10), 5303 to queue 2 (weight 4).
  // The scheduler's split is exact only while both queues are backlogged, so it is measured there:
  // two UDP flows that each alone would fill the pipe, and the queues' counters read twice while
  // both hold packets. Two TCP flows ranged 2.22-3.29 over 15 runs (the sawtooth empties a queue
  // now and then); iperf3's own UDP totals count the two 50-packet tails that drain after the
  // senders stop.
  const frame = 1242; // a 1200-byte datagram on the wire
  const flows = Promise.all([
    udpFlow(right, left, { port: 22, seconds: FLOW_S, rateBps: 1e6 }),
    udpFlow(right, left, { port: 5303, seconds: FLOW_S, rateBps: 1e6 }),
  ]);
  const started = Date.now();
  // queue 1 fills in ~1.7 s (it gains 286 kbit/s), queue 2 in ~0.7 s
  await sleep(4000);
  const first = await weightedQueues(vm, engine);
  await sleep(4000);
  const second = await weightedQueues(vm, engine);
  const windowEndS = (Date.now() - started) / 1000;
  const [ssh, other] = await flows;
  t.true(windowEndS < FLOW_S, `both readings (done at ${windowEndS.toFixed(1)} s) fall inside the ${FLOW_S} s flows`);
  for (const [when, queues] of [['first', first], ['second', second]] as const) {
    for (const [name, q] of Object.entries(queues)) t.true(q.backlog.packets > 0, `${name} is backlogged at the ${when} reading (${q.backlog.packets} packets)`);
  }
  // what each queue sent: tc counts bytes sent; dummynet's bytes are what arrived at the queue
  // (drops included), its packets what went on, all of them 1242-byte frames here
  const sent = (q: 'q1' | 'q2') => (engine === 'tc' ? second[q].bytes - first[q].bytes : (second[q].packets - first[q].packets) * frame);
  const ratio = sent('q1') / sent('q2');
  const sum = ssh.deliveredBps + other.deliveredBps;
  const ideal1200 = (1e6 * 1200) / frame;
  t.log(`one /24, backlogged: queue 1 sent ${sent('q1')} B, queue 2 ${sent('q2')} B between the readings: ratio ${ratio.toFixed(3)} (ideal 2.50); iperf3: port 22 ${kbit(ssh.deliveredBps)}, port 5303 ${kbit(other.deliveredBps)}, sum ${kbit(sum)} (pipe ${kbit(ideal1200)})`);
  // QFQ serves backlogged classes by weight, a packet at a turn (runs: 2.49-2.52 over six windows
  // of ~420 and ~170 packets; 2.31-2.76 when same-weight classes shared aggregates and took 9
  // frames a turn); equal shares would give 1, strict priority far more than 4
  t.true(ratio > 2.35 && ratio < 2.65, `ratio ${ratio} is 10:4`);
  // both flows share one 1 Mbit/s pipe instance (two would deliver ~2 Mbit/s); iperf3 divides the
  // bytes by its own run plus the queues' drain, and the tails add ~100 datagrams (runs: 101-103 %)
  t.true(sum > 0.9 * ideal1200 && sum < 1.08 * ideal1200, `the two share one 1 Mbit/s pipe (${sum} bit/s)`);
}

/** The UDP flows of the weighted-queue measurement: long enough for two status readings once the queues have filled. */
const FLOW_S = 16;

/**
 * Each pipe instance's key as "instance: key". tc: picowire status names them, as the nft map holds
 * them. dummynet: a scheduler's pipe is one pipe in status (its queues' flows carry the keys), and
 * the per-/24 instances are dummynet's scheduler instances, which `ipfw sched show` lists by key.
 */
async function seed23Instances(vm: Vm, engine: Engine): Promise<string[]> {
  if (engine === 'tc') return (await readStatus(vm)).pipes.filter((p) => p.keys?.length).map((p) => `${p.instance}: ${p.keys!.join(', ')}`);
  const out = await runOnConsole(vm, 'dmesg -n 1; ipfw sched show', 30_000);
  return [...out.matchAll(/^\s*(\d+)\s+\S+\s+(\d+\.\d+\.\d+\.\d+)\/\d+\s/gm)].map((m) => `${m[1]}: ${m[2]}`);
}

/**
 * Queue 1's and queue 2's instances for the right host (198.18.0.2) in seed 2.3's profile. tc: the
 * busy ones in 198.18.0.0/24's pipe instance. dummynet: the queue flows keyed by the host's address
 * (kipfw lists queue 1's as 198.18.0.2 too, under the seed's seven-f mask 0xfffffff).
 */
async function weightedQueues(vm: Vm, engine: Engine): Promise<Record<'q1' | 'q2', QueueStatus>> {
  const status = await readStatus(vm);
  const pipe = engine === 'tc' ? status.pipes.find((p) => p.keys?.includes('198.18.0.0')) : status.pipes[0];
  const q = (name: string) => {
    const found = pipe?.queues.filter((x) => x.queue === name && x.packets > 0 && (engine === 'tc' || /^(198|6)\.18\.0\.2\//.test(x.keys?.[0] ?? '')));
    if (found?.length !== 1) throw new Error(`expected one busy instance of queue ${name} for 198.18.0.2: ${JSON.stringify(pipe ?? status.pipes)}`);
    return found[0]!;
  };
  return { q1: q('1'), q2: q('2') };
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

