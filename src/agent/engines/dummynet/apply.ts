// The dummynet engine's applier: starts kipfw between the two ports when it is not running, then
// has the real ipfw command run the plan (planDummynet) against it. ipfw talks to kipfw over TCP
// 127.0.0.1:5555 (netmap-ipfw's stand-in for FreeBSD's setsockopt); `ipfw FILE` runs a file of
// commands in one process. If the file fails half-way, the previous profile's plan is run again, so a
// profile is wholly in force or not at all.
//
// kipfw and the bridge cannot share a NIC: netmap's generic adapter takes the NIC's receive hook,
// which a bridge port's is. So the ports leave br0 while kipfw runs, and come back when it stops.
// Without the bridge nobody puts the NICs in promiscuous mode, and frames for the hosts behind them
// would be filtered by the NIC (QEMU's virtio-net drops them before the guest sees them). netmap's
// generic_hwcsum has the sending NIC fill in TCP/UDP checksums: frames from a VM's virtio NIC
// arrive with the checksum left to offload (CHECKSUM_PARTIAL), and netmap would pass them on
// unfinished, so TCP across kipfw stalled until it was on (ping and UDP from a real wire are whole).
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { resolve } from '../../../profile/validate.ts';
import type { Profile } from '../../../profile/schema.ts';
import { firstLines, type Result, type Runner } from '../../exec.ts';
import { BIN, BRIDGE, FILES } from '../../paths.ts';
import { PORTS } from '../../plan.ts';
import { NETMAP_PORTS, planDummynet, type DummynetObjects } from './plan.ts';

export const KIPFW = '/usr/local/bin/kipfw';
export const IPFW = '/usr/local/bin/ipfw';
/** kipfw's pid, so a respawned agent finds the kipfw it started */
const PID_FILE = 'kipfw.pid';
const HWCSUM = 'sys/module/netmap/parameters/generic_hwcsum';
/** how long kipfw may take to open both netmap ports (1.7 s for the first under QEMU TCG) */
const START_MS = 20_000;
/** how long one ipfw run may take */
const IPFW_TIMEOUT_MS = 10_000;
/** dummynet's "foot shooting" limits (100 slots, 1 MB) raised to what profiles may ask (LIMITS in resolve.ts); idle flows are kept by kipfw itself (patches/netmap-ipfw/0005) */
const SYSCTLS = ['net.inet.ip.dummynet.pipe_slot_limit=100000', 'net.inet.ip.dummynet.pipe_byte_limit=1073741824'];

export interface Context {
  root: string;
  run: Runner;
}

/** The objects of the plan last put in force (per kernel: tests give each root its own), for the next plan to clean up after. */
const appliedBy = new Map<string, DummynetObjects>();

/** What the engine's last plan made in kipfw (status reads the pipe numbers from it); undefined before one this boot of the agent. */
export function appliedObjects(root: string): DummynetObjects | undefined {
  return appliedBy.get(root);
}

/** Puts a dummynet profile in force (kipfw started first if need be); on failure the previous dummynet profile is put back and the complaint returned. */
export async function applyDummynet(profile: Profile, previous: Profile | null, ctx: Context): Promise<string | undefined> {
  const started = await ensureKipfw(ctx);
  if (started) return started;
  const error = await runPlan(profile, ctx);
  if (!error) return undefined;
  if (previous?.engine !== 'dummynet') return error;
  const undo = await runPlan(previous, ctx);
  return undo ? `${error}; restoring the previous profile failed too: ${undo}` : error;
}

/**
 * Plans over what the last plan made and runs it: each pipe and queue config by itself, then the
 * rules through `ipfw FILE` in one process, then the deletes of pipes and queues no longer used.
 * netmap-ipfw's ipfw hangs on whatever follows a pipe or queue command in the same run (tried: a
 * file of two pipe configs never returned, nor one of rules ending in pipe deletes; one of rules
 * and sets did), so those take a process each.
 */
