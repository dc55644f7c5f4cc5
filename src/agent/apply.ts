// Runs a plan: the delay-profile tables tc reads, a tc batch (qdiscs and classes changed in place),
// then an nft batch (the rules, one atomic transaction), then the cleanup batch; the agent keeps tc
// and nft running for them (session.ts). If a step fails, the previous profile's plan is applied
// again over whatever the failure left, so a profile is either wholly in force or not at all.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Profile } from '../profile/schema.ts';
import { firstLines, startEach, trace, type Batcher, type Runner } from './exec.ts';
import { BIN, FILES } from './paths.ts';
import { plan, PORTS, type KernelState, type Plan, type TcQdisc } from './plan.ts';

interface Context {
  root: string;
  run: Runner;
  /** how batches reach tc and nft: a start of each per batch unless given */
  batch?: Batcher;
}

/** The qdiscs on ports a and b now, from `tc -j qdisc show`. */
export async function readKernelState(ctx: Context): Promise<KernelState> {
  const r = await ctx.run(BIN.tc, ['-j', 'qdisc', 'show']);
  if (r.code !== 0) throw new Error(`tc -j qdisc show: ${firstLines(r.stderr)}`);
  const all = JSON.parse(r.stdout || '[]') as TcQdisc[];
  return { qdiscs: all.filter((q) => (PORTS as readonly string[]).includes(q.dev)) };
}

/**
 * What this agent last put in the kernel: the qdiscs its plan made, the tc lines that made them and
 * the nft script it loaded. A runtime change plans over it instead of asking tc again, sends tc only
 * the lines that differ from those in force, and skips nft when the rules did not change: under QEMU
 * TCG each tc line costs about 3 ms and each tool start 50-120 ms of the apply latency. Forgotten
 * when an apply fails; a respawned agent starts without it and reads the kernel.
 */
interface Applied {
  state: KernelState;
  tc: ReadonlySet<string>;
  nft: string;
}
const appliedBy = new WeakMap<Runner, Applied>(); // per kernel: tests give each its own runner

/**
 * The plan with the tc lines already in force left out: a line the last plan ran sets its object as
 * it stands. Not when the plan deletes anything (what it deletes may take identical lines' objects
 * with it) or writes delay tables (a netem line naming a table reads it again only when run).
 */
export function withoutLinesInForce(p: Plan, inForce: ReadonlySet<string>): Plan {
  if (Object.keys(p.dists).length > 0 || p.tc.some((l) => /^\S+ del /.test(l))) return p;
  return { ...p, tc: p.tc.filter((l) => !inForce.has(l)) };
}

/** The qdiscs the kernel holds once a plan made over `before` has run: its replaces set, its deletes and cleanup remove (with what hangs below). */
export function stateAfter(before: KernelState, p: Plan): KernelState {
  let qdiscs = [...before.qdiscs];
  const major = (handle: string) => handle.split(':')[0];
  const remove = (dev: string, gone: (q: TcQdisc) => boolean) => {
    const doomed = qdiscs.filter((q) => q.dev === dev && gone(q));
    qdiscs = qdiscs.filter((q) => !doomed.includes(q));
    for (const q of doomed) remove(dev, (c) => c.parent !== undefined && major(c.parent) === major(q.handle));
  };
  for (const line of [...p.tc, ...p.cleanup]) {
    let m = /^qdisc replace dev (\S+) root handle (\S+) (\S+)/.exec(line);
    if (m) {
      const [, dev, handle, kind] = m as unknown as [string, string, string, string];
      remove(dev, (q) => q.root === true && q.handle !== handle);
      qdiscs = qdiscs.filter((q) => !(q.dev === dev && q.handle === handle));
      qdiscs.push({ dev, handle, kind, root: true });
      continue;
    }
    m = /^qdisc replace dev (\S+) parent (\S+) handle (\S+) (\S+)/.exec(line);
    if (m) {
      const [, dev, parent, handle, kind] = m as unknown as [string, string, string, string, string];
      const existing = qdiscs.find((q) => q.dev === dev && q.handle === handle);
      // an fq scheduler's flows, which the kernel sets only when it makes one (see plan.ts)
      const flows = / flows (\d+)\b/.exec(line);
      const options = flows ? { options: { flows: Number(flows[1]) } } : {};
      if (existing && existing.kind === kind && existing.parent === parent) continue;
      remove(dev, (q) => q.handle === handle || q.parent === parent);
      qdiscs.push({ dev, parent, handle, kind, ...options });
      continue;
    }
    m = /^qdisc del dev (\S+) (?:root|parent \S+) handle (\S+)/.exec(line);
    if (m) {
      remove(m[1]!, (q) => q.handle === m![2]);
      continue;
    }
    m = /^class del dev (\S+) classid (\S+)/.exec(line);
    if (m) remove(m[1]!, (q) => q.parent === m![2]);
  }
  return { qdiscs, nft: { bridge: p.objects } };
}

