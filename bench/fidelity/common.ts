// What every fidelity group shares: the booted lab, how a profile is put in force on the running
// appliance (`picowire apply` on its console), how picowire's state is removed to configure the
// same kernel the way tc wrappers do, and the measurements that pair a shaped path with an unshaped
// baseline taken at the same time.
//
// Direction: every group shapes traffic from the right host to the left host's main address
// (198.18.0.1): it enters the appliance on port b and leaves on port a, so a profile rule is
// `{ from: "b", dst: "198.18.0.1" }` and a wrapper's qdisc sits on `dev a`. The left host's second
// address (LEFT_ALT) crosses picowire unshaped: pings to it, interleaved with the shaped ones, are
// the baseline (the lab's own round trip under the same load). Flows run iperf3 with -R (the right
// host sends), so the client's JSON intervals are the receiver's view.
import { runOnConsole } from '../../src/lab/console.ts';
import type { Lab, TestHost } from '../../src/lab/hosts.ts';
import { pingRtt, type PingResult } from '../../src/lab/measure.ts';
import type { Vm } from '../../src/lab/qemu.ts';
import type { PipeStatus, Status } from '../../src/agent/status.ts';
import { validateProfile } from '../../src/profile/validate.ts';

export interface Ctx {
  lab: Lab;
  vm: Vm;
  quick: boolean;
  /** pick the full or the quick value of a setting */
  n<T>(full: T, quick: T): T;
  log(line: string): void;
  /** the engine the profiles ask for (the dummynet column); absent: tc, the default */
  engine?: 'dummynet';
}

/** the left host's main address: what profiles shape */
export const LEFT_MAIN = '198.18.0.1';
/** the left host's second address: crosses unshaped, for baselines */
export const LEFT_ALT = '198.18.2.1';
/** Ethernet header bytes a frame adds to an IP packet (no FCS: what tc counts) */
export const ETH = 14;
/** TCP payload per full-size frame with timestamps: 1448 bytes of data in a 1514-byte frame */
export const TCP_EFFICIENCY = 1448 / 1514;

export const TC = '/sbin/tc';
export const NFT = '/usr/sbin/nft';

/** The same host reached at another of its addresses. */
export const at = (host: TestHost, address: string): TestHost => ({ ...host, address });
export const round = (x: number, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Profile = { name: string; pipes: Record<string, unknown>; rules: unknown[]; queues?: Record<string, unknown>; engine?: 'tc' | 'dummynet' };

/** A profile with one pipe `p` on the shaped direction (right → left main address). */
export function onePipe(name: string, pipe: Record<string, unknown>): Profile {
  return { name, pipes: { p: pipe }, rules: [{ from: 'b', dst: LEFT_MAIN, pipe: 'p' }] };
}

/** The profile on the context's engine: `"engine": "dummynet"` added for the dummynet column. */
export const onEngine = (ctx: Ctx, p: Profile): Profile => (ctx.engine ? { ...p, engine: ctx.engine } : p);

/** Why the context's engine refuses a profile (the agent's own check, run here), or undefined when it takes it. */
export function refusal(ctx: Ctx, p: Profile): string | undefined {
  const checked = validateProfile(onEngine(ctx, p));
  return checked.ok ? undefined : checked.errors.join('; ');
}

/** A profile that shapes nothing: picowire's qdiscs and nft table are in place, every packet is allowed. */
export const OPEN: Profile = { name: 'open', pipes: {}, rules: [] };

/**
 * Writes the profile to /tmp/p.json on the appliance (in short pieces: a long typed line can overrun
 * the serial console's input) and applies it; resolves with the apply latency the command printed.
 */
export async function applyProfile(vm: Vm, profile: Profile, file = '/tmp/p.json'): Promise<number> {
  const text = JSON.stringify(profile);
  if (text.includes("'")) throw new Error(`applyProfile: profile ${profile.name} contains a single quote, which the console's quoting cannot carry`);
  for (let i = 0; i < text.length; i += 240) await runOnConsole(vm, `printf '%s' '${text.slice(i, i + 240)}' ${i === 0 ? '>' : '>>'} ${file}`, 30_000);
  const out = await runOnConsole(vm, `picowire apply ${file}`, 60_000);
  const m = /applied profile (\S+) \((\d+) ms\)/.exec(out);
  if (!m || m[1] !== profile.name) throw new Error(`picowire apply ${profile.name} failed: ${out.trim().slice(-500)}`);
  return Number(m[2]);
}

/** `picowire status --json` on the appliance. */
export async function readStatus(vm: Vm): Promise<Status> {
  const out = await runOnConsole(vm, 'picowire status --json', 60_000);
  return JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as Status;
}

/** A pipe's counters summed over its instances and ports. */
export async function pipeDrops(vm: Vm, pipe: string): Promise<{ packets: number; bytes: number; overflow: number; random: number }> {
  const pipes = (await readStatus(vm)).pipes.filter((p: PipeStatus) => p.pipe === pipe);
  return {
    packets: pipes.reduce((n, p) => n + p.packets, 0),
    bytes: pipes.reduce((n, p) => n + p.bytes, 0),
    overflow: pipes.reduce((n, p) => n + p.overflowDrops, 0),
    random: pipes.reduce((n, p) => n + p.randomDrops, 0),
  };
}

/** Removes picowire's nft table and the root qdiscs of both ports: a plain bridge, as before the agent ran. */
export async function plainBridge(vm: Vm): Promise<void> {
  await runOnConsole(vm, `${NFT} delete table bridge picowire 2>/dev/null; ${NFT} delete table netdev picowire 2>/dev/null; ${TC} qdisc del dev a root 2>/dev/null; ${TC} qdisc del dev b root 2>/dev/null; true`, 30_000);
  const left = await runOnConsole(vm, `${NFT} list tables; ${TC} qdisc show dev a; ${TC} qdisc show dev b`, 30_000);
  if (/picowire|htb|netem/.test(left)) throw new Error(`plainBridge: picowire's state is still there:\n${left}`);
}

/**
 * Configures the kernel the way a tc wrapper does: the plain bridge, then these commands (each a
 * `tc …` line as a person would type it; run with the full path). Returns the commands for the report.
 */
export async function wrapper(vm: Vm, commands: string[]): Promise<string[]> {
  await plainBridge(vm);
  for (const c of commands) {
    if (!c.startsWith('tc ')) throw new Error(`wrapper: "${c}" is not a tc command`);
    const out = await runOnConsole(vm, `${TC} ${c.slice(3)} && echo TC-OK`, 30_000);
    if (!out.includes('TC-OK')) throw new Error(`wrapper: "${c}" failed: ${out.trim()}`);
  }
  return commands;
}

/** Packets and bytes the root qdisc of port a has sent (a wrapper's qdisc, since it was added). */
export async function rootCounters(vm: Vm): Promise<{ packets: number; bytes: number }> {
  const out = await runOnConsole(vm, `${TC} -s -j qdisc show dev a root`, 30_000);
  const q = (JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1)) as { packets?: number; bytes?: number }[])[0];
  return { packets: q?.packets ?? 0, bytes: q?.bytes ?? 0 };
}

