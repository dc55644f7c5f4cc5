// Which engine carries a profile, and the switch between them. The tc engine (apply.ts, plan.ts)
// is the default; the dummynet engine (engines/dummynet/) runs kipfw between the ports instead of
// the bridge. A profile that names another engine than the one running stops the one and starts
// the other; if the new one fails, the previous profile goes back on its own engine.
import type { Profile } from '../../profile/schema.ts';
import { applyProfile, forgetApplied } from '../apply.ts';
import type { Batcher, Runner } from '../exec.ts';
import type { KernelState } from '../plan.ts';
import { applyDummynet, kipfwPid, rejoinBridge, stopKipfw } from './dummynet/apply.ts';

interface Context {
  root: string;
  run: Runner;
  batch?: Batcher;
}

/** Puts a validated profile in force on its engine; returns what failed (the previous profile then back in force), or undefined. */
export async function applyOnEngine(profile: Profile, previous: Profile | null, ctx: Context, state?: KernelState): Promise<string | undefined> {
  const running = (await kipfwPid(ctx.root)) !== undefined;
  if (profile.engine === 'dummynet') {
    // the ports leave the bridge and netmap replaces their qdiscs: what the tc engine knew of them is stale
    if (!running) forgetApplied(ctx.run);
    const error = await applyDummynet(profile, previous, ctx);
    if (!error || running || previous?.engine === 'dummynet') return error;
    // the switch from tc failed: back to the bridge and the previous profile
    await stopKipfw(ctx);
    const undo = (previous ? await applyProfile(previous, null, ctx) : undefined) ?? (await rejoinBridge(ctx));
    return undo ? `${error}; restoring the previous profile failed too: ${undo}` : error;
  }
  if (!running) return applyProfile(profile, previous, ctx, state);
  // from dummynet to tc: the tc plan goes in while the ports are out of the bridge, then they rejoin it
  await stopKipfw(ctx);
  const error = (await applyProfile(profile, null, ctx)) ?? (await rejoinBridge(ctx));
  if (!error) return undefined;
  if (previous?.engine !== 'dummynet') return error;
  const undo = await applyDummynet(previous, null, ctx);
  return undo ? `${error}; restoring the previous profile failed too: ${undo}` : error;
}