/** Forgets what this agent last applied (the ports changed hands: the dummynet engine's kipfw took them); the next apply reads the kernel. */
export function forgetApplied(run: Runner): void {
  appliedBy.delete(run);
}

/** The kernel state to plan over: what this agent last applied, or what tc says now. */
export async function currentState(ctx: Context): Promise<KernelState> {
  return appliedBy.get(ctx.run)?.state ?? readKernelState(ctx);
}

/** Makes the kernel do what the profile says (planned over `state`, read now if not given); on failure restores `previous` and returns the kernel's complaint. */
export async function applyProfile(profile: Profile, previous: Profile | null, ctx: Context, state?: KernelState): Promise<string | undefined> {
  const known = appliedBy.get(ctx.run);
  const before = state ?? (await currentState(ctx));
  const started = performance.now();
  const p = plan(profile, before);
  trace?.(`${Math.round(started)} ms: planned in ${Math.round(performance.now() - started)} ms`);
  const ownModel = known !== undefined && before === known.state;
  let error = await applyPlan(ownModel ? withoutLinesInForce(p, known.tc) : p, ctx, known?.nft);
  if (!error) {
    appliedBy.set(ctx.run, { state: stateAfter(before, p), tc: new Set(p.tc), nft: p.nft });
    return undefined;
  }
  appliedBy.delete(ctx.run);
  if (ownModel) {
    // planned over the agent's own model, which someone's tc or nft by hand may have made stale: once more over what the kernel says
    const fresh = await readKernelState(ctx);
    const again = plan(profile, fresh);
    error = await applyPlan(again, ctx);
    if (!error) {
      appliedBy.set(ctx.run, { state: stateAfter(fresh, again), tc: new Set(again.tc), nft: again.nft });
      return undefined;
    }
  }
  const undo = await applyPlan(plan(previous, await readKernelState(ctx)), ctx);
  return undo ? `${error}; restoring the previous profile failed too: ${undo}` : error;
}

/** Runs the steps of a plan, stopping at the first that fails; returns what failed, or undefined. nft is skipped when its script is `loadedNft`, already in force. */
export async function applyPlan(p: Plan, ctx: Context, loadedNft?: string): Promise<string | undefined> {
  for (const [file, content] of Object.entries(p.dists)) {
    const dir = join(ctx.root, FILES.tcDists);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, file), content);
  }
  const step = async (what: string, work: () => Promise<string | undefined>) => {
    const started = performance.now();
    const error = await work();
    trace?.(`${Math.round(started)} ms: ${what} in ${Math.round(performance.now() - started)} ms${error ? `: ${error}` : ''}`);
    return error;
  };
  return (
    (await step(`tc, ${p.tc.length} lines`, () => applyTc(p.tc, 'plan.tc', ctx))) ??
    (p.nft === loadedNft ? undefined : await step('nft', () => applyNft(p.nft, ctx))) ??
    (await step(`cleanup, ${p.cleanup.length} lines`, () => applyTc(p.cleanup, 'cleanup.tc', ctx)))
  );
}

/** tc lines through `tc -batch` from a file kept in /run/picowire for whoever debugs at the console. */
async function applyTc(lines: string[], name: string, ctx: Context): Promise<string | undefined> {
  if (lines.length === 0) return undefined; // a profile without pipes: nothing for tc (at boot, one tool start less)
  const file = await writeRunFile(ctx, name, lines.join('\n') + '\n');
  const r = await (ctx.batch ?? startEach(ctx.run, BIN))('tc', file);
  if (r.code === 0) return undefined;
  // tc says "Command failed <file>:<line>" after each failure (the session's tc goes on after one):
  // the first failure's complaint, naming the command, since the file is gone with the next plan
  const at = /Command failed .*:(\d+)/.exec(r.stderr);
  const command = at ? ` (in "tc ${lines[Number(at[1]) - 1]}")` : '';
  return `tc: ${firstLines(at ? r.stderr.slice(0, at.index) : r.stderr)}${command}`;
}

/** An nft script through `nft -f`: all of it or none of it takes effect. */
export async function applyNft(script: string, ctx: Context): Promise<string | undefined> {
  const file = await writeRunFile(ctx, 'plan.nft', script);
  const r = await (ctx.batch ?? startEach(ctx.run, BIN))('nft', file);
  return r.code === 0 ? undefined : `nft: ${firstLines(r.stderr)}`;
}

/** Writes a file under /run/picowire and returns its path. */
async function writeRunFile(ctx: Context, name: string, text: string): Promise<string> {
  const dir = join(ctx.root, FILES.run);
  await mkdir(dir, { recursive: true });
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}
