// The two bridge ports. The first two NICs in PCI order become `a` and `b` (unless
// /etc/picowire/ports.json pins them by MAC), join bridge br0 with no STP, no forwarding delay,
// no multicast snooping and no addresses: a transparent wire. Offloads are turned off on them,
// since GRO/TSO super-packets (and virtio-net's rx-gro-hw) would make loss and rate act on 64 KB lumps instead of frames.
// A third NIC, if any, is for management: it gets an address from DHCP in the background.
import { readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { firstLines, trace, type Launcher, type Runner } from './exec.ts';
import { BIN, BRIDGE, DHCP_SCRIPT, FILES } from './paths.ts';
import { PORTS } from './plan.ts';

/** Offloads turned off on the ports (a feature a NIC lacks is "off [fixed]", which ethtool accepts). */
const OFFLOADS = ['gro', 'gso', 'tso', 'lro', 'rx-gro-hw'] as const;

/** A network interface backed by a device (virtual ones such as lo and br0 are not NICs). */
export interface Nic {
  name: string;
  mac: string;
  /** the device's sysfs path, whose order is the PCI order */
  device: string;
}

export interface PortChoice {
  a: Nic;
  b: Nic;
  management: Nic[];
}

type Pins = Partial<Record<'a' | 'b', string>>;

interface Context {
  root: string;
  run: Runner;
  launch: Launcher;
  say: (line: string) => void;
}

/** The NICs present now, in PCI order. */
export async function listNics(root: string): Promise<Nic[]> {
  const dir = join(root, FILES.net);
  const nics: Nic[] = [];
  for (const name of await readdir(dir).catch(() => [])) {
    const device = await realpath(join(dir, name, 'device')).catch(() => undefined);
    if (!device) continue;
    const mac = (await readFile(join(dir, name, 'address'), 'utf8').catch(() => '')).trim().toLowerCase();
    nics.push({ name, mac, device });
  }
  return nics.sort((x, y) => (x.device < y.device ? -1 : x.device > y.device ? 1 : 0));
}

/** Which NIC is a, which is b and which are for management; a string says why no choice is possible yet. */
export function choosePorts(nics: Nic[], pins: Pins): PortChoice | string {
  const taken = new Set<Nic>();
  const chosen: Partial<Record<'a' | 'b', Nic>> = {};
  for (const port of PORTS) {
    const mac = pins[port]?.toLowerCase();
    if (!mac) continue;
    const nic = nics.find((n) => n.mac === mac);
    if (!nic) return `port ${port} is pinned to ${mac} in /${FILES.pins}, and no NIC has that MAC (NICs: ${describe(nics)})`;
    chosen[port] = nic;
    taken.add(nic);
  }
  const free = nics.filter((n) => !taken.has(n));
  for (const port of PORTS) {
    if (chosen[port]) continue;
    const nic = free.shift();
    if (!nic) return `need two NICs for ports a and b, found ${nics.length} (${describe(nics) || 'none'})`;
    chosen[port] = nic;
    taken.add(nic);
  }
  return { a: chosen.a!, b: chosen.b!, management: nics.filter((n) => !taken.has(n)) };
}

/** The bridge: no STP, no forwarding delay, no multicast snooping (it would keep multicast from ports that asked for none). */
const BRIDGE_TYPE = ['type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0'];
/** `ip` arguments that make the bridge; the build writes them to FILES.bridgeIp, for rcS to make it at boot. */
export const BRIDGE_ADD = ['link', 'add', 'name', BRIDGE, ...BRIDGE_TYPE];

/**
 * Creates the bridge, with no ports yet, unless it exists (at boot rcS has made it from BRIDGE_ADD);
 * a string says why it could not. Made before it is closed: a kernel may not hook a bridge table made
 * while its namespace has no bridge (6.18 does not: pings crossed a table whose policy was drop; Debian's 6.1 does).
 */
export async function createBridge(ctx: Pick<Context, 'root' | 'run'>): Promise<string | undefined> {
  if (existsSync(join(ctx.root, FILES.net, BRIDGE))) return undefined;
  const r = await ctx.run(BIN.ip, BRIDGE_ADD);
  return r.code === 0 ? undefined : `ip: ${firstLines(r.stderr)}`;
}

/** `ip -batch` lines that rename the ports, put them in the bridge (createBridge made it) and bring everything up; idempotent when run again. */
export function portCommands(choice: PortChoice, nics: Nic[]): string[] {
  const lines: string[] = [];
  const named = new Map(nics.map((n) => [n, n.name])); // names as the renames so far leave them
  for (const port of PORTS) {
    const nic = choice[port];
    const name = named.get(nic) ?? nic.name;
    if (name === port) continue;
    // another NIC holding the name (pins changed) steps aside first
    const holder = [...named].find(([n, current]) => current === port && n !== nic)?.[0];
    if (holder) {
      lines.push(`link set dev ${port} down`, `link set dev ${port} name old-${port}`);
      named.set(holder, `old-${port}`);
    }
    lines.push(`link set dev ${name} down`, `link set dev ${name} name ${port}`);
    named.set(nic, port);
  }
  for (const port of PORTS) lines.push(`link set dev ${port} master ${BRIDGE}`);
  for (const port of PORTS) lines.push(`link set dev ${port} up`);
  lines.push(`link set dev ${BRIDGE} up`);
  for (const nic of choice.management) lines.push(`link set dev ${nic.name} up`);
  return lines;
}

/** Waits for two NICs, then makes them the bridge ports once `closed` says the bridge exists and forwards nothing; returns the choice made. `joining` is called once the tools that join them run. */
export async function setupPorts(ctx: Context & { closed: Promise<unknown>; joining?: () => void }): Promise<PortChoice> {
  const pins = await readPins(ctx);
  let choice: PortChoice | string;
  let nics: Nic[];
  const started = Date.now();
  let told = false;
  // NICs on USB or slow buses may appear after the agent starts
  for (;;) {
    nics = await listNics(ctx.root);
    choice = choosePorts(nics, pins);
    if (typeof choice !== 'string') break;
    if (!told && Date.now() - started > 2000) {
      ctx.say(`waiting: ${choice}`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const { a, b, management } = choice;
  trace?.(`${Math.round(performance.now())} ms: ports chosen`);
  ctx.say(`ports: a=${a.name} (${a.mac}) b=${b.name} (${b.mac})${management.length ? ` management: ${describe(management)}` : ''}`);
  // offloads by the NICs' present names, while the bridge is closed and built (each tool takes
  // ~0.1-0.2 s under TCG): nothing crosses it before a profile is in force, which waits for them.
  // rx-gro-hw too: virtio-net (and NICs that aggregate in hardware) otherwise hand over the host's
  // TSO segments whole, and the pipes would count, queue and lose 64 KB lumps, not frames
  const offloads = Promise.all(
    [a, b].map(async (nic) => {
      const r = await ctx.run(BIN.ethtool, ['-K', nic.name, ...OFFLOADS.flatMap((f) => [f, 'off'])]);
      if (r.code !== 0) ctx.say(`warning: offloads on ${nic.name} may stay on: ${firstLines(r.stderr)}`);
    }),
  );
  // no IPv6 link-local addresses on the wire: the ports get their own setting, and so does the bridge below
  await Promise.all([...['default', a.name, b.name].map((c) => writeFile(join(ctx.root, FILES.ipv6Conf, c, 'disable_ipv6'), '1').catch(() => undefined)), ctx.closed]);
  // the bridge, made before `default` said so, would take a link-local address when it comes up and
  // send router solicitations and MLD reports out of the ports: it gets none either
  await writeFile(join(ctx.root, FILES.ipv6Conf, BRIDGE, 'disable_ipv6'), '1').catch(() => undefined);
  trace?.(`${Math.round(performance.now())} ms: bridge closed, ports join`);
  // -force: a line that fails (say, a port already enslaved) does not stop the rest
  const batch = ctx.run(BIN.ip, ['-force', '-batch', '-'], { input: portCommands(choice, nics).join('\n') + '\n' });
  // the caller's own work (validating the profile) runs now, while ip and ethtool do theirs, not
  // before, when it would hold up choosing the ports and starting the tools
  ctx.joining?.();
  const ip = await batch;
  if (ip.code !== 0) ctx.say(`warning: setting up the bridge: ${firstLines(ip.stderr)}`);
  await Promise.all([offloads, ...management.map((nic) => startDhcp(ctx, nic.name))]);
  return choice;
}

/** A bridge port's state as sysfs gives it (brif/<port>/state), by the kernel's numbers. */
const PORT_STATES = ['disabled', 'listening', 'learning', 'forwarding', 'blocking'] as const;

/**
 * Waits until both ports forward, for up to `ms`; returns those that still do not, with their state.
 * The bridge takes a port into forwarding only once the kernel has noted the port's link as up, which
 * it does in its own time after `ip link set up`: `ip monitor` showed virtio-net's port a come up
 * with NO-CARRIER in 2 of 3 boots and the kernel's link watch note its link 0.13 s later. In 2 of
 * 12 QEMU boots port a forwarded 0.08–0.15 s after the profile was applied, and the pings sent in
 * between were lost. A real NIC negotiates its link for a second or more; one without a cable never does.
 */
export async function waitForwarding(root: string, ms: number): Promise<{ port: string; state: string }[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const states = await Promise.all(
      PORTS.map(async (port) => {
        const text = await readFile(join(root, FILES.net, BRIDGE, 'brif', port, 'state'), 'utf8').catch(() => undefined);
        return { port, state: text === undefined ? 'not a port of the bridge' : (PORT_STATES[Number(text)] ?? `state ${text.trim()}`) };
      }),
    );
    const waiting = states.filter((s) => s.state !== 'forwarding');
    if (waiting.length === 0 || Date.now() >= deadline) return waiting;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Pins from /etc/picowire/ports.json ({"a": "<MAC>", "b": "<MAC>"}); a broken file is reported and ignored. */
async function readPins(ctx: Context): Promise<Pins> {
  const text = await readFile(join(ctx.root, FILES.pins), 'utf8').catch(() => undefined);
  if (text === undefined) return {};
  try {
    const pins = JSON.parse(text) as unknown;
    const mac = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;
    const ok =
      typeof pins === 'object' && pins !== null && Object.entries(pins).every(([k, v]) => (k === 'a' || k === 'b') && typeof v === 'string' && mac.test(v));
    if (ok) return pins as Pins;
    ctx.say(`warning: /${FILES.pins} ignored: it must be {"a": "<MAC>", "b": "<MAC>"} (either may be left out), got ${text.trim().slice(0, 80)}`);
  } catch (e) {
    ctx.say(`warning: /${FILES.pins} ignored: not valid JSON: ${(e as Error).message}`);
  }
  return {};
}

/** busybox udhcpc on a management NIC, in the background, once per boot (its pid file says whether it runs). */
async function startDhcp(ctx: Context, nic: string): Promise<void> {
  const pidFile = join(ctx.root, FILES.run, `udhcpc.${nic}.pid`);
  const pid = (await readFile(pidFile, 'utf8').catch(() => '')).trim();
  if (pid && existsSync(join(ctx.root, 'proc', pid))) return;
  // -b: go to the background if no lease comes at once. -s: Debian builds busybox to look for
  // /etc/udhcpc/default.script; ours is the overlay's /usr/share/udhcpc/default.script.
  // Discover every second, and retry after 2 s rather than busybox's 20: a link just brought up
  // often loses the first discovers.
  ctx.launch(BIN.busybox, ['udhcpc', '-i', nic, '-b', '-t', '5', '-T', '1', '-A', '2', '-s', DHCP_SCRIPT, '-p', pidFile]);
}

function describe(nics: Nic[]): string {
  return nics.map((n) => `${n.name} ${n.mac}`).join(', ');
}
