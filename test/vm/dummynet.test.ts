// The dummynet engine on the real image: profiles with "engine": "dummynet" run FreeBSD's ipfw and
// dummynet in userspace (netmap-ipfw's kipfw) between the ports, configured by the real ipfw
// command. The same measurements as the tc engine's (test/helpers/fidelity.ts, shared with
// emulation.test.ts: seed 2.2, seed 2.3, overflow), dummynet's own delay profiles, then what the
// agent promises on any engine: changes at runtime that lose no packet the profile did not drop,
// a bad profile refused whole, a switch of engine under traffic (how long traffic stops is logged,
// not asserted), and kipfw started again when it dies.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseIpfw } from '../../src/ipfw/index.ts';
import { runOnConsole } from '../../src/lab/console.ts';
import type { Lab } from '../../src/lab/hosts.ts';
import { withLab } from '../../src/lab/lab.ts';
import { pingRtt, udpStream } from '../../src/lab/measure.ts';
import { binomialInterval, median } from '../../src/lab/stats.ts';
import type { Vm } from '../../src/lab/qemu.ts';
import { overflow, readStatus, seed22, seed23 } from '../helpers/fidelity.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';
import { SEED_2_2, SEED_2_3 } from '../helpers/seed.ts';

const PXE = join(IMAGES, 'default-pxe');
const NEEDS = ['root', 'qemu', 'image'] as const;
const json = (p: object) => JSON.stringify(p);
const onDummynet = <T extends object>(p: T) => ({ ...p, engine: 'dummynet' as const });

/** Whether kipfw holds the ports (and the bridge does not), from the appliance's console. */
async function kipfwHoldsPorts(vm: Vm): Promise<string> {
  return runOnConsole(vm, 'dmesg -n 1; pidof kipfw >/dev/null && echo kipfw-runs; for p in a b; do test -e /sys/class/net/$p/master && echo $p-in-bridge; done; true', 30_000);
}

testNeeding([...NEEDS], 'seed 2.2 on the dummynet engine: the same asymmetric link as on tc, kipfw holding the ports', async (t) => {
  await withLab(PXE, 'direct', json(onDummynet(parseIpfw(SEED_2_2, 'seed-2-2'))), async (lab, vm) => {
    const held = await kipfwHoldsPorts(vm);
    t.regex(held, /kipfw-runs/, held);
    t.notRegex(held, /in-bridge/, 'the ports are out of the bridge while kipfw has them');
    await seed22(t, lab);
  });
});

// a delay profile: half the curve at 10 ms, the rest up to the loss level (0.9) at 30 ms, so of
// what arrives 5/9 is 10 ms late and 4/9 30 ms, and a tenth is lost. dummynet spends the delay as
// link time at the pipe's bw, so pings 100 ms apart never wait for one another. Only towards the
// right host's own address: its second address (198.18.2.2, seed 2.3's) gives the baseline
const delayProfile = onDummynet({
  name: 'dprof',
  pipes: { prof: { bw: '10Mbit/s', delayProfile: { samples: [{ prob: 0, delay: '10ms' }, { prob: 0.5, delay: '10ms' }, { prob: 0.5, delay: '30ms' }, { prob: 1, delay: '30ms' }], lossLevel: 0.9 } } },
  rules: [{ from: 'a' as const, dst: '198.18.0.2', pipe: 'prof' }],
});

