// When each datagram of a paced UDP flow arrived: what a link that changes over time is measured
// by (bytes per 100 ms window against a trace, the gap an outage leaves, losses at a change). Node.js
// of the host runs the sender and the receiver inside the lab's namespaces; namespaces share the
// host's monotonic clock, so send and arrival times compare directly.
import type { TestHost } from './hosts.ts';

const RECEIVER = `const [address, port, seconds] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
const got = [];
s.on('message', (m) => got.push([m.readUInt32BE(0), Number(process.hrtime.bigint() / 1000n) / 1000, m.length]));
s.bind(Number(port), address, () => {
  console.error('listening');
  setTimeout(() => { console.log(JSON.stringify(got)); s.close(); }, Number(seconds) * 1000);
});`;

const SENDER = `const [to, port, rateBps, size, seconds] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const s = require('node:dgram').createSocket('udp4');
const now = () => Number(process.hrtime.bigint() / 1000n) / 1000;
const start = now(); const sent = []; let seq = 0; let inFlight = 0;
const gapMs = (size * 8 * 1000) / rateBps;
const tick = () => {
  const t = now();
  if (t - start >= seconds * 1000) {
    const wait = () => (inFlight ? setTimeout(wait, 5) : (console.log(JSON.stringify({ start, sent })), s.close()));
    return wait();
  }
  // every datagram due by now (a timer under load fires late: catch up, never send ahead)
  while (start + seq * gapMs <= t) {
    const b = Buffer.alloc(size); b.writeUInt32BE(seq, 0);
    sent.push(now()); inFlight++;
    s.send(b, port, to, () => inFlight--);
    seq++;
  }
  setTimeout(tick, 1);
};
tick();`;

export interface Arrivals {
  /** ms (host monotonic) when the sender started */
  start: number;
  /** each datagram's send time, ms, by sequence number */
  sent: number[];
  /** [sequence number, arrival ms, payload bytes], in arrival order */
  received: [number, number, number][];
}

/**
 * Sends `seconds` of datagrams of `size` bytes of payload from `from` to `to`'s `port` at `rateBps`
 * (payload bits), paced by the millisecond, and returns when each was sent and arrived. The receiver
 * waits `drainS` after the sender stops for what is still queued in the link.
 */
export async function pacedUdp(from: TestHost, to: TestHost, opts: { port: number; rateBps: number; size: number; seconds: number; drainS?: number }): Promise<Arrivals> {
  const waitS = opts.seconds + (opts.drainS ?? 3) + 1;
  const receiver = to.spawn(['node', '-e', RECEIVER, to.address, String(opts.port), String(waitS)]);
  let out = '';
  let err = '';
  receiver.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const listening = new Promise<void>((resolve, reject) => {
    receiver.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening')) resolve();
    });
    receiver.once('exit', () => reject(new Error(`UDP receiver on ${to.name} exited before listening: ${err.trim()}`)));
  });
  const done = new Promise<void>((resolve) => receiver.once('exit', () => resolve()));
  await listening;
  const r = await from.exec(['node', '-e', SENDER, to.address, String(opts.port), String(opts.rateBps), String(opts.size), String(opts.seconds)], { timeoutMs: (opts.seconds + 30) * 1000 });
  if (r.exitCode !== 0) throw new Error(`UDP sender on ${from.name} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  const { start, sent } = JSON.parse(r.stdout) as { start: number; sent: number[] };
  await done;
  return { start, sent, received: JSON.parse(out || '[]') as Arrivals['received'] };
}

/** Payload bytes that arrived in each `windowMs` window from `fromMs` (host monotonic) for `count` windows. */
export function bytesPerWindow(a: Arrivals, fromMs: number, windowMs: number, count: number): number[] {
  const out = new Array<number>(count).fill(0);
  for (const [, t, bytes] of a.received) {
    const i = Math.floor((t - fromMs) / windowMs);
    if (i >= 0 && i < count) out[i]! += bytes;
  }
  return out;
}
