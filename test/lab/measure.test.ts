import type { ChildProcess } from 'node:child_process';
import test, { type ExecutionContext } from 'ava';
import { createLab, type ExecResult, type Lab, type TestHost } from '../../src/lab/hosts.ts';
import { iperf3Tcp, parseIperf3Tcp, parseIperf3Udp, parsePing, pingRtt, udpStream } from '../../src/lab/measure.ts';
import { testNeeding } from '../helpers/env.ts';

// iputils ping output with a lost reply (seq 3), a duplicate and one slow reply
const PING_OUTPUT = `PING 198.18.0.2 (198.18.0.2) 56(84) bytes of data.
64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=21.3 ms
64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=21.6 ms
64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=21.7 ms (DUP!)
64 bytes from 198.18.0.2: icmp_seq=4 ttl=64 time=1043 ms

--- 198.18.0.2 ping statistics ---
4 packets transmitted, 3 received, +1 duplicates, 25% packet loss, time 3004ms
rtt min/avg/max/mdev = 21.300/361.966/1043.000/481.648 ms
`;

/** A test host that runs nothing: it records commands and answers with a canned result. */
function fakeHost(answer: ExecResult, seen: string[][] = []): TestHost {
  return {
    name: 'left',
    netns: 'fake',
    ifname: 'eth0',
    address: '198.18.0.1',
    mac: '02:70:77:00:00:01',
    async exec(cmd) {
      seen.push(cmd);
      return answer;
    },
    spawn(): ChildProcess {
      throw new Error('the fake host starts no processes');
    },
  };
}

/** iperf3 -J output reduced to the fields the parsers read. */
function iperfJson(end: object, error?: string): string {
  return JSON.stringify({ start: {}, intervals: [], end, ...(error ? { error } : {}) });
}

test('parsePing takes RTTs and sequence numbers from reply lines, leaves out duplicates and counts from the summary', (t) => {
  t.deepEqual(parsePing(PING_OUTPUT), { sent: 4, received: 3, rttsMs: [21.3, 21.6, 1043], seqs: [1, 2, 4] });
});

test('parsePing names the output it could not read', (t) => {
  t.throws(() => parsePing('ping: connect: Network is unreachable\n'), { message: /no "packets transmitted" summary in its output: "ping: connect: Network is unreachable\\n"/ });
});

test('pingRtt runs ping with count, interval, size and wait, and treats exit 1 (replies missing) as a result', async (t) => {
  const seen: string[][] = [];
  const r = await pingRtt(fakeHost({ stdout: PING_OUTPUT, stderr: '', exitCode: 1 }, seen), { ...fakeHost({ stdout: '', stderr: '', exitCode: 0 }), address: '198.18.0.2' }, { count: 4, intervalS: 0.001, size: 1000, waitS: 3 });
  t.deepEqual(seen, [['ping', '-n', '-c', '4', '-i', '0.001', '-s', '1000', '-W', '3', '198.18.0.2']]);
  t.is(r.received, 3);
});

test('pingRtt reports a ping that fails outright, with what ping said', async (t) => {
  const host = fakeHost({ stdout: '', stderr: 'ping: sendmsg: Operation not permitted', exitCode: 2 });
  await t.throwsAsync(pingRtt(host, host, { count: 1, intervalS: 1 }), { message: 'ping from left to 198.18.0.1 failed (exit 2): ping: sendmsg: Operation not permitted' });
});

test('pingRtt refuses intervals under 1 ms and counts that are not positive integers', async (t) => {
  const host = fakeHost({ stdout: '', stderr: '', exitCode: 0 });
  await t.throwsAsync(pingRtt(host, host, { count: 10, intervalS: 0.0001 }), { message: /intervalS = 0.0001 is not allowed; allowed: 0.001 s or more/ });
  await t.throwsAsync(pingRtt(host, host, { count: 0, intervalS: 1 }), { message: /count = 0 is not allowed/ });
});

test('parseIperf3Tcp reads goodput at the receiver and retransmits at the sender', (t) => {
  const r = parseIperf3Tcp(iperfJson({ sum_sent: { bits_per_second: 9.9e6, retransmits: 12 }, sum_received: { bits_per_second: 9.49e6 } }));
  t.is(r.goodputBps, 9.49e6);
  t.is(r.retransmits, 12);
});

