// Measurements between two test hosts: ping round-trip times and loss (iputils ping), TCP goodput
// and UDP delivery (iperf3 -J). Each runs the tools inside the hosts' namespaces and parses their output.
import type { TestHost } from './hosts.ts';

export interface PingResult {
  sent: number;
  received: number;
  /** one per reply, in arrival order; duplicates left out */
  rttsMs: number[];
  /** icmp_seq of each reply, parallel to rttsMs: which ones were lost, for burst-loss analysis */
  seqs: number[];
}

/** Parses iputils ping output (not -q): per-reply lines for RTTs, the summary line for counts. */
export function parsePing(stdout: string): PingResult {
  const rttsMs: number[] = [];
  const seqs: number[] = [];
  for (const line of stdout.split('\n')) {
    const m = /bytes from .*icmp_seq=(\d+) .*time=([\d.]+) ms/.exec(line);
    if (m && !line.includes('(DUP!)')) {
      seqs.push(Number(m[1]));
      rttsMs.push(Number(m[2]));
    }
  }
  const summary = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  if (!summary) throw new Error(`ping: no "packets transmitted" summary in its output: ${JSON.stringify(stdout.slice(-300))}`);
  return { sent: Number(summary[1]), received: Number(summary[2]), rttsMs, seqs };
}

/**
 * Sends `count` echo requests from one host to the other, one every `intervalS` seconds (root may go
 * down to 0.001). After the last, ping waits twice the longest RTT seen for late replies, or `waitS`
 * (default 2 s) if none came. (Not -w: with a deadline ping keeps sending until `count` replies.)
 */
export async function pingRtt(from: TestHost, to: TestHost, opts: { count: number; intervalS: number; size?: number; waitS?: number }): Promise<PingResult> {
  const { count, intervalS, size = 56, waitS = 2 } = opts;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`pingRtt: count = ${count} is not allowed; allowed: an integer ≥ 1`);
  if (!(intervalS >= 0.001)) throw new RangeError(`pingRtt: intervalS = ${intervalS} is not allowed; allowed: 0.001 s or more`);
  const cmd = ['ping', '-n', '-c', String(count), '-i', String(intervalS), '-s', String(size), '-W', String(waitS), to.address];
  const r = await from.exec(cmd, { timeoutMs: (count * intervalS * 2 + waitS + 30) * 1000 });
  // exit 1 means "some replies missing", which is a measurement; 2 and up is an error
  if (r.exitCode > 1) throw new Error(`ping from ${from.name} to ${to.address} failed (exit ${r.exitCode}): ${r.stderr.trim() || r.stdout.trim()}`);
  return parsePing(r.stdout);
}

export interface TcpResult {
  /** bits per second delivered to the receiving application */
  goodputBps: number;
  /** TCP retransmissions counted at the sender */
  retransmits: number;
  json: unknown;
}

export interface UdpResult {
  sentPackets: number;
  lostPackets: number;
  /** lostPackets / sentPackets */
  lossRate: number;
  /** bits per second of UDP payload that arrived */
  deliveredBps: number;
  jitterMs: number;
  json: unknown;
}

/** A number at a dotted path of iperf3's JSON, or an error naming the path. */
function numberAt(json: unknown, path: string): number {
  let cur: unknown = json;
  for (const key of path.split('.')) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
  if (typeof cur !== 'number') throw new Error(`iperf3 JSON has no number at ${path} (got ${JSON.stringify(cur)})`);
  return cur;
}

/** Parses `iperf3 -J` output, throwing with iperf3's own message if the test failed. */
export function parseIperf3Json(stdout: string): Record<string, unknown> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`iperf3 printed no JSON: ${JSON.stringify(stdout.slice(0, 300))}`);
  }
  if (typeof json.error === 'string') throw new Error(`iperf3: ${json.error}`);
  return json;
}

/** Goodput and retransmits from a TCP test's JSON (the receiver's view of bytes, the sender's of retransmits). */
export function parseIperf3Tcp(stdout: string): TcpResult {
  const json = parseIperf3Json(stdout);
  const end = json.end as Record<string, { retransmits?: number }> | undefined;
  return { goodputBps: numberAt(json, 'end.sum_received.bits_per_second'), retransmits: end?.sum_sent?.retransmits ?? 0, json };
}

/** Delivery, loss and jitter from a UDP test's JSON (iperf3 ≥ 3.10 has sum_received; older ones only sum). */
export function parseIperf3Udp(stdout: string): UdpResult {
  const json = parseIperf3Json(stdout);
  const at = (json.end as Record<string, unknown> | undefined)?.sum_received ? 'end.sum_received' : 'end.sum';
  const sentPackets = numberAt(json, `${at}.packets`);
  const lostPackets = numberAt(json, `${at}.lost_packets`);
  return {
    sentPackets,
    lostPackets,
    lossRate: sentPackets === 0 ? 0 : lostPackets / sentPackets,
    deliveredBps: numberAt(json, `${at}.bits_per_second`),
    jitterMs: numberAt(json, `${at}.jitter_ms`),
    json,
  };
}