// one boot for both (CI time): seed 2.3 first, then the delay profile applied over it
testNeeding([...NEEDS], "seed 2.3 on the dummynet engine: each source /24 gets its own 1 Mbit/s QFQ instance and queues share one 10:4; then a delay profile: each packet's extra delay drawn from the curve, draws above the loss level lost", async (t) => {
  await withLab(PXE, 'direct', json(onDummynet(parseIpfw(SEED_2_3, 'seed-2-3'))), async (lab, vm) => {
    await seed23(t, lab, vm, 'dummynet');

    // in pieces: a long typed line can overrun the serial console's input
    const text = json(delayProfile);
    for (let i = 0; i < text.length; i += 200) await runOnConsole(vm, `printf '%s' '${text.slice(i, i + 200)}' ${i === 0 ? '>' : '>>'} /tmp/dprof.json`, 30_000);
    const applied = await runOnConsole(vm, 'picowire apply /tmp/dprof.json; cat /run/picowire/dummynet/pipe-1.profile | head -5', 60_000);
    t.regex(applied, /applied profile dprof/, applied);
    const base = median((await pingRtt(lab.left, { ...lab.right, address: '198.18.2.2' }, { count: 100, intervalS: 0.025 })).rttsMs);
    const ping = await pingRtt(lab.left, lab.right, { count: 300, intervalS: 0.1 });
    const extra = ping.rttsMs.map((r) => r - base);
    const short = extra.filter((x) => x < 20);
    const long = extra.filter((x) => x >= 20);
    const lost = ping.sent - ping.received;
    t.log(`delay profile: baseline ${base.toFixed(2)} ms; ${lost} of ${ping.sent} lost; ${short.length} replies ${median(short).toFixed(2)} ms late (median), ${long.length} ${median(long).toFixed(2)} ms late; range ${Math.min(...extra).toFixed(2)}-${Math.max(...extra).toFixed(2)} ms`);
    // each outcome against its binomial 99.9 % interval: lost 1/10 of what was sent, 30 ms 4/9 of what arrived
    const [lostLo, lostHi] = binomialInterval(ping.sent, 0.1, 0.999);
    t.true(lost >= lostLo && lost <= lostHi, `${lost} lost of ${ping.sent}, outside [${lostLo}, ${lostHi}]`);
    const [longLo, longHi] = binomialInterval(ping.received, 4 / 9, 0.999);
    t.true(long.length >= longLo && long.length <= longHi, `${long.length} of ${ping.received} replies 30 ms late, outside [${longLo}, ${longHi}]`);
    // the two delays themselves: no less than drawn (a frame is 0.08 ms at 10 Mbit/s); the lab's noise only adds (3 ms, as emulation.test.ts's jitter)
    t.true(median(short) > 10 - 0.8 && median(short) < 10 + 3, `the 10 ms draws: median ${median(short)} ms`);
    t.true(median(long) > 30 - 0.8 && median(long) < 30 + 3, `the 30 ms draws: median ${median(long)} ms`);
  });
});

testNeeding([...NEEDS], 'overflow on the dummynet engine: status counts dummynet\'s own drops as overflow, and they match what iperf3 lost', async (t) => {
  const profile = json(onDummynet({ name: 'overflow', pipes: { up: { bw: '1Mbit/s', queue: 10 } }, rules: [{ from: 'a', pipe: 'up' }] }));
  await withLab(PXE, 'direct', profile, async (lab, vm) => {
    await overflow(t, lab, vm);
  });
});

// two dummynet profiles of one shape: every change between them is a change of parameters. The
// probe has a pipe of its own with a queue no burst fills (as in runtime.test.ts)
const shape = (name: string, bw: string, delay: string, back: string) =>
  onDummynet({
    name,
    pipes: { probe: { bw, delay, queue: 5000 }, up: { bw, delay }, down: { delay: back } },
    rules: [{ from: 'a' as const, proto: 'udp' as const, pipe: 'probe' }, { from: 'a' as const, pipe: 'up' }, { from: 'b' as const, pipe: 'down' }],
  });
const profileA = shape('a', '20Mbit/s', '10ms', '10ms');
const profileB = shape('b', '15Mbit/s', '15ms', '5ms');
/** as the tc engine's runtime test: 100 changes (0.4-0.9 s each on dummynet under TCG) */
const CHANGES = 100;
/** A UDP probe of 1000 datagrams/s (64-byte payloads): iperf3 counts each that did not arrive. */
const probe = (lab: Lab, seconds: number) => udpStream(lab.left, lab.right, { seconds, rateBps: 64 * 8 * 1000, lengthBytes: 64 });

/** What the probe's pipe dropped so far, by `picowire status --json`. */
async function probeDrops(vm: Vm): Promise<number> {
  const status = await readStatus(vm);
  return status.pipes.filter((p) => p.pipe === 'probe').reduce((n, p) => n + p.randomDrops + p.overflowDrops, 0);
}