test('parseIperf3Tcp passes on iperf3’s own error and names a missing field', (t) => {
  t.throws(() => parseIperf3Tcp(iperfJson({}, 'unable to connect to server: Connection refused')), { message: 'iperf3: unable to connect to server: Connection refused' });
  t.throws(() => parseIperf3Tcp(iperfJson({ sum_sent: {} })), { message: 'iperf3 JSON has no number at end.sum_received.bits_per_second (got undefined)' });
  t.throws(() => parseIperf3Tcp('iperf3: error - the server is busy'), { message: /iperf3 printed no JSON/ });
});

test('parseIperf3Udp reads the receiver’s packets, losses, rate and jitter, falling back to "sum" for old iperf3', (t) => {
  const received = { bits_per_second: 1.35e9, packets: 1000, lost_packets: 50, jitter_ms: 0.01 };
  const r = parseIperf3Udp(iperfJson({ sum: { ...received, lost_packets: 1 }, sum_sent: { packets: 1000, lost_packets: 0 }, sum_received: received }));
  t.like(r, { sentPackets: 1000, lostPackets: 50, lossRate: 0.05, deliveredBps: 1.35e9, jitterMs: 0.01 });
  t.like(parseIperf3Udp(iperfJson({ sum: { ...received, lost_packets: 1 } })), { lostPackets: 1, lossRate: 0.001 });
});

// one veth lab for the measurements on real hosts; made by the first test that needs it
let shared: Promise<Lab> | undefined;
const vethLab = (): Promise<Lab> => (shared ??= createLab({ wire: 'veth', prefix: 'pwm' }));
test.after.always(async () => {
  if (shared) await (await shared).teardown();
});

testNeeding(['root'], 'pingRtt at a 2 ms interval gets every reply in order from a host on a veth lab', async (t: ExecutionContext) => {
  const lab = await vethLab();
  const r = await pingRtt(lab.left, lab.right, { count: 100, intervalS: 0.002, size: 1000 });
  t.is(r.sent, 100);
  t.is(r.received, 100);
  t.deepEqual(r.seqs, Array.from({ length: 100 }, (_, i) => i + 1));
  t.true(r.rttsMs.every((ms) => ms > 0 && ms < 50));
});

testNeeding(['root'], 'pingRtt counts every request as lost when nothing answers', async (t: ExecutionContext) => {
  const lab = await vethLab();
  const r = await pingRtt(lab.left, { ...lab.right, address: '198.18.0.99' }, { count: 3, intervalS: 0.01, waitS: 0.5 });
  t.deepEqual(r, { sent: 3, received: 0, rttsMs: [], seqs: [] });
});

testNeeding(['root'], 'iperf3Tcp measures both directions and several streams between veth hosts', async (t: ExecutionContext) => {
  const lab = await vethLab();
  const forward = await iperf3Tcp(lab.left, lab.right, { seconds: 1 });
  const reverse = await iperf3Tcp(lab.left, lab.right, { seconds: 1, reverse: true, parallel: 2 });
  t.log(`forward ${(forward.goodputBps / 1e9).toFixed(2)} Gbit/s, reverse ×2 ${(reverse.goodputBps / 1e9).toFixed(2)} Gbit/s`);
  t.true(forward.goodputBps > 500e6);
  t.true(reverse.goodputBps > 500e6);
  const end = (reverse.json as { start: { test_start: { reverse: number; num_streams: number } } }).start.test_start;
  t.deepEqual([end.reverse, end.num_streams], [1, 2]);
});

testNeeding(['root'], 'udpStream delivers a 50 Mbit/s stream between veth hosts at that rate with under 1% loss', async (t: ExecutionContext) => {
  const lab = await vethLab();
  const r = await udpStream(lab.left, lab.right, { seconds: 1, rateBps: 50e6, lengthBytes: 1200 });
  t.log(`${r.sentPackets} datagrams, ${r.lostPackets} lost, ${(r.deliveredBps / 1e6).toFixed(1)} Mbit/s`);
  t.true(Math.abs(r.deliveredBps - 50e6) < 2.5e6, `${r.deliveredBps} bit/s`);
  t.true(r.lossRate < 0.01);
  t.true(Math.abs(r.sentPackets - 50e6 / 8 / 1200) < 300, `${r.sentPackets} datagrams`);
});
