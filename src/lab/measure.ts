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

/** Runs one iperf3 test: a one-shot server (-s -1) in `server`'s namespace, ready before the client starts. */
async function iperf3(client: TestHost, server: TestHost, args: string[], seconds: number, omitS: number): Promise<string> {
  const port = String(nextPort);
  nextPort = nextPort >= 5999 ? 5201 : nextPort + 1;
  const proc = server.spawn(['iperf3', '-s', '-1', '-B', server.address, '-p', port]);
  let serverOutput = '';
  proc.stdout?.on('data', (d: Buffer) => (serverOutput += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (serverOutput += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    await waitForListener(server, port, () => proc.exitCode !== null, () => serverOutput);
    const cmd = ['iperf3', '-c', server.address, '-p', port, '-t', String(seconds), '-J', ...args];
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
