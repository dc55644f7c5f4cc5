// Two test hosts, each alone in a network namespace, on either side of a wire: the appliance
// under test (taps that QEMU opens) or, for host-only tests, a Linux bridge in a third namespace.
// Addresses come from 198.18.0.0/15 (RFC 2544) and live only inside namespaces made here.
import { spawn as spawnChild, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { execa } from 'execa';

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface TestHost {
  /** "left" or "right" */
  name: string;
  netns: string;
  /** its one interface, inside netns */
  ifname: string;
  /** its IPv4 address, without the prefix length */
  address: string;
  /** its MAC address (fixed, so the other host can know it without ARP) */
  mac: string;
  /** Runs a command inside the host's namespace; throws only if it cannot start or outlives timeoutMs. */
  exec(cmd: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running command (a server) inside the host's namespace. */
  spawn(cmd: string[]): ChildProcess;
}

/** What joins the two hosts: taps for a VM (QEMU carries the frames), or veths on a bridge in a namespace. */
export type Wire = 'tap' | 'veth';

export interface Lab {
  left: TestHost;
  right: TestHost;
  wire: Wire;
  /** tap wire: the taps to give QEMU (root namespace until attachTaps); veth wire: the bridge ports */
  taps: [string, string];
  /** every namespace this lab made */
  namespaces: string[];
  /** Deletes the namespaces and taps, stopping what runs in them; safe to call twice and after failures. */
  teardown(): Promise<void>;
}

export interface LabOptions {
  /** starts every name this lab makes, so leftovers of a crashed run can be found: 1–3 lowercase letters */
  prefix?: string;
  wire?: Wire;
}

const PREFIX = /^[a-z]{1,3}$/;
const SUBNET = '198.18.0';
const HOSTS = [
  { name: 'left', role: 'l', address: `${SUBNET}.1`, mac: '02:70:77:00:00:01' },
  { name: 'right', role: 'r', address: `${SUBNET}.2`, mac: '02:70:77:00:00:02' },
] as const;
// one more lab per process gets the next number: names stay unique within a run
let labsMade = 0;

/** Whether labs can be made here, and if not, why (root, /dev/net/tun, ip netns, ping, iperf3). */
export function labSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `labs need Linux network namespaces; this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'labs need root (network namespaces and tap devices): run as root, as CI does' };
  if (!existsSync('/dev/net/tun')) return { ok: false, reason: '/dev/net/tun is missing: load the tun module (modprobe tun)' };
  for (const [tool, pkg] of [['ip', 'iproute2'], ['ping', 'iputils-ping'], ['iperf3', 'iperf3']] as const) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return { ok: false, reason: `${tool} is not installed: apt-get install -y ${pkg}` };
    }
  }
  const probe = `pwprobe${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (e) {
    return { ok: false, reason: `"ip netns add" fails here: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}` };
  }
  return { ok: true };
}

/** Runs `ip` (or another tool) in the root namespace; failure names the command and what it said. */
async function run(file: string, args: string[]): Promise<string> {
  const r = await execa(file, args, { reject: false, env: { LC_ALL: 'C' } });
  if (r.exitCode !== 0) throw new Error(`lab: "${[file, ...args].join(' ')}" failed (exit ${r.exitCode ?? r.signal}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs a command and ignores "it is not there any more": teardown must get through everything. */
async function runQuietly(file: string, args: string[]): Promise<void> {
  await execa(file, args, { reject: false });
}

/** A host object whose commands run in `netns` through `ip netns exec`. */
function makeHost(h: (typeof HOSTS)[number], netns: string, ifname: string): TestHost {
  return {
    name: h.name,
    netns,
    ifname,
    address: h.address,
    mac: h.mac,
    async exec(cmd, opts = {}) {
      const r = await execa('ip', ['netns', 'exec', netns, ...cmd], { reject: false, timeout: opts.timeoutMs, env: { LC_ALL: 'C' } });
      if (r.timedOut) throw new Error(`${h.name} host: "${cmd.join(' ')}" still ran after ${opts.timeoutMs} ms and was killed`);
      if (r.exitCode === undefined) throw new Error(`${h.name} host: "${cmd.join(' ')}" could not run or was killed (${r.signal ?? r.message})`);
      return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
    },
    spawn(cmd) {
      // `ip netns exec` execs the command itself, so killing this child kills the command
      return spawnChild('ip', ['netns', 'exec', netns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    },
  };
}

/** The names one lab uses: `<prefix>-<pid base 36>-<n>-<role>`, at most 15 characters as interface names must be. */
function labNames(prefix: string): (role: string) => string {
  const base = `${prefix}-${process.pid.toString(36)}-${(labsMade++).toString(36)}`;
  return (role) => {
    const name = `${base}-${role}`;
    if (name.length > 15) throw new Error(`lab: name "${name}" is longer than the 15 characters an interface name may have; use a shorter prefix than "${prefix}"`);
    return name;
  };
}

/** Whether process `pid` still runs (EPERM: it runs, as someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces and root-namespace links that a dead process of this prefix left behind. */
export async function cleanLeftovers(prefix: string): Promise<string[]> {
  const ours = new RegExp(`^${prefix}-([0-9a-z]+)-[0-9a-z]+-[a-z]+$`);
  const dead = (name: string): boolean => {
    const m = ours.exec(name);
    if (!m) return false;
    const pid = parseInt(m[1]!, 36);
    return pid !== process.pid && !alive(pid);
  };
  const namespaces = (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!).filter(dead);
  const links = (JSON.parse((await run('ip', ['-j', 'link', 'show'])) || '[]') as { ifname: string }[]).map((l) => l.ifname).filter(dead);
  for (const ns of namespaces) await deleteNamespace(ns);
  for (const link of links) await runQuietly('ip', ['link', 'del', link]);
  return [...namespaces, ...links];
}

/** Stops every process inside a namespace, then deletes it (its virtual links go with it). */
async function deleteNamespace(ns: string): Promise<void> {
  const pids = await execa('ip', ['netns', 'pids', ns], { reject: false });
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await runQuietly('ip', ['netns', 'del', ns]);
}

/** Quiet, known state for a host namespace: lo up, no IPv6 chatter crossing the wire under test. */
async function prepareNamespace(ns: string): Promise<void> {
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  // IPv6 router solicitations and MLD reports would cross the emulator and blur packet counts
  await runQuietly('ip', ['netns', 'exec', ns, 'sh', '-c', 'test -d /proc/sys/net/ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6']);
}

/** Addresses a host's interface, brings it up and pins the peer's MAC so no ARP crosses the wire. */
async function addressHost(host: TestHost, peer: TestHost): Promise<void> {
  await run('ip', ['-n', host.netns, 'link', 'set', host.ifname, 'address', host.mac]);
  await run('ip', ['-n', host.netns, 'addr', 'replace', `${host.address}/24`, 'dev', host.ifname]);
  await run('ip', ['-n', host.netns, 'link', 'set', host.ifname, 'up']);
  await run('ip', ['-n', host.netns, 'neigh', 'replace', peer.address, 'lladdr', peer.mac, 'dev', host.ifname, 'nud', 'permanent']);
}

// what attachTaps does for each lab (nothing more for a veth wire)
const attachers = new WeakMap<Lab, () => Promise<void>>();

/**
 * Makes a lab. Tap wire: namespaces plus two persistent taps, up, in the root namespace for QEMU
 * to open (`-netdev tap,ifname=…,script=no,downscript=no`); call attachTaps once it runs. Veth wire:
 * a bridge in a third namespace joins the hosts, ready at once. A crashed run's leftovers with the
 * same prefix are removed first; if anything fails, what was made is removed again.
 */
export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  const prefix = opts.prefix ?? 'pw';
  const wire = opts.wire ?? 'tap';
  if (!PREFIX.test(prefix)) throw new Error(`createLab: prefix "${prefix}" is not allowed; allowed: 1 to 3 lowercase letters`);
  if (wire !== 'tap' && wire !== 'veth') throw new Error(`createLab: wire "${String(wire)}" is not allowed; allowed: "tap", "veth"`);
  await cleanLeftovers(prefix);
  const name = labNames(prefix);
  const namespaces = [name('l'), name('r'), ...(wire === 'veth' ? [name('w')] : [])];
  const taps: [string, string] = wire === 'tap' ? [name('tl'), name('tr')] : ['pl', 'pr'];
  const ifnames = wire === 'tap' ? taps : ['eth0', 'eth0'];
  const [left, right] = HOSTS.map((h, i) => makeHost(h, namespaces[i]!, ifnames[i]!)) as [TestHost, TestHost];
  let torn = false;
  const lab: Lab = {
    left,
    right,
    wire,
    taps,
    namespaces,
    async teardown() {
      if (torn) return;
      torn = true;
      for (const ns of namespaces) await deleteNamespace(ns);
      if (wire === 'tap') for (const tap of taps) await runQuietly('ip', ['link', 'del', tap]); // still in the root namespace
    },
  };
  try {
    for (const ns of namespaces.slice(0, 2)) await prepareNamespace(ns);
    if (wire === 'tap') {
      for (const tap of taps) {
        await run('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
        await run('ip', ['link', 'set', tap, 'up']);
      }
      attachers.set(lab, () => attachTapsNow(lab));
    } else {
      await buildVethWire(lab, namespaces[2]!);
      attachers.set(lab, async () => {});
    }
  } catch (e) {
    await lab.teardown();
    throw e;
  }
  return lab;
}

/** The host-only wire: each host's eth0 is a veth whose peer is a port of bridge br0 in namespace `w`. */
async function buildVethWire(lab: Lab, w: string): Promise<void> {
  await run('ip', ['netns', 'add', w]);
  await run('ip', ['-n', w, 'link', 'add', 'br0', 'type', 'bridge']);
  for (const [i, host] of [lab.left, lab.right].entries()) {
    const port = lab.taps[i]!;
    await run('ip', ['-n', w, 'link', 'add', port, 'type', 'veth', 'peer', 'name', host.ifname, 'netns', host.netns]);
    await run('ip', ['-n', w, 'link', 'set', port, 'master', 'br0', 'up']);
  }
  await run('ip', ['-n', w, 'link', 'set', 'br0', 'up']);
  await addressHost(lab.left, lab.right);
  await addressHost(lab.right, lab.left);
}

/**
 * Moves each tap into its host's namespace and addresses it, after QEMU has opened it: a tap that
 * nothing holds has no carrier, and moving it then would make QEMU create a fresh tap by that name
 * in the root namespace, unconnected. A tap keeps carrying frames across the move.
 */
export async function attachTaps(lab: Lab, opts: { timeoutMs?: number } = {}): Promise<void> {
  const attach = attachers.get(lab);
  if (!attach) throw new Error('attachTaps: this lab was not made by createLab');
  await waitForCarrier(lab, opts.timeoutMs ?? 10_000);
  await attach();
  attachers.set(lab, async () => {}); // a second call has nothing left to do
}

/** Waits until every tap of a tap lab still in the root namespace has carrier, i.e. QEMU holds it open. */
async function waitForCarrier(lab: Lab, timeoutMs: number): Promise<void> {
  if (lab.wire !== 'tap') return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(lab.taps.map((tap) => linkFlags(tap)));
    const waiting = lab.taps.filter((_, i) => states[i] !== 'moved' && !states[i]!.includes('LOWER_UP'));
    if (waiting.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`attachTaps: tap ${waiting.join(', ')} has no carrier after ${timeoutMs} ms: nothing opened it; start QEMU with -netdev tap,ifname=${waiting[0]},script=no,downscript=no first`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A root-namespace link's flags, or "moved" once it is no longer there. */
async function linkFlags(name: string): Promise<string[] | 'moved'> {
  const r = await execa('ip', ['-j', 'link', 'show', 'dev', name], { reject: false });
  if (r.exitCode !== 0) return 'moved';
  return (JSON.parse(r.stdout) as { flags: string[] }[])[0]?.flags ?? [];
}

/** The move itself: into the namespace (where it arrives down), then address, up, and pinned neighbour. */
async function attachTapsNow(lab: Lab): Promise<void> {
  for (const host of [lab.left, lab.right]) {
    if ((await linkFlags(host.ifname)) !== 'moved') await run('ip', ['link', 'set', host.ifname, 'netns', host.netns]);
  }
  await addressHost(lab.left, lab.right);
  await addressHost(lab.right, lab.left);
}

/**
 * IPv6 on for a host's interface alone (the lab's namespaces start with it off, prepareNamespace),
 * without a link-local address, router solicitations or router advertisements to send or take.
 */
async function enableIpv6(host: TestHost): Promise<void> {
  await run('ip', ['-n', host.netns, 'link', 'set', 'dev', host.ifname, 'addrgenmode', 'none']);
  for (const [key, value] of [['accept_ra', '0'], ['router_solicitations', '0'], ['disable_ipv6', '0']]) {
    await run('ip', ['netns', 'exec', host.netns, 'sysctl', '-qw', `net.ipv6.conf.${host.ifname}.${key}=${value}`]);
  }
}

/**
 * Gives `host` an IPv6 address from the benchmarking prefix 2001:2::/48 (RFC 5180), as a /64 of its
 * own interface, without duplicate address detection; its peers get a /128 route to it and its MAC
 * pinned, so no neighbour discovery crosses the wire (an ip6 rule would queue it).
 */
export async function addHostAddress6(host: TestHost, address: string, peers: TestHost[]): Promise<void> {
  if (!/^2001:2:0?:[0-9a-f:]+$/i.test(address) && !/^2001:2::[0-9a-f:]*$/i.test(address)) throw new Error(`addHostAddress6: ${address} is not allowed; allowed: an address in 2001:2::/48`);
  for (const h of [host, ...peers]) await enableIpv6(h);
  await run('ip', ['-n', host.netns, '-6', 'addr', 'replace', `${address}/64`, 'dev', host.ifname, 'nodad']);
  for (const peer of peers) {
    await run('ip', ['-n', peer.netns, '-6', 'route', 'replace', `${address}/128`, 'dev', peer.ifname]);
    await run('ip', ['-n', peer.netns, '-6', 'neigh', 'replace', address, 'lladdr', host.mac, 'dev', peer.ifname, 'nud', 'permanent']);
  }
}

/**
 * Gives `host` one more address (from 198.18.0.0/15, as a /24 of its own interface) that its peers
 * reach on-link: each peer gets a /32 route to it through its interface and the host's MAC pinned
 * for it, so no ARP crosses the wire. The host answers from it and can send from it (bind to it).
 */
export async function addHostAddress(host: TestHost, address: string, peers: TestHost[]): Promise<void> {
  if (!/^198\.1[89]\.\d{1,3}\.\d{1,3}$/.test(address)) throw new Error(`addHostAddress: ${address} is not allowed; allowed: an address in 198.18.0.0/15`);
  await run('ip', ['-n', host.netns, 'addr', 'replace', `${address}/24`, 'dev', host.ifname]);
  for (const peer of peers) {
    await run('ip', ['-n', peer.netns, 'route', 'replace', `${address}/32`, 'dev', peer.ifname]);
    await run('ip', ['-n', peer.netns, 'neigh', 'replace', address, 'lladdr', host.mac, 'dev', peer.ifname, 'nud', 'permanent']);
  }
}
