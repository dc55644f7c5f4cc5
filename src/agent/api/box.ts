// What the API needs of the agent: the seam the server's host tests replace. The agent's is
// boxOf(): the one queue of changes (changes.ts) and the status it reads from the kernel.
import type { Profile } from '../../profile/schema.ts';
import type { Change, Changes } from '../changes.ts';
import type { Outcome } from '../cycle.ts';
import { readStatus, type Status } from '../status.ts';
import type { Runner } from '../exec.ts';

export interface Box {
  inForce(): Profile | null;
  /** when the profile in force was applied; null without one */
  appliedAt(): Promise<Date | null>;
  /** what `picowire status --json` prints */
  status(): Promise<Status>;
  /** puts a profile in force through the agent's one queue */
  apply(profile: unknown, source: string): Promise<Outcome & { ms: number }>;
  onChange(listener: (change: Change) => void): () => void;
}

/** The agent as the API sees it. Status reads that overlap share one (each runs tc and nft: a burst of requests must not start a process each). */
export function boxOf(changes: Changes, ctx: { run: Runner }): Box {
  let reading: Promise<Status> | undefined;
  return {
    inForce: () => changes.inForce,
    appliedAt: () => changes.appliedAt(),
    status: () => (reading ??= readStatus(ctx, changes.inForce).finally(() => (reading = undefined))),
    apply: (profile, source) => changes.consider({ source, value: profile }),
    onChange: (listener) => changes.onChange(listener),
  };
}
