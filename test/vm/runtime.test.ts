// Profiles changed at runtime, through the real image: `picowire apply` on the appliance while a
// 1000 packet/s probe stream and a long TCP flow cross it. The kernel state is changed in place
// (tc replace, one nft transaction), so no packet is lost that the profiles do not drop, and the
// TCP flow is not reset. Then the agent is killed with SIGKILL under the same traffic: init
// respawns it, it finds the kernel already as the profile says, and again nothing is lost.
import { join } from 'node:path';
import { withLab } from '../../src/lab/lab.ts';
import { runOnConsole } from '../../src/lab/console.ts';
import { udpStream } from '../../src/lab/measure.ts';
import type { TestHost } from '../../src/lab/hosts.ts';
import type { Vm } from '../../src/lab/qemu.ts';
import { median, percentile } from '../../src/lab/stats.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const PXE = join(IMAGES, 'default-pxe');
const NEEDS = ['root', 'qemu', 'image'] as const;

// two profiles of one shape: every change is a change of parameters, applied in place. The UDP
// probe has a pipe of its own with a queue no burst fills: under QEMU TCG the guest's NIC delivers
// packets in bursts when its CPU is busy (node starting, tc and nft running), and a 43-packet queue
// at 20 Mbit/s overflows on them; those drops are the profile's, counted as overflow by `picowire
// status`, which the tests read to tell them from packets lost to a change.
const shape = (name: string, bw: string, delay: string, back: string) => ({
  name,
  pipes: { probe: { bw, delay, queue: 5000 }, up: { bw, delay }, down: { delay: back } },
  rules: [{ from: 'a', proto: 'udp', pipe: 'probe' }, { from: 'a', pipe: 'up' }, { from: 'b', pipe: 'down' }],
});
const profileA = shape('a', '20Mbit/s', '10ms', '10ms');
const profileB = shape('b', '15Mbit/s', '15ms', '5ms');
const CHANGES = 100;

/** A UDP probe of 1000 packets/s (64-byte payloads) for `seconds`: iperf3 counts every datagram that did not arrive. */
const probe = (from: TestHost, to: TestHost, seconds: number) => udpStream(from, to, { seconds, rateBps: 64 * 8 * 1000, lengthBytes: 64 });

/** A TCP flow at a fixed rate below the pipe's, for `seconds`; resolves with iperf3's verdict. */
async function longFlow(client: TestHost, server: TestHost, seconds: number): Promise<{ ok: boolean; detail: string }> {
  const srv = server.spawn(['iperf3', '-s', '-1', '-p', '5301']);
  await new Promise((r) => setTimeout(r, 500));
  const r = await client.exec(['iperf3', '-c', server.address, '-p', '5301', '-t', String(seconds), '-b', '5M', '-J'], { timeoutMs: (seconds + 30) * 1000 });
  srv.kill();
  const json = JSON.parse(r.stdout || '{}') as { error?: string; end?: { sum_received?: { bytes: number } } };
  return { ok: r.exitCode === 0 && !json.error, detail: json.error ?? `received ${json.end?.sum_received?.bytes ?? 0} bytes` };
}

