// Runs a plan: the delay-profile tables tc reads, `tc -batch` (qdiscs and classes changed in place), then `nft -f` (the rules, one
// atomic transaction), then the cleanup batch. If a step fails, the previous profile's plan is
// applied again over whatever the failure left, so a profile is either wholly in force or not at all.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Profile } from '../profile/schema.ts';
import { firstLines, type Runner } from './exec.ts';
import { BIN, FILES } from './paths.ts';
import { plan, PORTS, type KernelState, type Plan, type TcQdisc } from './plan.ts';

interface Context {
  root: string;
  run: Runner;
}

/** The qdiscs on ports a and b now, from `tc -j qdisc show`. */
export async function readKernelState(ctx: Context): Promise<KernelState> {
  const r = await ctx.run(BIN.tc, ['-j', 'qdisc', 'show']);
  if (r.code !== 0) throw new Error(`tc -j qdisc show: ${firstLines(r.stderr)}`);
  const all = JSON.parse(r.stdout || '[]') as TcQdisc[];
  return { qdiscs: all.filter((q) => (PORTS as readonly string[]).includes(q.dev)) };
}

/** Makes the kernel do what the profile says (planned over `state`, read now if not given); on failure restores `previous` and returns the kernel's complaint. */
export async function applyProfile(profile: Profile, previous: Profile | null, ctx: Context, state?: KernelState): Promise<string | undefined> {
  const error = await applyPlan(plan(profile, state ?? (await readKernelState(ctx))), ctx);
  if (!error) return undefined;
  const undo = await applyPlan(plan(previous, await readKernelState(ctx)), ctx);
  return undo ? `${error}; restoring the previous profile failed too: ${undo}` : error;
}

/** Runs the three steps of a plan, stopping at the first that fails; returns what failed, or undefined. */
export async function applyPlan(p: Plan, ctx: Context): Promise<string | undefined> {
  for (const [file, content] of Object.entries(p.dists)) {
    const dir = join(ctx.root, FILES.tcDists);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, file), content);
  }
  return (await applyTc(p.tc, 'plan.tc', ctx)) ?? (await applyNft(p.nft, ctx)) ?? (p.cleanup.length ? applyTc(p.cleanup, 'cleanup.tc', ctx) : undefined);
}

/** tc lines through `tc -batch` from a file kept in /run/picowire for whoever debugs at the console. */
async function applyTc(lines: string[], name: string, ctx: Context): Promise<string | undefined> {
  const file = await writeRunFile(ctx, name, lines.join('\n') + '\n');
  const r = await ctx.run(BIN.tc, ['-batch', file]);
  if (r.code === 0) return undefined;
  // tc says "Command failed <file>:<line>"; name the command, since the file is gone with the next plan
  const at = /Command failed .*:(\d+)/.exec(r.stderr);
  const command = at ? ` (in "tc ${lines[Number(at[1]) - 1]}")` : '';
  return `tc: ${firstLines(r.stderr.replace(/Command failed .*\n?/, ''))}${command}`;
}

/** An nft script through `nft -f`: all of it or none of it takes effect. */
export async function applyNft(script: string, ctx: Context): Promise<string | undefined> {
  const file = await writeRunFile(ctx, 'plan.nft', script);
  const r = await ctx.run(BIN.nft, ['-f', file]);
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
