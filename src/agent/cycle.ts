// One pass of the agent's work: find the profile, check it, and put it in force unless it already
// is. Prints the two lines the console reads: `picowire: applied profile <name>` or
// `picowire: rejected profile: <every error>`; a rejected profile leaves the previous one in force.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import type { Profile } from '../profile/schema.ts';
import type { Checked } from '../common/describe.ts';
import { validateProfile } from '../profile/validate.ts';
import { currentState } from './apply.ts';
import { applyOnEngine } from './engines/index.ts';
import { trace, type Batcher, type Runner } from './exec.ts';
import { FILES } from './paths.ts';
import { alreadyApplied, plan } from './plan.ts';
import { findProfile, type Found } from './sources.ts';
import type { KernelState } from './plan.ts';
import type { ScheduleRunner } from './schedule/runner.ts';

export interface Context {
  root: string;
  run: Runner;
  /** how plans reach tc and nft (see apply.ts) */
  batch?: Batcher;
  say: (line: string) => void;
  /** the runner of timed pipes (schedule/runner.ts): stopped while a change is applied, then started with what is in force */
  schedule?: ScheduleRunner;
}

/** The profile in force, as the last successful apply wrote it; null before the first since boot (/run is a tmpfs). */
export async function readCurrent(root: string): Promise<Profile | null> {
  try {
    return JSON.parse(await readFile(join(root, FILES.current), 'utf8')) as Profile;
  } catch {
    return null;
  }
}

/** What became of a profile the agent was given. */
export interface Outcome {
  /** the profile in force afterwards */
  inForce: Profile | null;
  /** whether the given profile is now in force (or already was) */
  applied: boolean;
  /** why it was not, one line each */
  errors: string[];
}

/**
 * Reads the sources (unless given what they hold) and puts their profile in force; returns the
 * profile in force afterwards. `given.checked` is checkFound(given.found), done ahead (at boot, while
 * the tools set the ports up).
 */
export async function refresh(ctx: Context, inForce: Profile | null, given: { found?: Found; checked?: Checked<Profile>; state?: KernelState } = {}): Promise<Profile | null> {
  const found = given.found ?? (await findProfile({ ...ctx, warn: (line) => ctx.say(`warning: ${line}`) }));
  return (await consider(ctx, inForce, found, given.state, given.found ? given.checked : undefined)).inForce;
}

/** A found profile checked: why it could not be read, or what validation says of it. */
export function checkFound(found: Found): Checked<Profile> {
  if ('error' in found) return { ok: false, errors: [found.error] };
  const started = performance.now();
  const checked = validateProfile(found.value);
  trace?.(`${Math.round(started)} ms: validated in ${Math.round(performance.now() - started)} ms`);
  return checked;
}

/** Checks a found profile (unless given checkFound's verdict) and puts it in force, unless it already is; a rejected one leaves `inForce` in force. */
export async function consider(ctx: Context, inForce: Profile | null, found: Found, knownState?: KernelState, checked = checkFound(found)): Promise<Outcome> {
  const schedule = ctx.schedule;
  if (!schedule || !checked.ok) return considerNow(ctx, inForce, found, knownState, checked);
  // trace files are read before anything changes; the clocks stop while the change is applied
  const timed = await schedule.prepare(checked.value);
  if (!timed.ok) {
    ctx.say(`profile from ${found.source}`);
    return reject(ctx, timed.errors, inForce);
  }
  await schedule.stop();
  const outcome = await considerNow(ctx, inForce, found, knownState, checked);
  if (outcome.applied) schedule.start(timed.prepared);
  else schedule.resume();
  return outcome;
}

async function considerNow(ctx: Context, inForce: Profile | null, found: Found, knownState: KernelState | undefined, checked: Checked<Profile>): Promise<Outcome> {
  ctx.say(`profile from ${found.source}`);
  if (!checked.ok) return reject(ctx, checked.errors, inForce);
  const profile = checked.value;
  try {
    // a respawned agent finds its own work in place: leave the traffic alone
    const state = knownState ?? (await currentState(ctx));
    if (inForce && isDeepStrictEqual(inForce, profile) && alreadyApplied(plan(profile, state), state)) {
      ctx.say(`applied profile ${profile.name}`);
      return { inForce: profile, applied: true, errors: [] };
    }
    const error = await applyOnEngine(profile, inForce, ctx, state);
    if (error) return reject(ctx, [error], inForce);
  } catch (e) {
    return reject(ctx, [(e as Error).message], inForce);
  }
  await mkdir(join(ctx.root, FILES.run), { recursive: true });
  await writeFile(join(ctx.root, FILES.current), JSON.stringify(profile, null, 2) + '\n');
  ctx.say(`applied profile ${profile.name}`);
  return { inForce: profile, applied: true, errors: [] };
}

/** Says why a profile is not used; what was in force stays in force. */
function reject(ctx: Context, errors: string[], inForce: Profile | null): Outcome {
  ctx.say(`rejected profile: ${errors.join('; ')}`);
  return { inForce, applied: false, errors };
}
