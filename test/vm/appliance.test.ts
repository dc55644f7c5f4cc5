// Commands typed on the serial console print markers computed by the shell (SHOWN-$((40+2)) prints
// SHOWN-42), so the echo of the typed line never matches what the test waits for.
// The appliance as a user meets it: a profile edited on the stick's PICOWIRE partition, an agent
// that dies and comes back without disturbing anything, a third NIC that gets an address by DHCP.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { runOnConsole } from '../../src/lab/console.ts';
import { boot } from '../../src/lab/qemu.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const APPLIED = (name: string) => new RegExp(`picowire: applied profile ${name}\\r?\\n`);
const twoPorts = [{ user: true as const }, { user: true as const }];

testNeeding(['qemu', 'image'], 'profile.json edited on the PICOWIRE partition of the disk image is applied at boot', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-config-'));
  try {
    const img = join(dir, 'stick.img');
    await copyFile(join(IMAGES, 'default.img'), img);
    // as a user would from a laptop: replace profile.json on the FAT partition labelled PICOWIRE
    const { stdout } = await execa('sfdisk', ['--json', img]);
    const parts = (JSON.parse(stdout) as { partitiontable: { partitions: { start: number; name?: string }[] } }).partitiontable.partitions;
    const config = parts.find((p) => /picowire/i.test(p.name ?? '')) ?? parts.at(-1)!;
    const profile = join(dir, 'profile.json');
    await writeFile(profile, JSON.stringify({ name: 'from-stick', pipes: { p: { delay: '2ms' } }, rules: [{ from: 'b', pipe: 'p' }] }));
    await execa('mcopy', ['-o', '-i', `${img}@@${config.start * 512}`, profile, '::profile.json'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    const vm = await boot({ mode: 'uefi-disk', image: img, nics: twoPorts });
    try {
      await vm.waitFor(/picowire: (applied|rejected) profile[^\n]*\n/, 300_000);
      t.regex(vm.console, APPLIED('from-stick'));
    } finally {
      await vm.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

testNeeding(['qemu', 'image'], 'an agent killed with SIGKILL is respawned and finds its profile already in force', async (t) => {
  const vm = await boot({ mode: 'direct', image: join(IMAGES, 'default-pxe'), nics: twoPorts, fwCfgProfile: JSON.stringify({ name: 'kept', pipes: { p: { delay: '3ms' } }, rules: [{ from: 'a', pipe: 'p' }] }) });
  try {
    await vm.waitFor(APPLIED('kept'), 240_000);
    vm.send('\nkill -9 $(pidof node); sleep 1; /sbin/tc qdisc show dev b | grep -c netem; echo COUNTED-$((40+2))\n');
    const counted = await vm.waitFor(/(\d+)\r?\nCOUNTED-42/, 60_000);
    t.true(Number(counted.match[1]) >= 1, 'the netem of the pipe stays while no agent runs');
    await vm.waitFor(APPLIED('kept'), 120_000);
    t.pass();
  } finally {
    await vm.stop();
  }
});

testNeeding(['qemu', 'image'], 'a third NIC is management: it gets an address by DHCP and is no bridge port', async (t) => {
  // QEMU's user network (restricted to the host) runs the DHCP server; the exchange never leaves QEMU
  const vm = await boot({ mode: 'direct', image: join(IMAGES, 'default-pxe'), nics: [...twoPorts, { user: true }] });
  try {
    const ports = await vm.waitFor(/picowire: ports: a=(\S+) .* b=(\S+) .*management: (\S+) [0-9a-f:]{17}/, 240_000);
    await vm.waitFor(APPLIED('passthrough'), 120_000);
    const mgmt = ports.match[3]!;
    vm.send(`\nfor i in $(seq 30); do /sbin/ip -4 -o addr show dev ${mgmt} | grep -q inet && break; sleep 1; done; /sbin/ip -4 -o addr show dev ${mgmt}; echo SHOWN-$((40+2))\n`);
    await vm.waitFor(/SHOWN-42\r?\n/, 60_000);
    t.regex(vm.console, /inet 10\.0\.2\.15\//);
  } finally {
    await vm.stop();
  }
});

testNeeding(['qemu', 'image'], "the kernel log of a boot: virtio-rng, the first module rcS loads, fills the random pool node's start waits for; the agent is ready only once both bridge ports forward; rcS closed the bridge; modules carry no signatures", async (t) => {
  const vm = await boot({ mode: 'direct', image: join(IMAGES, 'default-pxe'), nics: twoPorts });
  try {
    await vm.waitFor(APPLIED('passthrough'), 240_000);
    const log = await runOnConsole(vm, 'dmesg -n 1; dmesg', 60_000);
    const at = (what: RegExp) => {
      const m = log.match(new RegExp(`^\\[\\s*(\\d+\\.\\d+)\\] ${what.source}`, 'm'));
      if (!m) throw new Error(`no ${what.source} in the kernel log:\n${log}`);
      return Number(m[1]);
    };
    const [entropy, ready, modules] = [at(/picowire: entropy drivers loaded/), at(/random: crng init done/), at(/picowire: modules loaded/)];
    t.log(`entropy drivers loaded at ${entropy} s, random pool ready at ${ready} s, the other modules at ${modules} s of uptime`);
    t.true(entropy < modules, 'the entropy drivers load before the rest');
    // the driver credits the pool as soon as it binds (runs: 2 ms before the mark); without it the pool
    // filled at ~4.2 s of uptime, after every module
    t.true(ready < modules && ready - entropy < 0.5, `the pool is ready when the driver arrives (${ready} s), not later`);
    // the applied line comes just before the agent's ready mark: a port that forwarded only after
    // it lost the pings sent then (2 of 12 boots before the agent waited: 0.08–0.15 s after)
    const [portA, portB, agent] = [at(/br0: port \d\(a\) entered forwarding state/), at(/br0: port \d\(b\) entered forwarding state/), at(/picowire: agent ready/)];
    t.log(`ports forward at ${portA} s (a) and ${portB} s (b); agent ready at ${agent} s`);
    t.true(portA <= agent && portB <= agent, 'both ports forward before the agent says it is ready');
    // rcS made the bridge and its closed table beside node's start (the agent makes them only when
    // missing), and no module carries a signature for the kernel to check as it loads it
    const files = await runOnConsole(vm, "ls /run/picowire; for f in $(find /lib/modules -name '*.ko'); do tail -c 28 $f | grep -q 'signature appended' && echo SIGNED $f; done; echo MODULES $(find /lib/modules -name '*.ko' | wc -l)", 120_000);
    t.regex(files, /\bbridge\.closed\b/, 'rcS closed the bridge');
    t.notRegex(files, /SIGNED/, 'a module kept its signature');
    t.regex(files, /MODULES [1-9]\d+/);
  } finally {
    await vm.stop();
  }
});

testNeeding(['qemu', 'image'], 'the kernel keeps time by the TSC: under TCG its sync check fails and the HPET it falls back to costs an MMIO exit per read', async (t) => {
  const vm = await boot({ mode: 'direct', image: join(IMAGES, 'default-pxe'), nics: twoPorts });
  try {
    await vm.waitFor(APPLIED('passthrough'), 240_000);
    vm.send('\necho CLOCK-$((40+2)) $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)\n');
    const clock = await vm.waitFor(/CLOCK-42 (\S+)\r?\n/, 60_000);
    t.is(clock.match[1], 'tsc');
  } finally {
    await vm.stop();
  }
});