async function runPlan(profile: Profile, ctx: Context): Promise<string | undefined> {
  const p = planDummynet(resolve(profile), appliedBy.get(ctx.root));
  // the delay profiles the pipe configs name, in place before ipfw reads them
  for (const [path, content] of Object.entries(p.files)) {
    await mkdir(dirname(join(ctx.root, path)), { recursive: true });
    await writeFile(join(ctx.root, path), content);
  }
  // pipe and queue commands (configs before the rules, deletes after them) one ipfw each
  const alone = (line: string) => /^(pipe|queue) \d+ /.test(line);
  const fail = (r: Result, line: string) => {
    appliedBy.delete(ctx.root);
    return ipfwFailure(r, line);
  };
  const firstRule = p.lines.findIndex((l) => !alone(l) && !l.startsWith('#'));
  const rest = p.lines.filter((l) => !alone(l));
  const before = p.lines.slice(0, firstRule).filter(alone);
  const after = p.lines.slice(firstRule).filter(alone);
  for (const line of before) {
    const r = await ipfw(ctx, ['-q', ...line.split(' ')]);
    if (r.code !== 0) return fail(r, line);
  }
  const file = join(ctx.root, FILES.run, 'plan.ipfw');
  await mkdir(join(ctx.root, FILES.run), { recursive: true });
  // the whole plan, for whoever debugs at the console; ipfw reads the rule lines from a file of their own
  await writeFile(file, p.lines.join('\n') + '\n');
  const rules = join(ctx.root, FILES.run, 'rules.ipfw');
  await writeFile(rules, rest.join('\n') + '\n');
  // ipfw takes a file by its absolute path; -q: no echo of each rule added
  const r = await ipfw(ctx, ['-q', rules]);
  if (r.code !== 0) {
    // "Line 7: ..." names the line of the file
    const at = /Line (\d+)/.exec(r.stderr);
    return fail(r, at ? rest[Number(at[1]) - 1]! : rules);
  }
  // what the old rules used and the new do not: a failure here leaves only an unused pipe behind
  for (const line of after) await ipfw(ctx, ['-q', ...line.split(' ')]);
  appliedBy.set(ctx.root, p.objects);
  return undefined;
}

/** One run of ipfw, killed if kipfw does not answer (a hung ipfw would hold up every later change). */
export function ipfw(ctx: Context, args: string[]): ReturnType<Runner> {
  return ctx.run(IPFW, args, { timeoutMs: IPFW_TIMEOUT_MS });
}

/** What a failed ipfw run of `line` says, or that kipfw did not answer. */
export function ipfwFailure(r: Result, line: string): string {
  const said = firstLines(r.stderr || r.stdout);
  return `ipfw: ${said || (r.code === 128 ? `no answer from kipfw within ${IPFW_TIMEOUT_MS / 1000} s` : `exit ${r.code}`)} (in "ipfw ${line}")`;
}

/** kipfw's pid if it runs (the one this agent, or the one before it, started). */
export async function kipfwPid(root: string): Promise<number | undefined> {
  const pid = Number((await readFile(join(root, FILES.run, PID_FILE), 'utf8').catch(() => '')).trim());
  if (!pid) return undefined;
  const comm = await readFile(join(root, 'proc', String(pid), 'comm'), 'utf8').catch(() => '');
  return comm.trim() === 'kipfw' ? pid : undefined;
}

