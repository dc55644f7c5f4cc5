// Change glitch and apply latency: a 1000 packet/s UDP probe (64-byte payloads, left → right)
// while the profile is changed back and forth between two of one shape (`picowire apply a b a b
// …`, as test/vm/runtime.test.ts does). Every datagram iperf3 missed that the probe's pipe did not
// drop (overflow or random, from picowire status) is an unexplained loss: one the change caused.
// The apply latency is what `picowire apply` prints per profile (request to in force).
import { runOnConsole } from '../../src/lab/console.ts';
import { udpStream } from '../../src/lab/measure.ts';
import { median, percentile } from '../../src/lab/stats.ts';
import { applyProfile, onEngine, pipeDrops, sleep, type Ctx, type Profile } from './common.ts';

const shape = (name: string, bw: string, delay: string, back: string): Profile => ({
  name,
  // the probe has a queue no TCG burst fills, so its only drops are none (see runtime.test.ts)
  pipes: { probe: { bw, delay, queue: 5000 }, up: { bw, delay }, down: { delay: back } },
  rules: [{ from: 'a', proto: 'udp', pipe: 'probe' }, { from: 'a', pipe: 'up' }, { from: 'b', pipe: 'down' }],
});
const A = shape('chg-a', '20Mbit/s', '10ms', '10ms');
const B = shape('chg-b', '15Mbit/s', '15ms', '5ms');

export interface ChangeResult {
  changes: number;
  applied: number;
  probeSent: number;
  probeLost: number;
  /** what the probe's pipe dropped over the run (the profile's own drops) */
  pipeDrops: number;
  unexplained: number;
  latencyMs: number[];
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  changesTookS: number;
  met: { glitch: boolean; latency: boolean };
}

export async function measureChange(ctx: Ctx): Promise<ChangeResult> {
  const changes = ctx.n(60, 12);
  await applyProfile(ctx.vm, onEngine(ctx, A), '/tmp/a.json');
  await applyProfile(ctx.vm, onEngine(ctx, B), '/tmp/b.json');
  await applyProfile(ctx.vm, onEngine(ctx, A), '/tmp/a.json');
  const before = await pipeDrops(ctx.vm, 'probe');
  // the changes took ~0.3 s each under TCG on 2 cores on tc, 0.4-1 s on dummynet (dummynet.test.ts;
  // 1.6 s at the median with the host's load at 10); the probe outlasts them with room to spare
  const seconds = Math.ceil(8 + changes * (ctx.engine === 'dummynet' ? 2.5 : 0.6));
  const started = Date.now();
  const probe = udpStream(ctx.lab.left, ctx.lab.right, { seconds, rateBps: 64 * 8 * 1000, lengthBytes: 64 });
  await sleep(3000);
  // typed short: a long line can overrun the serial console's input
  const out = await runOnConsole(ctx.vm, `picowire apply $(for i in $(seq ${changes / 2}); do echo /tmp/b.json /tmp/a.json; done)`, (seconds + 30) * 1000);
  const changesTookS = (Date.now() - started) / 1000;
  const u = await probe;
  const after = await pipeDrops(ctx.vm, 'probe');
  const latencyMs = [...out.matchAll(/applied profile chg-[ab] \((\d+) ms\)/g)].map((m) => Number(m[1]));
  const dropped = after.overflow + after.random - before.overflow - before.random;
  const p99 = percentile(latencyMs, 99);
  const r: ChangeResult = {
    changes,
    applied: latencyMs.length,
    probeSent: u.sentPackets,
    probeLost: u.lostPackets,
    pipeDrops: dropped,
    unexplained: u.lostPackets - dropped,
    latencyMs,
    latencyP50Ms: median(latencyMs),
    latencyP99Ms: p99,
    latencyMaxMs: Math.max(...latencyMs),
    changesTookS: Number(changesTookS.toFixed(1)),
    met: { glitch: u.lostPackets - dropped === 0 && latencyMs.length === changes && changesTookS < seconds, latency: p99 <= 100 },
  };
  ctx.log(`   ${r.applied}/${changes} changes in ${r.changesTookS} s of a ${seconds} s probe: ${r.probeLost}/${r.probeSent} lost, ${dropped} dropped by the pipe, ${r.unexplained} unexplained; apply p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms`);
  return r;
}
