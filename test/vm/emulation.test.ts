// The emulation model against real traffic (issue 4): the seed's own ipfw examples (an asymmetric
// link on a port range, a per-/24 shaper with weighted queues), a queue that overflows, random loss,
// jitter and masks, each booted in the real image with its profile (fw_cfg) and measured from the
// lab's two hosts. Left (198.18.0.1) is on port a, the inside: ipfw `out` = from a = left → right;
// `in` = from b = right → left.
//
// Tolerances: each assertion states the ideal (from the profile and header overheads) and how far a
// measurement may stray, from runs of this file under QEMU TCG on a loaded 2-core machine (values in
// the comments; t.log prints each run's). They stay narrow enough that a pipe that is missing, shared
// where it should not be, or mis-sized fails.
import { join } from 'node:path';
import { parseIpfw } from '../../src/ipfw/index.ts';
import { runOnConsole } from '../../src/lab/console.ts';
import { addHostAddress, type TestHost } from '../../src/lab/hosts.ts';
import { withLab } from '../../src/lab/lab.ts';
import { pingRtt, tcpFlow, udpEchoRtt } from '../../src/lab/measure.ts';
import { binomialInterval, median, percentile, stddev } from '../../src/lab/stats.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';
import { SEED_2_2, SEED_2_3 } from '../helpers/seed.ts';
import { overflow, pipeCounters, seed22, seed23 } from '../helpers/fidelity.ts';

const PXE = join(IMAGES, 'default-pxe');
const NEEDS = ['root', 'qemu', 'image'] as const;
const json = (p: object) => JSON.stringify(p);
/** TCP payload per full-size frame as tc counts it (1448 bytes of data with timestamps in 1514): the ideal goodput / link rate */
const TCP_EFFICIENCY = 1448 / 1514;
const kbit = (bps: number) => `${(bps / 1e3).toFixed(1)} kbit/s`;
const ms = (v: number) => `${v.toFixed(2)} ms`;

/** The same host reached at another of its addresses (for ping and servers bound to it). */
const at = (host: TestHost, address: string): TestHost => ({ ...host, address });


testNeeding([...NEEDS], 'seed 2.2: on ports 2000-3000 the link is 256 Kbit/s + 20 ms up and 4 Mbit/s + 5 ms down; other traffic is unshaped', async (t) => {
  await withLab(PXE, 'direct', json(parseIpfw(SEED_2_2, 'seed-2-2')), async (lab) => {
    await seed22(t, lab);
  });
});

testNeeding([...NEEDS], 'seed 2.3: each source /24 gets its own 1 Mbit/s pipe, and within one, queues share it 10:4', async (t) => {
  await withLab(PXE, 'direct', json(parseIpfw(SEED_2_3, 'seed-2-3')), async (lab, vm) => {
    await seed23(t, lab, vm, 'tc');
  });
});

testNeeding([...NEEDS], "a 10-packet queue at 1 Mbit/s overflows under 3 Mbit/s: picowire status counts the drops as overflow, none as random loss, and 1 Mbit/s arrives", async (t) => {
  const profile = json({ name: 'overflow', pipes: { up: { bw: '1Mbit/s', queue: 10 } }, rules: [{ from: 'a', pipe: 'up' }] });
  await withLab(PXE, 'direct', profile, async (lab, vm) => {
    await overflow(t, lab, vm);
  });
});

testNeeding([...NEEDS], 'plr 0.02 one way: ping loss over 2400 pings falls in the 99.9 % binomial interval, and picowire status counts each loss as random', async (t) => {
  const profile = json({ name: 'plr2', pipes: { up: { plr: 0.02 } }, rules: [{ from: 'a', pipe: 'up' }] });
  await withLab(PXE, 'direct', profile, async (lab, vm) => {
    const before = await pipeCounters(vm, 'up');
    const ping = await pingRtt(lab.left, lab.right, { count: 2400, intervalS: 0.005 });
    const after = await pipeCounters(vm, 'up');
    const lost = ping.sent - ping.received;
    const random = after.randomDrops - before.randomDrops;
    // runs: 49, 48, 52, 41 and (CI) 29 lost of 2400; expected 48. At 99 % a working pipe fails one
    // run in a hundred, and CI failed on 29 so; the 99.9 % interval is [27, 72]
    const [lo, hi] = binomialInterval(ping.sent, 0.02, 0.999);
    t.log(`${lost} of ${ping.sent} lost (${((lost / ping.sent) * 100).toFixed(2)} %), 99.9 % interval [${lo}, ${hi}]; status: ${random} random, ${after.overflowDrops - before.overflowDrops} overflow`);
    t.true(lost >= lo && lost <= hi, `${lost} lost, outside [${lo}, ${hi}]`);
    // each lost echo request was dropped by the pipe's random loss, not elsewhere; an ARP request
    // from the left host crosses the pipe too and may be dropped without costing a ping
    t.true(random >= lost && random <= lost + 2, `the pipe counts ${random} random drops for ${lost} lost pings`);
  });
});

