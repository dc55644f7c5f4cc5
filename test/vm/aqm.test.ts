// Queue management (issue 19) in the real image, with real traffic, in one boot: the image's own tc
// takes every AQM plan (each profile applied at the console, one after another, so each change
// replaces qdiscs of another kind or parameters in place); codel, pie and fq_codel keep a ping's
// delay low beside a bulk TCP flow where droptail lets it grow to the whole queue; codel with ecn
// marks an ECN flow's packets (CE, counted by nft in the receiver's namespace) where noecn drops
// them; RED's standing queue under a steady overload sits where its configured max_p puts it.
// Left (198.18.0.1) is on port a: the pipes take traffic from a, so data from left to right.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { runOnConsole } from '../../src/lab/console.ts';
import type { TestHost } from '../../src/lab/hosts.ts';
import { withLab } from '../../src/lab/lab.ts';
import { iperf3Tcp, pingRtt, udpFlow } from '../../src/lab/measure.ts';
import type { Vm } from '../../src/lab/qemu.ts';
import { binomialInterval, mean, median, stddev } from '../../src/lab/stats.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const PXE = join(IMAGES, 'default-pxe');
const FRAME_BITS = 1514 * 8;
/** the delay test's link: 10 Mbit/s, a queue of 300 full-size frames (363 ms); four reno flows keep at least 4 × 2 frames (10 ms) in any queue */
const BW = 10e6;
const QUEUE = 300;
const fast = (name: string, extra: object) => ({ name, pipes: { p: { bw: BW, queue: QUEUE, ...extra } }, rules: [{ from: 'a', pipe: 'p' }] });

/** One pipe from a at 2 Mbit/s with this queue management. */
const link = (name: string, extra: object) => ({ name, pipes: { p: { bw: '2Mbit/s', queue: 100, ...extra } }, rules: [{ from: 'a', pipe: 'p' }] });

/** Applies a profile at the console; fails the test with the box's answer unless it was applied. */
async function apply(t: ExecutionContext, vm: Vm, profile: { name: string }): Promise<boolean> {
  const out = await runOnConsole(vm, `echo '${JSON.stringify(profile)}' > /tmp/p.json && picowire apply /tmp/p.json`, 60_000);
  const ok = new RegExp(`applied profile ${profile.name}\\b`).test(out);
  t.true(ok, `the box applies ${profile.name}: ${out.trim()}`);
  return ok;
}

/** Profiles whose plans the image's tc must take, in an order that changes each qdisc's kind or parameters in place. */
const PLANS = [
  link('codel-defaults', { aqm: { type: 'codel' } }),
  link('codel-ecn', { aqm: { type: 'codel', target: '8ms', interval: '160ms', ecn: true } }),
  link('pie-defaults', { aqm: { type: 'pie' } }),
  link('pie-params', { aqm: { type: 'pie', target: '20ms', tupdate: '30ms', alpha: 0.25, beta: 1.5, estimator: 'ts', ecn: true } }),
  link('red-slots', { aqm: { type: 'red', wq: 0.002, minTh: 30, maxTh: 80, maxP: 0.1 } }),
  { name: 'red-bytes', pipes: { p: { bw: '10Mbit/s', queue: '150KB', aqm: { type: 'red', wq: 0.01, minTh: 20000, maxTh: 100000, maxP: 0.05, ecn: true } } }, rules: [{ from: 'a', pipe: 'p' }] },
  link('fq-codel', { scheduler: 'fq_codel', aqm: { type: 'codel', target: '10ms', ecn: false }, fq: { quantum: 3000, limit: 5000, flows: 256 } }),
  // flows changed: Linux refuses to change them in place, so the plan makes the scheduler again
  link('fq-codel-flows', { scheduler: 'fq_codel', fq: { flows: 1024 } }),
  link('fq-pie', { scheduler: 'fq_pie', aqm: { type: 'pie', ecn: true, maxEcnth: 0.25 } }),
  {
    name: 'queues',
    pipes: { p: { bw: '2Mbit/s', aqm: { type: 'pie' } }, d: { bw: '1Mbit/s', scheduler: 'drr' } },
    queues: { c: { pipe: 'p', weight: 10, aqm: { type: 'codel', ecn: true } }, r: { pipe: 'p', weight: 2, queue: 60, aqm: { type: 'red', wq: 0.02, minTh: 5, maxTh: 40, maxP: 0.2 } }, e: { pipe: 'd', weight: 3, aqm: { type: 'pie', estimator: 'ts' } } },
    rules: [{ from: 'a', proto: 'udp', queue: 'c' }, { from: 'a', proto: 'tcp', queue: 'r' }, { from: 'b', queue: 'e' }, { from: 'a', pipe: 'p' }],
  },
  link('droptail', { aqm: { type: 'droptail' } }),
];