testNeeding([...NEEDS], `${CHANGES} profile changes under a 1000 packet/s probe lose no packet, keep a TCP flow, and are each in force within the measured latency`, async (t) => {
  await withLab(PXE, 'direct', JSON.stringify(profileA), async (lab, vm) => {
    await runOnConsole(vm, 'dmesg -n 1', 30_000);
    await runOnConsole(vm, `echo '${JSON.stringify(profileA)}' > /tmp/a.json; echo '${JSON.stringify(profileB)}' > /tmp/b.json`, 30_000);
    // typed short: a long line can overrun the serial console's input
    const files = `$(for i in $(seq ${CHANGES / 2}); do echo /tmp/b.json /tmp/a.json; done)`;

    // long enough to outlast the changes (about 31 s on this 2-core machine under TCG, 65 s under load)
    const seconds = 75;
    const started = Date.now();
    const udp = probe(lab.left, lab.right, seconds);
    const tcp = longFlow(lab.left, lab.right, seconds);
    await new Promise((r) => setTimeout(r, 3000));
    const out = await runOnConsole(vm, `picowire apply ${files}`, (seconds - 5) * 1000);
    const changesTookS = (Date.now() - started) / 1000;
    const result = await udp;
    const flow = await tcp;

    const latencies = [...out.matchAll(/applied profile [ab] \((\d+) ms\)/g)].map((m) => Number(m[1]));
    t.is(latencies.length, CHANGES, `every change was applied:\n${out.slice(-2000)}`);
    t.log(`apply latency (request to in force, measured by the agent): p50 ${median(latencies)} ms, p99 ${percentile(latencies, 99)} ms, max ${Math.max(...latencies)} ms`);
    t.log(`probe: ${result.sentPackets} datagrams sent at 1000/s, ${result.lostPackets} lost; the ${CHANGES} changes ended ${changesTookS.toFixed(0)} s into its ${seconds} s`);
    t.true(changesTookS < seconds, 'every change happened while the probe ran');
    const dropped = await probeDrops(vm);
    t.log(`the probe's pipe dropped ${dropped} (overflow and random loss together)`);
    t.is(result.lostPackets, dropped, 'every datagram lost was dropped by the profile: none by a change');
    t.true(flow.ok, `the TCP flow survived: ${flow.detail}`);
  });
});

/** What the probe's pipe dropped, by `picowire status --json` on the appliance. */
async function probeDrops(vm: Vm): Promise<number> {
  const out = await runOnConsole(vm, 'picowire status --json', 60_000);
  const status = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as { pipes: { pipe: string; randomDrops: number; overflowDrops: number }[] };
  return status.pipes.filter((p) => p.pipe === 'probe').reduce((n, p) => n + p.randomDrops + p.overflowDrops, 0);
}

/** Packets a qdisc of port b has sent, from its counters: a replaced qdisc starts again from 0. */
async function sentBy(vm: Vm, handle: string): Promise<number> {
  const out = await runOnConsole(vm, '/sbin/tc -s -j qdisc show dev b', 30_000);
  const qdiscs = JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1)) as { handle: string; packets: number }[];
  return qdiscs.find((q) => q.handle === handle)?.packets ?? -1;
}

testNeeding([...NEEDS], 'the agent killed with SIGKILL under traffic is respawned, finds its profile in force, and touches nothing', async (t) => {
  await withLab(PXE, 'direct', JSON.stringify(profileA), async (lab, vm) => {
    await runOnConsole(vm, 'dmesg -n 1', 30_000);
    const udp = probe(lab.left, lab.right, 30);
    await new Promise((r) => setTimeout(r, 3000));
    const before = await sentBy(vm, '10:');
    const readyLines = () => vm.console.match(/picowire: ready \d+ ms after node started/g)?.length ?? 0;
    const booted = readyLines();
    vm.send('kill -9 $(pidof node)\n');
    // init respawns it; it says the profile is applied without applying anything
    const deadline = Date.now() + 120_000;
    while (readyLines() === booted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    t.true(readyLines() > booted, 'the agent came back');
    await new Promise((r) => setTimeout(r, 5000));
    const after = await sentBy(vm, '10:');
    const result = await udp;
    t.log(`probe ${result.sentPackets} sent, ${result.lostPackets} lost; the probe pipe's bottleneck on b sent ${before} packets before the kill and ${after} after`);
    t.is(result.lostPackets, await probeDrops(vm), 'every datagram lost was dropped by the profile: none by the kill or the respawn');
    t.regex(vm.console, /picowire: applied profile a\r?\n[\s\S]*picowire: applied profile a\r?\n/, 'the respawned agent found profile a in force');
    t.true(after > before, 'the same bottleneck kept counting: nothing was replaced');
  });
});