testNeeding([...NEEDS], 'jitter: 20 ms ± normal 5 ms one way gives a ping RTT median of 20 ms + baseline and a spread of 5 ms', async (t) => {
  const profile = json({
    name: 'jitter',
    pipes: { jit: { delay: '20ms', jitter: { spread: '5ms', distribution: 'normal' } } },
    // only towards the right host's own address: its second address gives the baseline
    rules: [{ from: 'a', dst: '198.18.0.2', pipe: 'jit' }],
  });
  await withLab(PXE, 'direct', profile, async (lab) => {
    await addHostAddress(lab.right, '198.18.2.2', [lab.left]);
    const base = await pingRtt(lab.left, at(lab.right, '198.18.2.2'), { count: 100, intervalS: 0.025 });
    const baseMs = median(base.rttsMs);
    // 25 ms apart: the delay line keeps order (rate 100gbit), which only holds a packet back when
    // its predecessor's delay exceeds its own by 25 ms (5 σ): the spread is not shrunk
    const ping = await pingRtt(lab.left, lab.right, { count: 400, intervalS: 0.025 });
    const rtts = ping.rttsMs;
    const med = median(rtts);
    const sd = stddev(rtts);
    const iqr = percentile(rtts, 75) - percentile(rtts, 25);
    t.log(`baseline median ${ms(baseMs)} (stddev ${ms(stddev(base.rttsMs))}); jittered: median ${ms(med)}, stddev ${ms(sd)}, IQR ${ms(iqr)} (normal: σ 5, IQR 6.74), min ${ms(Math.min(...rtts))}, max ${ms(Math.max(...rtts))}`);
    t.is(ping.received, ping.sent, 'jitter loses nothing');
    // The median and the IQR, not the mean and stddev: when other VMs load the machine the lab adds
    // outliers of tens of ms (run 1: baseline stddev 26 ms, max RTT 153 ms), which blow the stddev up
    // (13 ms then) but move the quartiles little. The median of 400 normal draws has a standard
    // error of 1.25 σ/√400 = 0.31 ms: below 20 ms + baseline by more than 0.8 ms (2.5 SE) means a
    // shorter delay; above, the lab's noise (only ever adds) gets 3 ms, as in lab.test.ts (runs: +1.0, +2.5).
    const extra = med - baseMs;
    t.true(extra > 20 - 0.8 && extra < 20 + 3, `median ${med} ms − baseline ${baseMs} ms = ${extra} ms ≈ 20 ms`);
    // a normal σ = 5 ms has IQR 1.349 σ = 6.74 ms (standard error ≈ 0.4 ms for 400 draws); a uniform
    // ±5 ms would give 5 ms, no jitter ~0.3 ms. Lab noise only widens it: runs 6.80 ms (quiet), 8.63 ms (loaded).
    t.true(iqr > 5.6 && iqr < 9.5, `RTT IQR ${iqr} ms ≈ 1.349 × 5 ms = 6.74 ms`);
  });
});

testNeeding([...NEEDS], 'a dst-port mask gives each flow its own 2 Mbit/s pipe; without it two flows share one', async (t) => {
  const profile = json({
    name: 'mask',
    pipes: { masked: { bw: '2Mbit/s', mask: { dstPort: '0xffff' } }, shared: { bw: '2Mbit/s' } },
    rules: [
      // 5301 and 5317 share their low four bits: their own instances all the same
      { from: 'a', dstPort: [5301, 5317], pipe: 'masked' },
      { from: 'a', dstPort: '5401-5402', pipe: 'shared' },
    ],
  });
  await withLab(PXE, 'direct', profile, async (lab) => {
    const { left, right } = lab;
    const ideal = 2e6 * TCP_EFFICIENCY;
    const flows = (ports: number[]) => Promise.all(ports.map((port) => tcpFlow(left, right, { port, seconds: 12, omitS: 3 })));
    const masked = (await flows([5301, 5317])).map((r) => r.goodputBps);
    const shared = (await flows([5401, 5402])).map((r) => r.goodputBps);
    const sum = (xs: number[]) => xs[0]! + xs[1]!;
    t.log(`masked: ${masked.map(kbit).join(' + ')} = ${kbit(sum(masked))}; shared: ${shared.map(kbit).join(' + ')} = ${kbit(sum(shared))} (ideal per pipe ${kbit(ideal)})`);
    // runs: 97.8/99.5 %, 99.9/100.0 %, 96.7/97.4 % of the ideal; half a pipe would be ~50 %
    for (const g of masked) t.true(g > 0.85 * ideal && g < 1.05 * ideal, `masked flow ${g} bit/s has a 2 Mbit/s pipe of its own`);
    // each flow's rate is over its own 9 s window; the two start a few hundred ms apart, and a flow
    // alone in the pipe meanwhile lifts the sum a little above one pipe's ideal (runs: 103.2 %, 99.8 %, 103.4 %)
    t.true(sum(shared) > 0.85 * ideal && sum(shared) < 1.08 * ideal, `the unmasked pipe's flows share 2 Mbit/s (${sum(shared)} bit/s)`);
    t.true(sum(masked) > 1.6 * sum(shared), 'two masked instances carry about twice what one pipe does');
  });
});

