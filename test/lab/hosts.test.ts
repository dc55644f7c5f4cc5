import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import test, { type ExecutionContext } from 'ava';
import { attachTaps, createLab, labSupport, type Lab } from '../../src/lab/hosts.ts';
import { iperf3Tcp, pingRtt } from '../../src/lab/measure.ts';
import { median } from '../../src/lab/stats.ts';
import { testNeeding } from '../helpers/env.ts';

/** The namespaces that exist now. */
function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** Whether a link of this name exists in the root namespace. */
function rootLink(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// one veth lab shared by the tests that only measure; made by the first of them
let shared: Promise<Lab> | undefined;
const vethLab = (): Promise<Lab> => (shared ??= createLab({ wire: 'veth', prefix: 'pwh' }));
test.after.always(async () => {
  if (shared) await (await shared).teardown();
});

test('a lab prefix must be 1 to 3 lowercase letters', async (t) => {
  await t.throwsAsync(createLab({ prefix: 'Picowire' }), { message: 'createLab: prefix "Picowire" is not allowed; allowed: 1 to 3 lowercase letters' });
  await t.throwsAsync(createLab({ wire: 'usb' as 'tap' }), { message: /wire "usb" is not allowed; allowed: "tap", "veth"/ });
});

testNeeding(['root'], 'this machine supports labs (root, /dev/net/tun, ip netns, ping, iperf3)', (t: ExecutionContext) => {
  t.deepEqual(labSupport(), { ok: true });
});

testNeeding(['root'], 'a veth lab gives each host its own namespace, interface and address in 198.18.0.0/24', async (t: ExecutionContext) => {
  const lab = await vethLab();
  t.is(lab.namespaces.length, 3);
  for (const ns of lab.namespaces) t.true(namespaces().includes(ns), ns);
  for (const ns of lab.namespaces) t.true(ns.length <= 15, ns);
  for (const [host, address] of [[lab.left, '198.18.0.1'], [lab.right, '198.18.0.2']] as const) {
    const out = await host.exec(['ip', '-j', 'addr', 'show', 'dev', host.ifname]);
    const addrs = (JSON.parse(out.stdout) as { addr_info: { family: string; local: string; prefixlen: number }[] }[])[0]!.addr_info;
    t.deepEqual(addrs.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`), [`${address}/24`]);
    t.is(host.address, address);
  }
});

testNeeding(['root'], 'hosts on a veth lab ping each other with no loss and a median RTT under 5 ms', async (t: ExecutionContext) => {
  const lab = await vethLab();
  const r = await pingRtt(lab.left, lab.right, { count: 100, intervalS: 0.005 });
  t.log(`RTT median ${median(r.rttsMs).toFixed(3)} ms, max ${Math.max(...r.rttsMs).toFixed(3)} ms`);
  t.is(r.sent, 100);
  t.is(r.received, 100);
  t.true(median(r.rttsMs) < 5, `median ${median(r.rttsMs)} ms`);
});

testNeeding(['root'], 'TCP goodput between hosts on a veth lab exceeds 500 Mbit/s', async (t: ExecutionContext) => {
  const lab = await vethLab();
  const r = await iperf3Tcp(lab.left, lab.right, { seconds: 2 });
  t.log(`goodput ${(r.goodputBps / 1e9).toFixed(2)} Gbit/s, ${r.retransmits} retransmits`);
  t.true(r.goodputBps > 500e6, `${r.goodputBps} bit/s`);
});

testNeeding(['root'], 'teardown removes every namespace the lab made, and a second teardown does nothing', async (t: ExecutionContext) => {
  const lab = await createLab({ wire: 'veth', prefix: 'pwh' });
  await lab.teardown();
  for (const ns of lab.namespaces) t.false(namespaces().includes(ns), ns);
  await t.notThrowsAsync(lab.teardown());
});

testNeeding(['root'], 'a new lab removes a dead run’s leftovers of its prefix and keeps a live run’s', async (t: ExecutionContext) => {
  const child = spawn('true');
  await new Promise((r) => child.once('exit', r));
  const dead = `pwd-${child.pid!.toString(36)}-0`;
  const live = `pwd-${process.ppid.toString(36)}-0`; // ava's main process runs while this test does
  execFileSync('ip', ['netns', 'add', `${dead}-l`]);
  execFileSync('ip', ['netns', 'add', `${live}-l`]);
  execFileSync('ip', ['tuntap', 'add', 'dev', `${dead}-tl`, 'mode', 'tap']);
  try {
    const lab = await createLab({ wire: 'tap', prefix: 'pwd' });
    await lab.teardown();
    t.false(namespaces().includes(`${dead}-l`));
    t.false(rootLink(`${dead}-tl`));
    t.true(namespaces().includes(`${live}-l`));
  } finally {
    for (const ns of [`${dead}-l`, `${live}-l`]) if (namespaces().includes(ns)) execFileSync('ip', ['netns', 'del', ns]);
    if (rootLink(`${dead}-tl`)) execFileSync('ip', ['link', 'del', `${dead}-tl`]);
  }
});

testNeeding(['root'], 'a tap lab leaves its taps up in the root namespace until attachTaps, which refuses taps nothing opened', async (t: ExecutionContext) => {
  const lab = await createLab({ wire: 'tap', prefix: 'pwh' });
  try {
    t.is(lab.namespaces.length, 2);
    for (const tap of lab.taps) t.true(rootLink(tap), tap);
    await t.throwsAsync(attachTaps(lab, { timeoutMs: 300 }), { message: new RegExp(`tap ${lab.taps[0]}, ${lab.taps[1]} has no carrier after 300 ms: nothing opened it`) });
  } finally {
    await lab.teardown();
  }
  for (const tap of lab.taps) t.false(rootLink(tap), `${tap} is gone after teardown`);
});

/** QEMU with no machine, joining two taps through its hub: the same tap handling as the appliance, without an image. */
function qemuHub(taps: [string, string]): ChildProcess {
  const [l, r] = taps;
  return spawn('qemu-system-x86_64', [
    '-machine', 'none', '-nodefaults', '-display', 'none',
    '-netdev', `tap,id=l,ifname=${l},script=no,downscript=no`,
    '-netdev', `tap,id=r,ifname=${r},script=no,downscript=no`,
    '-netdev', 'hubport,id=pl,hubid=0,netdev=l',
    '-netdev', 'hubport,id=pr,hubid=0,netdev=r',
  ], { stdio: 'ignore' });
}

testNeeding(['root', 'qemu'], 'taps QEMU has opened keep carrying frames after attachTaps moves them into the hosts’ namespaces', async (t: ExecutionContext) => {
  const lab = await createLab({ wire: 'tap', prefix: 'pwh' });
  const qemu = qemuHub(lab.taps);
  try {
    await attachTaps(lab);
    for (const tap of lab.taps) t.false(rootLink(tap), `${tap} left the root namespace`);
    const r = await pingRtt(lab.left, lab.right, { count: 20, intervalS: 0.01 });
    t.is(r.received, 20);
    const tcp = await iperf3Tcp(lab.left, lab.right, { seconds: 1 });
    t.log(`through QEMU's hub: RTT median ${median(r.rttsMs).toFixed(3)} ms, goodput ${(tcp.goodputBps / 1e6).toFixed(0)} Mbit/s`);
    t.true(tcp.goodputBps > 50e6, `${tcp.goodputBps} bit/s`);
  } finally {
    await lab.teardown();
    qemu.kill();
  }
});