/** A ping's RTTs beside bulk TCP from left to right (four flows, as bufferbloat tests load a link): they start, settle for 5 s, then 40 pings 0.2 s apart. */
async function pingUnderLoad(left: TestHost, right: TestHost): Promise<number[]> {
  const bulk = iperf3Tcp(left, right, { seconds: 15, parallel: 4 });
  await sleep(5_000);
  const ping = await pingRtt(left, right, { count: 40, intervalS: 0.2, waitS: 3 });
  await bulk;
  return ping.rttsMs;
}

/** nft counters of CE- and ECT-marked IPv4 packets arriving in a host's namespace (a table of the test's own there). */
async function ecnCounters(host: TestHost, op: 'make' | 'read'): Promise<{ ce: number; ect: number }> {
  const nft = async (args: string[]) => {
    const r = await host.exec(['/usr/sbin/nft', ...args]);
    if (r.exitCode !== 0) throw new Error(`nft ${args.join(' ')} in ${host.name}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  if (op === 'make') {
    const file = join(await mkdtemp(join(tmpdir(), 'pwaqm-')), 'ecn.nft');
    await writeFile(file, 'table inet pwaqm {\n chain in { type filter hook input priority 0; ip ecn ce counter; ip ecn { ect0, ect1 } counter; }\n}\n');
    await host.exec(['/usr/sbin/nft', 'delete', 'table', 'inet', 'pwaqm']);
    await nft(['-f', file]);
  }
  const counts = [...(await nft(['list', 'table', 'inet', 'pwaqm'])).matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
  return { ce: counts[0] ?? NaN, ect: counts[1] ?? NaN };
}

/** One qdisc's line of `tc -s qdisc show dev b` (and the lines under it) on the box. */
async function qdiscStats(vm: Vm, kind: string): Promise<string> {
  const out = await runOnConsole(vm, `tc -s -d qdisc show dev b | grep -A4 '^qdisc ${kind} '`, 30_000);
  return out;
}

testNeeding(['root', 'qemu', 'image'], 'the image\'s tc takes every AQM plan, one after another; RED\'s standing queue under overload sits where its max_p puts it', async (t) => {
  await withLab(PXE, 'direct', JSON.stringify(link('start', {})), async (lab, vm) => {
    const { left, right } = lab;
    await runOnConsole(vm, 'dmesg -n 1', 30_000);

    // 1. the image's tc takes each plan, and RED's w_q is the wlog the plan chose (0.002 -> ewma 9)
    for (const p of PLANS) {
      if (!(await apply(t, vm, p))) continue;
      if (p.name === 'red-slots') t.regex(await qdiscStats(vm, 'red'), /min 45420b max 121120b ewma 9 probability 0\.1\b/, 'red: thresholds as full-size frames, w_q 0.002 as ewma 9');
      if (p.name === 'fq-codel') t.regex(await qdiscStats(vm, 'fq_codel'), /limit 5000p flows 256 quantum 3000 target 10ms interval 100ms/, 'fq_codel as planned');
      if (p.name === 'fq-codel-flows') t.regex(await qdiscStats(vm, 'fq_codel'), /flows 1024 .*target 5ms interval 100ms.*\becn\b/, 'fq_codel made again with 1024 flows, dummynet\'s defaults (ecn on)');
    }

    // 2. RED under a steady UDP overload of full-size frames. In equilibrium RED drops the share d of
    // arrivals that the link cannot carry; RED's drops (dummynet's and Linux's alike) come one in
    // 1..1/p_b packets, uniformly, so d = 2 p_b / (1 + p_b), and p_b = max_p (avg - min_th) / (max_th -
    // min_th): the average queue settles at min_th + (max_th - min_th) (d / (2 - d)) / max_p. From the
    // measured drops (99 % binomial interval of d) that gives an interval for the queue, which the mean
    // of the sampled queue (± 3 standard errors) must meet. A max_p of another value moves it: 0.125
    // instead of 0.25 would double (queue - min_th).
    const red = { wq: 1 / 64, minTh: 10, maxTh: 60, maxP: 0.25 };
    if (await apply(t, vm, link('red-equilibrium', { aqm: { type: 'red', ...red } }))) {
      const flow = udpFlow(left, right, { port: 5320, seconds: 26, rateBps: 2.5e6, lengthBytes: 1472 });
      await sleep(7_000);
      const counts = async () => {
        const s = await qdiscStats(vm, 'red');
        return { sent: Number(/Sent \d+ bytes (\d+) pkt/.exec(s)?.[1]), early: Number(/early (\d+)/.exec(s)?.[1]), pdrop: Number(/pdrop (\d+)/.exec(s)?.[1]) };
      };
      const before = await counts();
      const sampled = await runOnConsole(vm, `for i in $(seq 16); do tc -s qdisc show dev b | grep -A3 '^qdisc red' | grep -o 'backlog [0-9]*b [0-9]*p'; sleep 0.2; done`, 60_000);
      const after = await counts();
      await flow;
      const queue = [...sampled.matchAll(/backlog \d+b (\d+)p/g)].map((m) => Number(m[1]));
      const early = after.early - before.early;
      const arrivals = after.sent - before.sent + early + (after.pdrop - before.pdrop);
      const [lo, hi] = binomialInterval(arrivals, early / arrivals, 0.99).map((k) => k / arrivals) as [number, number];
      const settle = (d: number) => red.minTh + ((red.maxTh - red.minTh) * (d / (2 - d))) / red.maxP;
      const expected: [number, number] = [settle(lo), settle(hi)];
      const err = (3 * stddev(queue)) / Math.sqrt(queue.length);
      const got = mean(queue);
      t.log(`RED: ${early} early drops of ${arrivals} arrivals (d = ${(early / arrivals).toFixed(3)}, 99 % [${lo.toFixed(3)}, ${hi.toFixed(3)}]), limit drops ${after.pdrop - before.pdrop}; queue mean ${got.toFixed(1)} ± ${err.toFixed(1)} packets (${queue.length} samples), expected [${expected[0].toFixed(1)}, ${expected[1].toFixed(1)}]`);
      t.true(queue.length >= 10, 'the queue was sampled');
      t.is(after.pdrop - before.pdrop, 0, 'RED drops early: nothing reaches the queue limit');
      t.true(early > 0, 'RED drops');
      t.true(got + err >= expected[0] && got - err <= expected[1], `the queue settles where max_p ${red.maxP} puts it: ${got.toFixed(1)} ± ${err.toFixed(1)} against [${expected[0].toFixed(1)}, ${expected[1].toFixed(1)}]`);
    }
  });
});

testNeeding(['root', 'qemu', 'image'], 'codel, pie and fq_codel keep a ping\'s delay low beside bulk TCP where droptail lets it grow; codel with ecn marks CE instead of dropping', async (t) => {
  await withLab(PXE, 'direct', JSON.stringify(link('start', {})), async (lab, vm) => {
    const { left, right } = lab;
    await runOnConsole(vm, 'dmesg -n 1', 30_000);

    // the lab's hosts take the host's congestion control, here BBR, which holds its queue by its own
    // minimum window whatever the AQM does (4 flows × 8 packets stayed 190 ms in any queue); a
    // loss-based sender, as FreeBSD's own (NewReno, CUBIC), is what AQM is for: reno, the one a
    // namespace may choose here
    await left.exec(['sysctl', '-qw', 'net.ipv4.tcp_congestion_control=reno']);

    // 1. delay beside bulk TCP. FreeBSD's ipfw(8): CoDel keeps the persistent queue delay near its
    // target (5 ms), PIE near its own (15 ms), fq_codel gives a light flow its own queue; a droptail
    // queue fills (300 frames = 363 ms at 10 Mbit/s). The box is the same; only the pipe's aqm changes.
    const base = median((await pingRtt(left, right, { count: 10, intervalS: 0.1 })).rttsMs);
    const full = (QUEUE * FRAME_BITS) / BW * 1e3;
    const delays: Record<string, number> = {};
    for (const [name, extra] of ([['droptail', {}], ['codel', { aqm: { type: 'codel' } }], ['pie', { aqm: { type: 'pie' } }], ['fq_codel', { scheduler: 'fq_codel' }]] as const)) {
      if (!(await apply(t, vm, fast(`delay-${name.replace('_', '-')}`, extra)))) continue;
      const rtts = await pingUnderLoad(left, right);
      delays[name] = median(rtts) - base;
      t.log(`${name}: ping queueing delay median ${delays[name]!.toFixed(1)} ms (${rtts.length} replies, RTT without load ${base.toFixed(1)} ms; the full queue is ${full.toFixed(0)} ms)`);
    }
    t.true(delays.droptail! > full / 3, `droptail lets the queue grow: ${delays.droptail} ms of ${full.toFixed(0)}`);
    for (const name of ['codel', 'pie', 'fq_codel']) {
      t.true(delays[name]! < delays.droptail! / 4, `${name} keeps the delay under a quarter of droptail's: ${delays[name]} ms against ${delays.droptail} ms`);
    }

    // 2. ECN: the sender asks for ECN (net.ipv4.tcp_ecn=1); codel with ecn marks CE instead of
    // dropping (FreeBSD's ipfw(8): "ecn enables packet marking (instead of dropping) for ECN-enabled
    // TCP flows"), and noecn (the default) drops and marks nothing.
    await left.exec(['sysctl', '-qw', 'net.ipv4.tcp_ecn=1']);
    for (const ecn of [true, false]) {
      if (!(await apply(t, vm, link(ecn ? 'codel-ecn-on' : 'codel-ecn-off', { aqm: { type: 'codel', ecn } })))) continue;
      await ecnCounters(right, 'make');
      // codel's counters outlive a change of its parameters in place: this flow's are the difference
      const codelCounts = async () => {
        const s = await qdiscStats(vm, 'codel');
        return { dropped: Number(/dropped (\d+)/.exec(s)?.[1] ?? NaN), marked: Number(/ecn_mark (\d+)/.exec(s)?.[1] ?? NaN) };
      };
      const before = await codelCounts();
      await iperf3Tcp(left, right, { seconds: 10, parallel: 4 });
      const { ce, ect } = await ecnCounters(right, 'read');
      const after = await codelCounts();
      const dropped = after.dropped - before.dropped;
      const marked = after.marked - before.marked;
      t.log(`codel ${ecn ? 'ecn' : 'noecn'}: the receiver saw ${ce} CE and ${ect} ECT packets; codel marked ${marked}, dropped ${dropped}`);
      t.true(ect > 100, 'the flow is ECN-capable');
      if (ecn) {
        t.true(ce > 0 && marked > 0, 'codel marks CE');
        t.true(dropped <= marked / 10, `codel marks rather than drops: ${dropped} dropped, ${marked} marked`);
      } else {
        t.is(ce, 0, 'noecn marks nothing');
        t.true(dropped > 0, 'noecn drops instead');
      }
    }
    await left.exec(['sysctl', '-qw', 'net.ipv4.tcp_ecn=2']);

  });
});
