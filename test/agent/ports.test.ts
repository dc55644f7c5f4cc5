import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Runner } from '../../src/agent/exec.ts';
import { FILES } from '../../src/agent/paths.ts';
import { choosePorts, createBridge, listNics, portCommands, setupPorts, waitForwarding, type Nic } from '../../src/agent/ports.ts';

const roots: string[] = [];
test.after.always(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

/** A temp dir whose sys/class/net holds these interfaces; a NIC's `device` points into a fake PCI tree. */
async function fakeSysfs(ifaces: { name: string; mac: string; pci?: string }[], files: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'picowire-ports-'));
  roots.push(root);
  for (const i of ifaces) {
    const dir = join(root, FILES.net, i.name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'address'), i.mac + '\n');
    if (i.pci) {
      const device = join(root, 'sys/devices/pci0000:00', i.pci, 'virtio');
      await mkdir(device, { recursive: true });
      await symlink(device, join(dir, 'device'));
    }
  }
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

const nic = (name: string, mac: string, pci: string): Nic => ({ name, mac, device: `/sys/devices/pci0000:00/${pci}` });
const eth0 = nic('eth0', '52:54:00:00:00:01', '0000:00:03.0');
const eth1 = nic('eth1', '52:54:00:00:00:02', '0000:00:04.0');
const eth2 = nic('eth2', '52:54:00:00:00:03', '0000:00:1c.0');

test('NICs are listed in PCI order, and interfaces without a device (lo, br0) are not NICs', async (t) => {
  const root = await fakeSysfs([
    { name: 'lo', mac: '00:00:00:00:00:00' },
    { name: 'enp0s1c', mac: '52:54:00:00:00:0C', pci: '0000:00:1c.0' },
    { name: 'enp0s3', mac: '52:54:00:00:00:03', pci: '0000:00:03.0' },
    { name: 'br0', mac: '52:54:00:00:00:99' },
  ]);
  const nics = await listNics(root);
  t.deepEqual(
    nics.map((n) => [n.name, n.mac]),
    [
      ['enp0s3', '52:54:00:00:00:03'],
      ['enp0s1c', '52:54:00:00:00:0c'],
    ],
  );
});

test('the first two NICs become a and b, the rest are for management', (t) => {
  t.deepEqual(choosePorts([eth0, eth1, eth2], {}), { a: eth0, b: eth1, management: [eth2] });
});

test('pins by MAC take their NICs first, in any letter case, and the others fill in by PCI order', (t) => {
  t.deepEqual(choosePorts([eth0, eth1, eth2], { b: '52:54:00:00:00:01' }), { a: eth1, b: eth0, management: [eth2] });
  t.deepEqual(choosePorts([eth0, eth1, eth2], { a: '52:54:00:00:00:03'.toUpperCase() }), { a: eth2, b: eth0, management: [eth1] });
});

test('with fewer than two NICs, or a pinned MAC missing, no choice is made and the reason names the NICs', (t) => {
  t.is(choosePorts([eth0], {}), 'need two NICs for ports a and b, found 1 (eth0 52:54:00:00:00:01)');
  t.is(
    choosePorts([eth0, eth1], { a: '52:54:00:00:00:99' }),
    'port a is pinned to 52:54:00:00:00:99 in /etc/picowire/ports.json, and no NIC has that MAC (NICs: eth0 52:54:00:00:00:01, eth1 52:54:00:00:00:02)',
  );
});

test('the first setup renames the NICs, puts them in the bridge and brings everything up', (t) => {
  t.deepEqual(portCommands({ a: eth0, b: eth1, management: [eth2] }, [eth0, eth1, eth2]), [
    'link set dev eth0 down',
    'link set dev eth0 name a',
    'link set dev eth1 down',
    'link set dev eth1 name b',
    'link set dev a master br0',
    'link set dev b master br0',
    'link set dev a up',
    'link set dev b up',
    'link set dev br0 up',
    'link set dev eth2 up',
  ]);
});

test('a respawned agent renames nothing and creates no bridge: its commands change nothing that is in place', (t) => {
  const a = { ...eth0, name: 'a' };
  const b = { ...eth1, name: 'b' };
  const lines = portCommands({ a, b, management: [] }, [a, b]);
  t.false(lines.some((l) => l.includes(' name ') || l.startsWith('link add')));
});

test('a NIC already holding a port\'s name steps aside when pins give the name to another', (t) => {
  const a = { ...eth0, name: 'a' };
  t.deepEqual(portCommands({ a: eth1, b: a, management: [] }, [a, eth1]).slice(0, 6), [
    'link set dev a down',
    'link set dev a name old-a',
    'link set dev eth1 down',
    'link set dev eth1 name a',
    'link set dev old-a down',
    'link set dev old-a name b',
  ]);
});