// One UDP datagram to each of `count` distinct (source port, destination port) pairs, 500 every
// 50 ms (the tap drops what QEMU cannot take at once, and a dropped datagram adds no key).
const UDP_SPRAY = `const [to, count] = process.argv.slice(1);
const s = [20001, 20002].map((port) => { const x = require('node:dgram').createSocket('udp4'); x.bind(port); return x; });
const b = Buffer.alloc(8); let i = 0;
const burst = () => { for (let k = 0; k < 500 && i < Number(count); k++, i++) s[i % 2].send(b, 1 + (i >> 1), to); if (i < Number(count)) setTimeout(burst, 50); else setTimeout(() => process.exit(0), 1000); };
setTimeout(burst, 100);`;

testNeeding([...NEEDS], 'a masked pipe whose map of keys is full hashes a new key onto its instances instead of letting it through unshaped', async (t) => {
  const profile = json({ name: 'full', pipes: { fan: { delay: '40ms', mask: { srcPort: '0xffff', dstPort: '0xffff' }, buckets: 4 } }, rules: [{ from: 'a', proto: 'udp', pipe: 'fan' }] });
  await withLab(PXE, 'direct', profile, async (lab, vm) => {
    const { left, right } = lab;
    const base = await udpEchoRtt(left, right, { port: 7001, count: 20, intervalMs: 50, sport: 7101 });
    // 120000 keys for a map that holds 65536 (src-port 20001/20002 × dst-port 1..60000): room for
    // the datagrams a slower machine's tap drops (runs: 80000 sent filled it)
    const spray = await left.exec([process.execPath, '-e', UDP_SPRAY, right.address, '120000'], { timeoutMs: 120_000 });
    t.is(spray.exitCode, 0, spray.stderr);
    const count = await runOnConsole(vm, "dmesg -n 1; echo KEYS $(nft -j list map bridge picowire pipe0_srcport_dstport | grep -o '\"expires\"' | wc -l)", 120_000);
    const keys = Number(/KEYS (\d+)/.exec(count)?.[1]);
    t.log(`keys in the map after the spray: ${keys}`);
    t.true(keys >= 65536, `the spray filled the map (${keys} keys of 65536)`);
    // a key the full map cannot take: still 40 ms one way (an unshaped one would come back in ~1 ms)
    const fresh = await udpEchoRtt(left, right, { port: 7002, count: 20, intervalMs: 50, sport: 7102 });
    // the first key, idle through the spray, has aged; a packet of it renews its 60 s
    const expires = async () => {
      const out = await runOnConsole(vm, "nft get element bridge picowire pipe0_srcport_dstport '{ 7101 . 7001 }'", 60_000);
      const m = /expires (?:(\d+)m)?(?:(\d+)s)?/.exec(out);
      if (!m) throw new Error(`no expiry for the first key in: ${out}`);
      return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
    };
    const aged = await expires();
    await udpEchoRtt(left, right, { port: 7001, count: 3, intervalMs: 50, sport: 7101 });
    const renewed = await expires();
    t.log(`the first key expires in ${aged} s after the spray, ${renewed} s after three more packets`);
    // without renewal it would only have aged further (the spray alone takes 13 s, so aged <= 47);
    // reading it back over the console takes a few seconds (runs: 55, 56 s)
    t.true(renewed > aged && renewed >= 45, 'a packet renews its key');
    const [took, couldNot] = [median(base.rttsMs), median(fresh.rttsMs)];
    t.log(`echo RTT median: ${ms(took)} on a key the map took, ${ms(couldNot)} on one it could not (${base.received} and ${fresh.received} of 20 came back)`);
    t.true(took >= 40, `the first key crosses the 40 ms pipe (${took} ms)`);
    t.true(couldNot >= 40, `a key beyond the full map still crosses the 40 ms pipe (${couldNot} ms)`);
  });
});
