// The agent's one queue of changes: the console (control socket), SIGHUP, the PICOWIRE partition and
// the HTTP API all put profiles in force through it, so changes are applied one at a time, never
// interleaved, and the profile in force is always one whole profile. Whoever listens (the API's
// event stream) hears of every profile put in force and every one refused.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Profile } from '../profile/schema.ts';
import { consider, refresh, type Context, type Outcome } from './cycle.ts';
import { FILES } from './paths.ts';
import type { Found } from './sources.ts';

export type Change = { kind: 'applied'; name: string; source: string } | { kind: 'rejected'; source: string; errors: string[] };

export class Changes {
  private chain: Promise<unknown> = Promise.resolve();
  private listeners = new Set<(change: Change) => void>();

  constructor(
    private ctx: Context,
    /** the profile in force; changed only by work run through the queue */
    public inForce: Profile | null,
  ) {}

  /** Runs `work` once every change queued before it has finished. */
  serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Puts a found profile in force through the queue (a refused one leaves the previous in force); `ms` is the apply's own time, from when its turn came. */
  consider(found: Found): Promise<Outcome & { ms: number }> {
    return this.serial(async () => {
      const started = performance.now();
      const outcome = await consider(this.ctx, this.inForce, found);
      this.settle(found.source, outcome);
      return { ...outcome, ms: performance.now() - started };
    });
  }

  /** Puts the profile in force again, through the queue, if `needed()` says so when its turn comes (a data plane that died: kipfw). */
  reapply(source: string, needed: (inForce: Profile) => Promise<boolean>): Promise<void> {
    return this.serial(async () => {
      if (!this.inForce || !(await needed(this.inForce))) return;
      this.settle(source, await consider(this.ctx, this.inForce, { source, value: this.inForce }));
    });
  }

  private refreshPending = false;

  /** Reads the sources again (SIGHUP) and puts their profile in force, through the queue; several asks while one waits make one. */
  refresh(): void {
    if (this.refreshPending) return;
    this.refreshPending = true;
    void this.serial(async () => {
      this.refreshPending = false;
      const before = this.inForce;
      this.inForce = await refresh(this.ctx, before);
      if (!isDeepStrictEqual(before, this.inForce) && this.inForce) this.tell({ kind: 'applied', name: this.inForce.name, source: 'the sources, read again' });
    });
  }

  /** When the profile in force was put in force: the time its record was written (a respawned agent's profile keeps its time); null without one. */
  async appliedAt(): Promise<Date | null> {
    if (!this.inForce) return null;
    return stat(join(this.ctx.root, FILES.current)).then(
      (s) => s.mtime,
      () => null,
    );
  }

  /** Calls `listener` for each change from now on; returns how to stop. */
  onChange(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes an outcome's profile in force and tells the listeners what became of the request. */
  private settle(source: string, outcome: Outcome): void {
    const before = this.inForce;
    this.inForce = outcome.inForce;
    if (!outcome.applied) this.tell({ kind: 'rejected', source, errors: outcome.errors });
    else if (!isDeepStrictEqual(before, outcome.inForce)) this.tell({ kind: 'applied', name: outcome.inForce!.name, source });
  }

  /** Tells every listener of a change. */
  private tell(change: Change): void {
    for (const listener of this.listeners) listener(change);
  }
}