/** Starts kipfw between netmap:a and netmap:b unless it runs: the ports leave the bridge, and the call returns once kipfw holds both and answers ipfw; a string says why it could not. */
async function ensureKipfw(ctx: Context): Promise<string | undefined> {
  if (await kipfwPid(ctx.root)) return undefined;
  appliedBy.delete(ctx.root);
  const ip = await ctx.run(BIN.ip, ['-force', '-batch', '-'], { input: PORTS.flatMap((p) => [`link set dev ${p} nomaster`, `link set dev ${p} promisc on`]).join('\n') + '\n' });
  if (ip.code !== 0) return `taking the ports out of ${BRIDGE}: ${firstLines(ip.stderr)}`;
  await writeFile(join(ctx.root, HWCSUM), '1').catch(() => undefined);
  // detached, output discarded (kipfw logs a line a second): it outlives a respawned agent, which finds it by its pid file
  const child = spawn(KIPFW, PORTS.map((p) => NETMAP_PORTS[p]), { detached: true, stdio: 'ignore' });
  const failed = new Promise<string>((done) => child.on('error', (e) => done(`cannot start ${KIPFW}: ${e.message}`)));
  child.unref();
  if (child.pid === undefined) return await failed;
  await writeFile(join(ctx.root, FILES.run, PID_FILE), `${child.pid}\n`);
  const deadline = Date.now() + START_MS;
  for (;;) {
    const held = await netmapFds(ctx.root, child.pid);
    if (held >= PORTS.length) break;
    if (!(await kipfwPid(ctx.root))) return `kipfw ended at its start (netmap.ko not loaded, or a port missing?)`;
    if (Date.now() > deadline) return `kipfw did not open ${PORTS.map((p) => NETMAP_PORTS[p]).join(' and ')} within ${START_MS / 1000} s (it holds ${held})`;
    await new Promise((r) => setTimeout(r, 50));
  }
  return setSysctls(ctx);
}

/** dummynet's settings, each read back from `ipfw sysctl -a` (kipfw's sysctl emulation), sent again a few times at most until it shows. */
async function setSysctls(ctx: Context): Promise<string | undefined> {
  for (const setting of SYSCTLS) {
    const [name, value] = setting.split('=') as [string, string];
    let shown = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await ipfw(ctx, ['sysctl', setting]);
      if (r.code !== 0) return `ipfw sysctl ${setting}: ${firstLines(r.stderr) || `exit ${r.code}`}`;
      const all = await ipfw(ctx, ['sysctl', '-a']);
      shown = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\S+)`, 'm').exec(all.stdout)?.[1] ?? '';
      if (shown === value) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (shown !== value) return `kipfw did not take ${setting} (ipfw sysctl -a shows ${shown || 'nothing'})`;
  }
  return undefined;
}

/** How many of a process's open files are /dev/netmap (one per port it opened). */
async function netmapFds(root: string, pid: number): Promise<number> {
  const dir = join(root, 'proc', String(pid), 'fd');
  const fds = await readdir(dir).catch(() => [] as string[]);
  const targets = await Promise.all(fds.map((fd) => readlink(join(dir, fd)).catch(() => '')));
  return targets.filter((t) => t === '/dev/netmap').length;
}

/** Stops kipfw if it runs; the ports stay out of the bridge until `rejoinBridge`. */
export async function stopKipfw(ctx: Context): Promise<void> {
  const pid = await kipfwPid(ctx.root);
  appliedBy.delete(ctx.root);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while ((await kipfwPid(ctx.root)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (await kipfwPid(ctx.root)) process.kill(pid, 'SIGKILL');
  await rm(join(ctx.root, FILES.run, PID_FILE), { force: true });
  await writeFile(join(ctx.root, HWCSUM), '0').catch(() => undefined);
}

/** The ports back in the bridge, as ports.ts made them (promiscuous mode is the bridge's to set). */
export async function rejoinBridge(ctx: Context): Promise<string | undefined> {
  const ip = await ctx.run(BIN.ip, ['-force', '-batch', '-'], { input: PORTS.flatMap((p) => [`link set dev ${p} promisc off`, `link set dev ${p} master ${BRIDGE}`]).join('\n') + '\n' });
  return ip.code === 0 ? undefined : `putting the ports back in ${BRIDGE}: ${firstLines(ip.stderr)}`;
}