testNeeding([...NEEDS], `dummynet at runtime: ${CHANGES} changes under a probe lose nothing, a bad profile is refused whole, an engine switch stops traffic only for a while, and kipfw is started again`, async (t) => {
  await withLab(PXE, 'direct', json(profileA), async (lab, vm) => {
    const c = (cmd: string, ms = 60_000) => runOnConsole(vm, cmd, ms);
    await c('dmesg -n 1');
    const tcA = { ...profileA, name: 'a-on-tc', engine: 'tc' };
    await c(`echo '${json(profileA)}' > /tmp/a.json; echo '${json(profileB)}' > /tmp/b.json; echo '${json(tcA)}' > /tmp/tc.json`);

    // runtime changes: pipes configured in place, rules swapped in one step
    // the probe outlasts the changes: 1.2 s a change at the most, and the seconds around them
    const seconds = Math.round(CHANGES * 1.2) + 15;
    const udp = probe(lab, seconds);
    await sleep(3000);
    const files = `$(for i in $(seq ${CHANGES / 2}); do echo /tmp/b.json /tmp/a.json; done)`;
    const out = await c(`picowire apply ${files}`, (seconds - 5) * 1000);
    const latencies = [...out.matchAll(/applied profile [ab] \((\d+) ms\)/g)].map((m) => Number(m[1]));
    const result = await udp;
    t.is(latencies.length, CHANGES, `every change was applied:\n${out.slice(-1500)}`);
    const dropped = await probeDrops(vm);
    t.log(`${CHANGES} changes: apply latency ${Math.min(...latencies)}-${Math.max(...latencies)} ms; probe ${result.sentPackets} sent, ${result.lostPackets} lost, the probe's pipe dropped ${dropped}`);
    t.is(result.lostPackets, dropped, 'every datagram lost was dropped by the profile: none by a change');

    // a profile the engine cannot carry out is refused before anything changes
    const bad = await c(`echo '${json(onDummynet({ name: 'bad', pipes: { p: { delay: 20, jitter: 5 } }, rules: [{ pipe: 'p' }] }))}' > /tmp/bad.json; picowire apply /tmp/bad.json; picowire status`);
    t.regex(bad, /rejected .*\n\s+profile\.pipes\.p\.jitter: the dummynet engine/, bad);
    t.regex(bad, /^profile a$/m, 'profile a is still in force');
    t.regex(await c('ipfw show'), /recv netmap:a/, "kipfw still holds profile a's rules");

    // engine switches under the probe: dummynet → tc → dummynet; how long traffic stops is what the probe lost
    const switchS = 30;
    const before = await probeDrops(vm);
    const during = probe(lab, switchS);
    await sleep(4000);
    const toTc = await c('picowire apply /tmp/tc.json');
    t.regex(toTc, /applied profile a-on-tc/, toTc);
    const onTc = await kipfwHoldsPorts(vm);
    t.notRegex(onTc, /kipfw-runs/, 'kipfw stopped');
    t.regex(onTc, /a-in-bridge\s+b-in-bridge/, 'the ports are back in the bridge');
    await sleep(4000);
    const back = await c('picowire apply /tmp/a.json');
    t.regex(back, /applied profile a \(/, back);
    const switched = await during;
    // the tc pipe's drops are not dummynet's: both engines' probe pipes have queues no burst fills
    const profileDrops = (await probeDrops(vm)) - before;
    const stoppedMs = ((switched.lostPackets - Math.max(0, profileDrops)) / 1000) * 1000;
    t.log(`two engine switches (dummynet → tc → dummynet) under a 1000/s probe: ${switched.lostPackets} of ${switched.sentPackets} lost, about ${(stoppedMs / 2).toFixed(0)} ms without traffic per switch (machine load ${(await c('cat /proc/loadavg')).trim()} in the VM)`);
    t.true(switched.sentPackets - switched.lostPackets > 0.5 * switched.sentPackets, 'traffic resumed after each switch');
    const ping = await pingRtt(lab.left, lab.right, { count: 5, intervalS: 0.2, waitS: 2 });
    t.true(ping.received > 0, 'traffic crosses on dummynet again');

    // kipfw killed: the agent starts it again and puts the profile back
    await c('kill -9 $(pidof kipfw)');
    await vm.waitFor(/kipfw is not running: starting it again/, 30_000);
    await vm.waitFor(/picowire: applied profile a\r?\n/, 60_000);
    const again = await pingRtt(lab.left, lab.right, { count: 10, intervalS: 0.2, waitS: 2 });
    t.true(again.received > 0, `traffic crosses a respawned kipfw (${again.received} of 10 pings)`);
    t.regex(await kipfwHoldsPorts(vm), /kipfw-runs/);
  });
});