// each test gets its own port: a server of an earlier test that lingers cannot answer a later one
let nextPort = 5201;

/**
 * Runs one iperf3 test: a one-shot server (-s -1) in `server`'s namespace, ready before the client
 * starts. The port is the next of 5201-5999 unless `at.port` names one; the server listens on (and
 * the client connects to) `at.address`, by default the server host's own address.
 */
async function iperf3(client: TestHost, server: TestHost, args: string[], seconds: number, omitS: number, at: { port?: number; address?: string } = {}): Promise<string> {
  let port = String(nextPort);
  if (at.port === undefined) nextPort = nextPort >= 5999 ? 5201 : nextPort + 1;
  else port = String(at.port);
  const address = at.address ?? server.address;
  const proc = server.spawn(['iperf3', '-s', '-1', '-B', address, '-p', port]);
  let serverOutput = '';
  proc.stdout?.on('data', (d: Buffer) => (serverOutput += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (serverOutput += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    await waitForListener(server, port, () => proc.exitCode !== null, () => serverOutput);
    const cmd = ['iperf3', '-c', address, '-p', port, '-t', String(seconds), '-J', ...args];
    const r = await client.exec(cmd, { timeoutMs: (seconds + omitS + 30) * 1000 });
    if (r.exitCode !== 0 && !r.stdout.trim().startsWith('{')) throw new Error(`iperf3 client on ${client.name} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
    return r.stdout;
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await exited;
  }
}

/** Waits until something listens on TCP `port` in the server's namespace (iperf3 buffers its "listening" line). */
async function waitForListener(server: TestHost, port: string, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const r = await server.exec(['ss', '-Htln', `sport = :${port}`]);
    if (r.stdout.trim()) return;
    if (exited()) throw new Error(`iperf3 server on ${server.name} exited before listening on port ${port}: ${output().trim()}`);
    if (Date.now() > deadline) throw new Error(`iperf3 server on ${server.name} did not listen on port ${port} within 5 s: ${output().trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * TCP goodput from `client` to `server` for `seconds` (server to client with `reverse`), with
 * `parallel` streams; `omitS` leaves out the first seconds (slow start) from the result.
 */
export async function iperf3Tcp(client: TestHost, server: TestHost, opts: { seconds: number; reverse?: boolean; parallel?: number; omitS?: number }): Promise<TcpResult> {
  const args = [...(opts.reverse ? ['-R'] : []), ...(opts.parallel ? ['-P', String(opts.parallel)] : []), ...(opts.omitS ? ['-O', String(opts.omitS)] : [])];
  return parseIperf3Tcp(await iperf3(client, server, args, opts.seconds, opts.omitS ?? 0));
}

/**
 * A UDP stream at `rateBps` of `lengthBytes` datagrams (payload) from `client` to `server` (reverse:
 * the other way): how much arrived, how many datagrams were lost, and the jitter, as the receiver saw them.
 */
export async function udpStream(client: TestHost, server: TestHost, opts: { seconds: number; rateBps: number; lengthBytes?: number; reverse?: boolean }): Promise<UdpResult> {
  const args = ['-u', '-b', String(Math.round(opts.rateBps)), '-l', String(opts.lengthBytes ?? 1200), ...(opts.reverse ? ['-R'] : [])];
  return parseIperf3Udp(await iperf3(client, server, args, opts.seconds, 0));
}

/** Where and how one iperf3 flow runs: the knobs the plain helpers above choose for themselves. */
export interface FlowOptions {
  seconds: number;
  /** the server's port (a one-shot server on it): pick one a profile's rule matches, or avoids */
  port: number;
  /** the server's address (default: the server host's own); must be one of its addresses */
  serverAddress?: string;
  /** the client's source address (iperf3 -B): one of the client host's addresses */
  bind?: string;
  /** the client's source port for the data connection (iperf3 --cport) */
  cport?: number;
  /** server to client (iperf3 -R) */
  reverse?: boolean;
  /** seconds left out at the start (slow start), TCP only */
  omitS?: number;
}

function flowArgs(opts: FlowOptions): string[] {
  return [
    ...(opts.bind ? ['-B', opts.bind] : []),
    ...(opts.cport !== undefined ? ['--cport', String(opts.cport)] : []),
    ...(opts.reverse ? ['-R'] : []),
    ...(opts.omitS ? ['-O', String(opts.omitS)] : []),
  ];
}

/** One TCP flow on a given port (and from a given source address or port): goodput as the receiver saw it. Run several at once with Promise.all on distinct ports. */
export async function tcpFlow(client: TestHost, server: TestHost, opts: FlowOptions): Promise<TcpResult> {
  return parseIperf3Tcp(await iperf3(client, server, flowArgs(opts), opts.seconds, opts.omitS ?? 0, { port: opts.port, address: opts.serverAddress }));
}

/** One UDP flow at `rateBps` of `lengthBytes` datagrams on a given port: delivery, loss and jitter as the receiver saw them. */
export async function udpFlow(client: TestHost, server: TestHost, opts: FlowOptions & { rateBps: number; lengthBytes?: number }): Promise<UdpResult> {
  const args = ['-u', '-b', String(Math.round(opts.rateBps)), '-l', String(opts.lengthBytes ?? 1200), ...flowArgs({ ...opts, omitS: 0 })];
  return parseIperf3Udp(await iperf3(client, server, args, opts.seconds, 0, { port: opts.port, address: opts.serverAddress }));
}

// A UDP echo for round trips on chosen ports, where ping (ICMP, no ports) cannot go: Node.js of the
// host runs the server and the client inside the hosts' namespaces (labs run as root on a host
// that has node: the tests themselves run on it). One datagram in flight at a time.
const UDP_ECHO_SERVER = `const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(Number(process.argv[2]), process.argv[1]);`;

const UDP_ECHO_CLIENT = `const [to, port, count, intervalMs, size, timeoutMs, bind, sport] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
const rttsMs = []; const seqs = []; let sent = 0; let waiting; let t0;
s.on('message', (m) => {
  if (!waiting || m.readUInt32BE(0) !== waiting.seq) return;
  rttsMs.push(Number(process.hrtime.bigint() - t0) / 1e6); seqs.push(waiting.seq);
  const w = waiting; waiting = undefined; clearTimeout(w.timer); w.done();
});
const once = (seq) => new Promise((done) => {
  const b = Buffer.alloc(Number(size)); b.writeUInt32BE(seq, 0);
  waiting = { seq, done, timer: setTimeout(() => { waiting = undefined; done(); }, Number(timeoutMs)) };
  t0 = process.hrtime.bigint(); s.send(b, Number(port), to); sent++;
});
s.bind({ address: bind || undefined, port: Number(sport) || 0 }, async () => {
  // one exchange first, not counted: node's first send (address lookup, JIT) takes up to 200 ms
  await once(0xffffffff);
  rttsMs.length = 0; seqs.length = 0; sent = 0;
  for (let i = 0; i < Number(count); i++) {
    await once(i);
    await new Promise((r) => setTimeout(r, Number(intervalMs)));
  }
  console.log(JSON.stringify({ sent, received: rttsMs.length, rttsMs, seqs }));
  s.close();
});`;

/**
 * Round trips of `count` UDP datagrams (`size` bytes of payload) from `from` to a UDP echo on
 * `to`'s `port`, one at a time, `intervalMs` apart: RTT on ports that port rules match. A datagram
 * not answered within `timeoutMs` (default 2000) counts as lost; one exchange before them warms
 * node up and is not counted. `bind`/`sport`: the client's source address and port.
 */
export async function udpEchoRtt(from: TestHost, to: TestHost, opts: { port: number; count: number; intervalMs: number; size?: number; timeoutMs?: number; toAddress?: string; bind?: string; sport?: number }): Promise<PingResult> {
  const { port, count, intervalMs, size = 64, timeoutMs = 2000 } = opts;
  if (size < 4) throw new RangeError(`udpEchoRtt: size = ${size} is not allowed; allowed: 4 bytes or more (the sequence number)`);
  const address = opts.toAddress ?? to.address;
  const server = to.spawn([process.execPath, '-e', UDP_ECHO_SERVER, address, String(port)]);
  let serverOutput = '';
  server.stderr?.on('data', (d: Buffer) => (serverOutput += d.toString()));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await to.exec(['ss', '-Huln', `sport = :${port}`]);
      if (r.stdout.trim()) break;
      if (server.exitCode !== null) throw new Error(`UDP echo server on ${to.name} exited before listening on port ${port}: ${serverOutput.trim()}`);
      if (Date.now() > deadline) throw new Error(`UDP echo server on ${to.name} did not listen on UDP port ${port} within 10 s: ${serverOutput.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const cmd = [process.execPath, '-e', UDP_ECHO_CLIENT, address, String(port), String(count), String(intervalMs), String(size), String(timeoutMs), opts.bind ?? '', String(opts.sport ?? 0)];
    const r = await from.exec(cmd, { timeoutMs: count * (intervalMs + timeoutMs) + 30_000 });
    if (r.exitCode !== 0) throw new Error(`UDP echo client on ${from.name} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as PingResult;
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    await exited;
  }
}
