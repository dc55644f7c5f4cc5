// `make bench`, engines: the tc engine against the dummynet engine (kipfw on netmap's generic
// adapter) in one boot of the PXE image, switched with `picowire apply`: TCP goodput and the
// packets per second of small UDP datagrams (18-byte payloads: 64-byte frames with the FCS) that
// cross, with every frame allowed and through a pipe that does not limit them (1 Gbit/s). The lab's
// hosts, QEMU's taps and the guest's virtio NICs are the same for both; only the data plane
// differs. Where the guest's time goes during each UDP run is read from its /proc/stat (user,
// system, softirq, idle) and kipfw's own /proc/<pid>/stat. Written to bench/engines-results.json and
// as a table into README.md.
//   npx tsx bench/engines.ts
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { withLab } from '../src/lab/lab.ts';
import { tcpFlow, udpStream } from '../src/lab/measure.ts';
import { runOnConsole } from '../src/lab/console.ts';
import type { Vm } from '../src/lab/qemu.ts';
import { applyProfile, type Profile } from './fidelity/common.ts';
import { round } from './boot.ts';
import { writeReadmeBlock } from './readme.ts';

const REPO = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
/** what the sender offers: far more small datagrams than either engine passes under TCG */
const OFFERED_PPS = 200_000;
const PAYLOAD = 18;

/** a profile on one engine (the fidelity benchmark's Profile type predates the field) */
type OnEngine = Profile & { engine: 'tc' | 'dummynet' };
const allow = (name: string, engine: OnEngine['engine']): OnEngine => ({ name, engine, pipes: {}, rules: [{ action: 'allow' }] });
const piped = (name: string, engine: OnEngine['engine']): OnEngine => ({ name, engine, pipes: { p: { bw: '1Gbit/s', queue: 1000 } }, rules: [{ pipe: 'p' }] });
const CASES: [string, OnEngine][] = [
  ['tc, allow', allow('tc-allow', 'tc')],
  ['dummynet, allow', allow('dn-allow', 'dummynet')],
  ['tc, 1 Gbit/s pipe', piped('tc-pipe', 'tc')],
  ['dummynet, 1 Gbit/s pipe', piped('dn-pipe', 'dummynet')],
];

/** The guest's CPU counters (jiffies): all CPUs' user, system, softirq and idle, and kipfw's user+system. */
async function cpuCounters(vm: Vm): Promise<{ user: number; system: number; softirq: number; idle: number; total: number; kipfw: number }> {
  const out = await runOnConsole(vm, "head -1 /proc/stat; p=$(pidof kipfw) && echo kipfw $(cut -d' ' -f14,15 /proc/$p/stat)", 30_000);
  const f = /^cpu\s+(.*)$/m.exec(out)![1]!.trim().split(/\s+/).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  const k = /^kipfw (\d+) (\d+)$/m.exec(out);
  return { user: user + nice, system: system + irq, softirq, idle: idle + iowait, total: user + nice + system + idle + iowait + irq + softirq + steal, kipfw: k ? Number(k[1]) + Number(k[2]) : 0 };
}

/** Shares of the guest's CPU time between two readings, in per cent of all its CPUs' time. */
function cpuSplit(a: Awaited<ReturnType<typeof cpuCounters>>, b: Awaited<ReturnType<typeof cpuCounters>>) {
  const total = b.total - a.total || 1;
  const pct = (x: number) => round((100 * x) / total, 1);
  return { kipfw: pct(b.kipfw - a.kipfw), user: pct(b.user - a.user), system: pct(b.system - a.system), softirq: pct(b.softirq - a.softirq), idle: pct(b.idle - a.idle) };
}

async function main(): Promise<void> {
  const load = loadavg()[0]!;
  const rows = await withLab(join(REPO, 'images/default-pxe'), 'direct', undefined, async (lab, vm) => {
    const out: { case: string; tcpMbps: number; pps: number; lossRate: number; cpu: ReturnType<typeof cpuSplit> }[] = [];
    for (const [name, profile] of CASES) {
      await applyProfile(vm, profile);
      const tcp = await tcpFlow(lab.left, lab.right, { port: 5201, seconds: SECONDS, omitS: 2 });
      const before = await cpuCounters(vm);
      const udp = await udpStream(lab.left, lab.right, { seconds: SECONDS, rateBps: OFFERED_PPS * PAYLOAD * 8, lengthBytes: PAYLOAD });
      const cpu = cpuSplit(before, await cpuCounters(vm));
      const pps = (udp.sentPackets - udp.lostPackets) / SECONDS;
      out.push({ case: name, tcpMbps: round(tcp.goodputBps / 1e6, 1), pps: Math.round(pps), lossRate: round(udp.lossRate, 3), cpu });
      console.log(JSON.stringify(out.at(-1)));
    }
    return out;
  });
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, qemu: 'TCG (no KVM)', loadAtStart: round(load, 2), loadAtEnd: round(loadavg()[0]!, 2) },
    seconds: SECONDS,
    offeredPps: OFFERED_PPS,
    rows,
  };
  await writeFile(join(REPO, 'bench/engines-results.json'), JSON.stringify(result, null, 2) + '\n');
  const of = (c: string) => rows.find((r) => r.case === c)!;
  const ratio = (a: number, b: number) => (b > 0 ? round(a / b, 2) : 0);
  await writeReadmeBlock(join(REPO, 'README.md'), 'engines', [
    `Measured ${result.date.slice(0, 10)} by \`npx tsx bench/engines.ts\` on ${result.machine.cpus} cores (${result.machine.model}), QEMU under TCG, one boot (host load ${result.machine.loadAtStart} at the start, ${result.machine.loadAtEnd} at the end), ${SECONDS} s per figure; the sender offers ${OFFERED_PPS.toLocaleString('en')} datagrams/s of ${PAYLOAD} bytes.`,
    '',
    '| engine, profile | TCP goodput (Mbit/s) | 64-byte frames crossing (per s) | of the offered, lost | guest CPU during the UDP run: kipfw / user / system / softirq / idle (%) |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.case} | ${r.tcpMbps} | ${r.pps.toLocaleString('en')} | ${(r.lossRate * 100).toFixed(1)} % | ${r.cpu.kipfw} / ${r.cpu.user} / ${r.cpu.system} / ${r.cpu.softirq} / ${r.cpu.idle} |`),
    '',
    `dummynet / tc: ${ratio(of('dummynet, allow').pps, of('tc, allow').pps)} of the packets per second with every frame allowed, ${ratio(of('dummynet, 1 Gbit/s pipe').pps, of('tc, 1 Gbit/s pipe').pps)} through a pipe; TCP ${ratio(of('dummynet, allow').tcpMbps, of('tc, allow').tcpMbps)} and ${ratio(of('dummynet, 1 Gbit/s pipe').tcpMbps, of('tc, 1 Gbit/s pipe').tcpMbps)}. ` +
      "kipfw's share is of all the guest's CPUs (its user and system time, also counted in user and system); softirq is the kernel's packet work (virtio, the bridge, tc, and netmap's generic adapter's copies).",
  ]);
  console.log(JSON.stringify(result, null, 2));
}

await main();