test('setup turns offloads off on both ports, waits for the bridge to be closed, sends the bridge commands to one `ip -force -batch` and starts DHCP on the management NIC', async (t) => {
  const root = await fakeSysfs([
    { name: 'eth0', mac: '52:54:00:00:00:01', pci: '0000:00:03.0' },
    { name: 'eth1', mac: '52:54:00:00:00:02', pci: '0000:00:04.0' },
    { name: 'eth2', mac: '52:54:00:00:00:03', pci: '0000:00:05.0' },
  ]);
  const calls: string[] = [];
  const run: Runner = async (cmd, args, opts) => {
    calls.push(`${cmd} ${args.join(' ')}${opts?.input ? ` <<${opts.input.split('\n').length - 1} lines` : ''}`);
    return { code: 0, stdout: '', stderr: '' };
  };
  const launched: string[] = [];
  const said: string[] = [];
  let close!: () => void;
  const closed = new Promise<void>((r) => (close = r));
  const setup = setupPorts({ root, run, launch: (cmd, args) => launched.push(`${cmd} ${args.join(' ')}`), say: (l) => said.push(l), closed });
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(calls.sort(), ['/sbin/ethtool -K eth0 gro off gso off tso off lro off rx-gro-hw off', '/sbin/ethtool -K eth1 gro off gso off tso off lro off rx-gro-hw off'], 'the ports came up before the bridge was closed');
  close();
  const choice = await setup;
  t.is(choice.a.name, 'eth0');
  t.is(calls.at(-1), '/sbin/ip -force -batch - <<10 lines');
  t.deepEqual(launched, [`/bin/busybox udhcpc -i eth2 -b -t 5 -T 1 -A 2 -s /usr/share/udhcpc/default.script -p ${join(root, FILES.run, 'udhcpc.eth2.pid')}`]);
  t.deepEqual(said, ['ports: a=eth0 (52:54:00:00:00:01) b=eth1 (52:54:00:00:00:02) management: eth2 52:54:00:00:00:03']);
});

test('the bridge is built while the offloads are being turned off, and setup ends only once they are off', async (t) => {
  const root = await fakeSysfs([
    { name: 'eth0', mac: '52:54:00:00:00:01', pci: '0000:00:03.0' },
    { name: 'eth1', mac: '52:54:00:00:00:02', pci: '0000:00:04.0' },
  ]);
  const calls: string[] = [];
  let finishEthtool!: () => void;
  const ethtoolDone = new Promise<void>((r) => (finishEthtool = r));
  const run: Runner = async (cmd, args) => {
    calls.push(cmd);
    if (cmd.endsWith('ethtool')) await ethtoolDone;
    return { code: 0, stdout: '', stderr: '' };
  };
  let done = false;
  const setup = setupPorts({ root, run, launch: () => undefined, say: () => undefined, closed: Promise.resolve() }).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(calls, ['/sbin/ethtool', '/sbin/ethtool', '/sbin/ip'], 'ip ran while ethtool had not finished');
  t.false(done, 'setup ended before the offloads were off');
  finishEthtool();
  await setup;
  t.true(done);
});

test('a broken ports.json is reported and the ports are chosen by PCI order', async (t) => {
  const root = await fakeSysfs(
    [
      { name: 'eth0', mac: '52:54:00:00:00:01', pci: '0000:00:03.0' },
      { name: 'eth1', mac: '52:54:00:00:00:02', pci: '0000:00:04.0' },
    ],
    { [FILES.pins]: '{"a": "not a mac"}' },
  );
  const said: string[] = [];
  const ok = async () => ({ code: 0, stdout: '', stderr: '' });
  const choice = await setupPorts({ root, run: ok, launch: () => undefined, say: (l) => said.push(l), closed: Promise.resolve() });
  t.is(choice.a.name, 'eth0');
  t.is(said[0], 'warning: /etc/picowire/ports.json ignored: it must be {"a": "<MAC>", "b": "<MAC>"} (either may be left out), got {"a": "not a mac"}');
});

const portState = (port: string) => join(FILES.net, 'br0', 'brif', port, 'state');

test('waiting for the ports ends as soon as both forward, and names a port that does not by the deadline with its state', async (t) => {
  const root = await fakeSysfs([], { [portState('a')]: '3\n', [portState('b')]: '0\n' });
  // b's link comes up 100 ms later
  setTimeout(() => void writeFile(join(root, portState('b')), '3\n'), 100);
  const started = Date.now();
  t.deepEqual(await waitForwarding(root, 5000), []);
  const waited = Date.now() - started;
  t.true(waited >= 90 && waited < 2000, `waited ${waited} ms for b`);

  await writeFile(join(root, portState('a')), '0\n');
  t.deepEqual(await waitForwarding(root, 50), [{ port: 'a', state: 'disabled' }]);
  await rm(join(root, FILES.net, 'br0', 'brif', 'b'), { recursive: true });
  t.deepEqual(await waitForwarding(root, 0), [
    { port: 'a', state: 'disabled' },
    { port: 'b', state: 'not a port of the bridge' },
  ]);
});

test('the bridge is created on its own, and only by createBridge, only where it does not exist; a failure says why', async (t) => {
  const root = await fakeSysfs([]);
  const calls: string[] = [];
  const run = (code: number): Runner => async (cmd, args) => {
    calls.push(`${cmd} ${args.join(' ')}`);
    return { code, stdout: '', stderr: code ? 'RTNETLINK answers: Operation not supported' : '' };
  };
  t.is(await createBridge({ root, run: run(0) }), undefined);
  t.deepEqual(calls, ['/sbin/ip link add name br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0']);
  t.false(portCommands({ a: eth0, b: eth1, management: [] }, [eth0, eth1]).some((l) => l.startsWith('link add')), 'the ports\' commands make no second bridge');
  t.is(await createBridge({ root, run: run(2) }), 'ip: RTNETLINK answers: Operation not supported');
  await mkdir(join(root, FILES.net, 'br0'), { recursive: true });
  calls.length = 0;
  t.is(await createBridge({ root, run: run(0) }), undefined);
  t.deepEqual(calls, [], 'an existing bridge is left alone');
});
