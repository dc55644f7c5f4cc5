// IPv6 through the real image, as IPv4 goes (issue 19): an ipfw `ip6` rule sends the hosts' IPv6
// traffic through a pipe whose delay and rate are measured, and IPv4 stays out of it; a `src-ip6`
// mask makes one pipe instance per IPv6 host, which `picowire status` shows with its address and
// `picowire ipfw pipe show` lists as FreeBSD prints them; WF2Q+ queues share a pipe by weight under
// IPv6 overload as under IPv4. The hosts' IPv6 addresses come from the
// benchmarking prefix 2001:2::/48 (RFC 5180), inside the lab's own namespaces. Left is on port a
// (the inside): ipfw `out` = left → right.
import { join } from 'node:path';
import { parseIpfw } from '../../src/ipfw/index.ts';
import { runOnConsole } from '../../src/lab/console.ts';
import { addHostAddress6, type TestHost } from '../../src/lab/hosts.ts';
import { withLab } from '../../src/lab/lab.ts';
import { pingRtt, udpFlow } from '../../src/lab/measure.ts';
import { median } from '../../src/lab/stats.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';
import { readStatus } from '../helpers/fidelity.ts';

const PXE = join(IMAGES, 'default-pxe');
const at = (host: TestHost, address: string): TestHost => ({ ...host, address });

const LEFT = '2001:2::1';
const LEFT_2 = '2001:2::11';
const RIGHT = '2001:2::2';
/** IPv6 UDP: a 1200-byte payload is a 1262-byte frame (8 UDP + 40 IPv6 + 14 Ethernet) */
const UDP_EFFICIENCY = 1200 / 1262;

const PROFILE = parseIpfw(
  `ipfw pipe 1 config bw 2Mbit/s delay 20ms mask src-ip6 /128 buckets 4
ipfw add 1000 pipe 1 ip6 from any to any out`,
  'ipv6',
);