/** Pings the shaped address and the unshaped one at the same time, from the right host. */
export async function pingWithBaseline(ctx: Ctx, opts: { count: number; intervalS: number; size?: number }): Promise<{ shaped: PingResult; base: PingResult }> {
  const { left, right } = ctx.lab;
  const [shaped, base] = await Promise.all([pingRtt(right, left, opts), pingRtt(right, at(left, LEFT_ALT), opts)]);
  return { shaped, base };
}

/** Pings the shaped address alone (wrappers shape the whole port, so the baseline comes from the plain bridge). */
export async function pingShaped(ctx: Ctx, opts: { count: number; intervalS: number; size?: number }): Promise<PingResult> {
  return pingRtt(ctx.lab.right, ctx.lab.left, opts);
}

interface Interval {
  sum: { bytes: number; seconds: number; omitted?: boolean };
}

/**
 * The steady-state rate of an iperf3 test, in bit/s, from the receiver's one-second intervals (iperf3
 * -R: the client's intervals): the omitted ones left out, then the first `skipFirst` (a burst from
 * the queue filling) and the last (cut short, or draining). Intervals that are not about a second
 * long are left out too: iperf3 -R now and then reports one 2 s interval with one second's bytes
 * right after the omitted ones, which takes 1/8 off an 8-interval mean. Unlike iperf3's end sum it
 * does not divide what a queue delivers after the sender stopped by the sender's time.
 */
export function steadyBps(json: unknown, skipFirst = 1): number {
  const intervals = ((json as { intervals?: Interval[] }).intervals ?? []).map((i) => i.sum).filter((s) => !s.omitted);
  let kept = intervals.slice(skipFirst, -1).filter((s) => s.seconds > 0.8 && s.seconds < 1.2);
  if (kept.length === 0) kept = intervals.filter((s) => s.seconds > 0.2);
  const seconds = kept.reduce((n, s) => n + s.seconds, 0);
  return seconds > 0 ? (kept.reduce((n, s) => n + s.bytes, 0) * 8) / seconds : NaN;
}

/** What the sender sent, in bit/s, from an iperf3 JSON's end.sum_sent (UDP: the offered load). */
export function sentBps(json: unknown): number {
  const end = (json as { end?: { sum_sent?: { bits_per_second?: number }; sum?: { bits_per_second?: number } } }).end;
  return end?.sum_sent?.bits_per_second ?? end?.sum?.bits_per_second ?? NaN;
}

/** How many replies arrived after one with a higher sequence number (reordering). */
export function reordered(seqs: number[]): number {
  let n = 0;
  let highest = -1;
  for (const s of seqs) {
    if (s < highest) n++;
    else highest = s;
  }
  return n;
}

/** Runs a step, logging and recording its error instead of ending the whole run. */
export async function attempt<T>(ctx: Ctx, errors: string[], what: string, fn: () => Promise<T>): Promise<T | undefined> {
  const started = Date.now();
  ctx.log(`== ${what}`);
  try {
    const r = await fn();
    ctx.log(`   (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    return r;
  } catch (e) {
    const msg = `${what}: ${(e as Error).message}`;
    ctx.log(`   FAILED ${msg}`);
    errors.push(msg);
    return undefined;
  }
}