testNeeding(['root', 'qemu', 'image'], 'an ip6 rule sends IPv6 through a 2 Mbit/s, 20 ms pipe and leaves IPv4 alone; a src-ip6 mask makes an instance per host, shown by status and ipfw pipe show', async (t) => {
  await withLab(PXE, 'direct', JSON.stringify(PROFILE), async (lab, vm) => {
    const { left, right } = lab;
    await addHostAddress6(left, LEFT, [right]);
    await addHostAddress6(left, LEFT_2, [right]);
    await addHostAddress6(right, RIGHT, [left]);

    // the pipe's 20 ms one way (the reply comes back unshaped): 84 + 40 bytes of ping at 2 Mbit/s add 0.5 ms
    const v6 = await pingRtt(left, at(right, RIGHT), { count: 20, intervalS: 0.1 });
    const v4 = await pingRtt(left, right, { count: 20, intervalS: 0.1 });
    const [v6Ms, v4Ms] = [median(v6.rttsMs), median(v4.rttsMs)];
    t.log(`ping RTT median: IPv6 ${v6Ms.toFixed(2)} ms (through the pipe), IPv4 ${v4Ms.toFixed(2)} ms (no rule takes it)`);
    t.is(v6.received, v6.sent, 'no IPv6 ping lost');
    t.true(Math.min(...v6.rttsMs) >= 20, `no IPv6 ping beats the pipe's 20 ms (min ${Math.min(...v6.rttsMs)} ms)`);
    t.true(v6Ms < 20 + 15, `IPv6 RTT ${v6Ms} ms is the pipe's 20 ms and the lab's own few`);
    t.true(v4Ms < 10, `IPv4 (${v4Ms} ms) does not cross the pipe: ip6 takes IPv6 packets only`);

    // the second host's packets take an instance of their own
    const second = await left.exec(['ping', '-n', '-c', '5', '-i', '0.1', '-I', LEFT_2, RIGHT], { timeoutMs: 30_000 });
    t.regex(second.stdout, /5 received/, second.stdout);

    // the rate: 4 Mbit/s offered from the first host, 2 Mbit/s less headers arrive (6 s, as the receiver saw it)
    const flow = await udpFlow(left, right, { seconds: 6, port: 5201, serverAddress: RIGHT, bind: LEFT, rateBps: 4e6 });
    const ratio = flow.deliveredBps / (2e6 * UDP_EFFICIENCY);
    t.log(`IPv6 UDP through the pipe: ${(flow.deliveredBps / 1e3).toFixed(1)} kbit/s received of 4000 offered (${(ratio * 100).toFixed(1)} % of the ideal ${(2e3 * UDP_EFFICIENCY).toFixed(1)} kbit/s)`);
    t.true(ratio > 0.85 && ratio < 1.05, `IPv6 goodput ${flow.deliveredBps} bit/s is 2 Mbit/s less headers`);

    // status: one instance per IPv6 source, keyed by its address
    const status = await readStatus(vm);
    const byKey = (address: string) => status.pipes.find((p) => p.pipe === '1' && p.keys?.includes(address));
    t.log(`instances: ${status.pipes.map((p) => `${p.pipe} #${p.instance} ${p.keys?.join(',')}: ${p.packets} packets`).join('; ')}`);
    t.truthy(byKey(LEFT), `an instance for ${LEFT}`);
    t.truthy(byKey(LEFT_2), `an instance for ${LEFT_2}`);
    t.not(byKey(LEFT)?.instance, byKey(LEFT_2)?.instance, 'the two hosts do not share an instance');
    t.true((byKey(LEFT)?.packets ?? 0) > (byKey(LEFT_2)?.packets ?? 0), 'the first host sent the flow');

    // dummynet's own listing on the box
    const show = await runOnConsole(vm, 'picowire ipfw pipe show; picowire ipfw show', 60_000);
    t.log(show);
    t.regex(show, /^00001: {3}2\.000 Mbit\/s {3}20 ms burst 0\r?$/m);
    t.regex(show, /^ sched 65537 type FIFO flags 0x1 4 buckets [2-4] active\r?$/m);
    t.regex(show, new RegExp(`^ +\\d+ +\\S+ +0 +${LEFT.replace(/:/g, ':')}/0 +::/0 +\\d+ +\\d+ +\\d+ +\\d+ +\\d+\\r?$`, 'm'));
    t.regex(show, new RegExp(`^ +\\d+ +\\S+ +0 +${LEFT_2}/0 +::/0 `, 'm'));
    t.regex(show, /^01000 +[1-9]\d* +[1-9]\d* pipe 1 ip6 from any to any out\r?$/m, 'ipfw show: rule 1000 counted the IPv6 packets');
  });
});

/** The UDP flows of the weighted-queue measurement: long enough for two status readings once the queues have filled. */
const FLOW_S = 14;

testNeeding(['root', 'qemu', 'image'], 'IPv6 under overload: WF2Q+ queues of weights 10 and 4 share a 1 Mbit/s pipe 10:4 while both are backlogged, as IPv4 does', async (t) => {
  // as the IPv4 test (test/vm/emulation.test.ts, seed 2.3): two UDP flows that each alone would fill
  // the pipe, the queues' counters read twice while both hold packets; here over IPv6, by ip6 rules
  const profile = {
    name: 'ipv6-weighted',
    pipes: { p: { bw: '1Mbit/s', scheduler: 'wf2q+' } },
    queues: { heavy: { pipe: 'p', weight: 10 }, light: { pipe: 'p', weight: 4 } },
    rules: [
      { from: 'a', family: 'ip6', proto: 'udp', dstPort: '22', queue: 'heavy' },
      { from: 'a', family: 'ip6', proto: 'udp', dstPort: '5303', queue: 'light' },
    ],
  };
  await withLab(PXE, 'direct', JSON.stringify(profile), async (lab, vm) => {
    const { left, right } = lab;
    await addHostAddress6(left, LEFT, [right]);
    await addHostAddress6(right, RIGHT, [left]);
    const queues = async () => {
      const pipe = (await readStatus(vm)).pipes.find((p) => p.pipe === 'p' && p.port === 'b');
      const q = (name: string) => pipe?.queues.find((x) => x.queue === name);
      if (!q('heavy') || !q('light')) throw new Error(`expected queues heavy and light under pipe p: ${JSON.stringify(pipe)}`);
      return { heavy: q('heavy')!, light: q('light')! };
    };
    const flows = Promise.all([
      udpFlow(left, right, { port: 22, seconds: FLOW_S, rateBps: 1e6, serverAddress: RIGHT, bind: LEFT }),
      udpFlow(left, right, { port: 5303, seconds: FLOW_S, rateBps: 1e6, serverAddress: RIGHT, bind: LEFT }),
    ]);
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 4000));
    const first = await queues();
    await new Promise((r) => setTimeout(r, 4000));
    const second = await queues();
    const windowEndS = (Date.now() - started) / 1000;
    await flows;
    t.true(windowEndS < FLOW_S, `both readings (done at ${windowEndS.toFixed(1)} s) fall inside the ${FLOW_S} s flows`);
    for (const [when, qs] of [['first', first], ['second', second]] as const) {
      for (const [name, q] of Object.entries(qs)) t.true(q.backlog.packets > 0, `${name} is backlogged at the ${when} reading (${q.backlog.packets} packets)`);
    }
    const ratio = (second.heavy.bytes - first.heavy.bytes) / (second.light.bytes - first.light.bytes);
    t.log(`IPv6, backlogged: heavy sent ${second.heavy.bytes - first.heavy.bytes} B, light ${second.light.bytes - first.light.bytes} B between the readings: ratio ${ratio.toFixed(3)} (ideal 2.50)`);
    // the IPv4 test's bounds (QFQ serves backlogged classes by weight, a packet at a turn: 2.49-2.52 there)
    t.true(ratio > 2.35 && ratio < 2.65, `ratio ${ratio} is 10:4`);
  });
});
