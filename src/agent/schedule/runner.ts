// The agent's schedule runner: the clocks of the profile in force, and at each instant one of its
// timed pipes changes (a schedule's step, a point on a ramp, an outage's start or end, a trace's
// window) the engine's "set these values now" (engine.ts). Pipes that name one clock change
// together; every clock starts when its profile is put in force, and a clock whose pipes a runtime
// change leaves as they were keeps running (an unrelated pipe's change does not restart a train
// journey). The runner is stopped while the agent's queue applies a change and started again with
// whatever is then in force, so a schedule is replaced whole, never interleaved with a plan.
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import type { Profile } from '../../profile/schema.ts';
import { resolve } from '../../profile/validate.ts';
import { ROOT, type ResolvedPipe, type ResolvedProfile } from '../../profile/resolve.ts';
import { parseTrace, positionAt, type TimedValues } from '../../profile/timed.ts';
import type { Runner } from '../exec.ts';
import { FILES } from '../paths.ts';
import { readConfigFile, readText } from '../sources.ts';
import type { PipeChange, TimedEngine } from './engine.ts';

/** A profile ready to run: resolved, its trace files read. */
export interface Prepared {
  profile: ResolvedProfile;
}

/** Where one pipe is now, for `picowire status`. */
export interface PipePosition {
  pipe: string;
  clock: string;
  /** seconds into the period (or since the start, when it runs once) */
  offsetS: number;
  /** the step or trace window reached (-1: before the first) */
  index: number;
  bw?: number;
  /** ms */
  delayMs: number;
  plr: number;
  outage?: 'wait' | 'drop';
  /** seconds until the next change; absent: none to come */
  nextS?: number;
}

const timedPipes = (p: ResolvedProfile) => Object.entries(p.pipes).filter(([, pipe]) => pipe.schedule || pipe.trace);
const clockOf = (pipe: ResolvedPipe) => pipe.trace?.clock ?? pipe.schedule!.clock;
const baseOf = (pipe: ResolvedPipe) => ({ bw: pipe.bw, delay: pipe.delay, plr: pipe.plr, queue: pipe.queue });
/** what a clock's pipes are: a clock whose pipes stay the same through a change keeps its start */
const clockKey = (p: ResolvedProfile, clock: string) => timedPipes(p).filter(([, pipe]) => clockOf(pipe) === clock);

interface Context {
  root: string;
  run: Runner;
}

/**
 * Reads the profile's trace files (the PICOWIRE partition first, then /etc/picowire/traces, baked by
 * a recipe's overlay) and parses them; every problem names the field and the file.
 */
export async function prepare(ctx: Context, profile: Profile): Promise<{ ok: true; prepared?: Prepared } | { ok: false; errors: string[] }> {
  // most profiles change nothing over time: nothing to read, resolve or run for them
  if (!Object.values(profile.pipes ?? {}).some((p) => p.schedule || p.trace)) return { ok: true };
  const resolved = resolve(profile);
  const errors: string[] = [];
  for (const [name, pipe] of Object.entries(resolved.pipes)) {
    const file = pipe.trace?.file;
    if (!file || pipe.trace!.windows) continue;
    const at = `${ROOT}.pipes.${name}.trace.file`;
    const text =
      (await readConfigFile({ ...ctx, warn: () => undefined }, file.name).catch(() => undefined))?.text ?? (await readText(join(ctx.root, FILES.settings, 'traces', file.name)));
    if (text === undefined) {
      errors.push(`${at}: ${JSON.stringify(file.name)} is neither on the PICOWIRE partition nor in /${FILES.settings}/traces; allowed: a trace file in one of them`);
      continue;
    }
    const parsed = parseTrace(text, file.format, `${at} (${file.name}, ${file.format})`, pipe.trace!);
    if ('error' in parsed) errors.push(parsed.error);
    else Object.assign(pipe.trace!, parsed);
  }
  return errors.length ? { ok: false, errors } : { ok: true, prepared: { profile: resolved } };
}

/** The runner of the agent's profile in force, for `picowire status` (set by main). */
export const agentSchedule: { runner?: ScheduleRunner } = {};

export class ScheduleRunner {
  private running?: { prepared: Prepared; engine: TimedEngine; starts: Map<string, number>; generation: number };
  private generation = 0;
  private wake?: () => void;
  private loop: Promise<void> = Promise.resolve();
  /** the values each timed pipe was last set to */
  private last = new Map<string, TimedValues>();
  /** how late each batch of changes was handed to tc after its instant (ms), the last 1000 of the profile in force */
  private late: number[] = [];

  constructor(
    private readonly ctx: Context,
    /** the engine that changes the data plane for a profile */
    private readonly engineFor: (profile: ResolvedProfile) => TimedEngine,
    private readonly warn: (line: string) => void,
    /** µs, monotonic */
    private readonly now: () => number = () => performance.now() * 1000,
  ) {}

  /** The profile's trace files read and parsed (see prepare above). */
  prepare(profile: Profile): ReturnType<typeof prepare> {
    return prepare(this.ctx, profile);
  }

  /** Stops the clocks' changes (before the queue applies a change); resolves once no batch is in flight. */
  async stop(): Promise<void> {
    this.generation++;
    this.wake?.();
    await this.loop;
  }

  /** Runs the profile's schedules (a profile without any: nothing runs); clocks whose pipes did not change keep their start. */
  start(prepared: Prepared | undefined): void {
    this.generation++;
    const before = this.running;
    this.running = undefined;
    this.last.clear();
    // the lateness is the profile's in force: another profile's starts afresh
    if (!before || !prepared || !isDeepStrictEqual(before.prepared.profile, prepared.profile)) this.late = [];
    if (!prepared || timedPipes(prepared.profile).length === 0) return;
    const now = this.now();
    const starts = new Map<string, number>();
    for (const [, pipe] of timedPipes(prepared.profile)) {
      const clock = clockOf(pipe);
      if (starts.has(clock)) continue;
      const same = before && before.starts.has(clock) && isDeepStrictEqual(clockKey(before.prepared.profile, clock), clockKey(prepared.profile, clock));
      starts.set(clock, same ? before.starts.get(clock)! : now);
    }
    this.running = { prepared, engine: this.engineFor(prepared.profile), starts, generation: this.generation };
    this.loop = this.run(this.running);
  }

  /** Starts again what was running before stop() (a change that was refused), its clocks where they were. */
  resume(): void {
    if (this.running) this.start(this.running.prepared);
  }

  /** How late the changes were handed to tc after their instants (ms): the runner's lag behind its clocks; tc's own time to run the lines is not in it. */
  lateness(): { batches: number; p50Ms: number; p99Ms: number; maxMs: number } | undefined {
    if (this.late.length === 0) return undefined;
    const sorted = [...this.late].sort((x, y) => x - y);
    const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 100) / 100;
    return { batches: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
  }

  /** Where each timed pipe is now. */
  positions(): PipePosition[] {
    if (!this.running) return [];
    const out: PipePosition[] = [];
    for (const [name, pipe] of timedPipes(this.running.prepared.profile)) {
      const start = this.running.starts.get(clockOf(pipe))!;
      const t = this.now() - start;
      const p = positionAt(baseOf(pipe), pipe, t);
      out.push({
        pipe: name,
        clock: clockOf(pipe).startsWith('pipe:') ? '(its own)' : clockOf(pipe),
        offsetS: p.offset / 1e6,
        index: p.index,
        ...(p.values.bw !== undefined && { bw: p.values.bw }),
        delayMs: p.values.delay / 1000,
        plr: p.values.plr,
        ...(p.values.outage && { outage: p.values.outage }),
        ...(p.next !== undefined && { nextS: (p.next - t) / 1e6 }),
      });
    }
    return out;
  }

  private async run(r: NonNullable<ScheduleRunner['running']>): Promise<void> {
    const pipes = timedPipes(r.prepared.profile);
    let complained = false;
    let due: number | undefined;
    while (r.generation === this.generation) {
      const now = this.now();
      const changes: PipeChange[] = [];
      let next = Infinity;
      for (const [name, pipe] of pipes) {
        const start = r.starts.get(clockOf(pipe))!;
        const p = positionAt(baseOf(pipe), pipe, now - start);
        const was = this.last.get(name);
        if (!was || !isDeepStrictEqual(was, p.values)) changes.push({ pipe: name, values: p.values, ...(was && { was }) });
        this.last.set(name, p.values);
        if (p.next !== undefined) next = Math.min(next, start + p.next);
      }
      if (changes.length) {
        const error = await r.engine.set(changes);
        if (due !== undefined) {
          this.late.push((this.now() - due) / 1000);
          if (this.late.length > 1000) this.late.shift();
        }
        if (error && !complained) this.warn(`schedule: ${error}`);
        complained ||= error !== undefined;
        if (error) for (const c of changes) this.last.delete(c.pipe); // set everything again next time
      }
      if (next === Infinity) return; // nothing changes any more
      due = next;
      const wait = next - this.now();
      if (wait > 0 && r.generation === this.generation) {
        await new Promise<void>((done) => {
          const timer = setTimeout(() => {
            this.wake = undefined;
            done();
          }, wait / 1000);
          this.wake = () => {
            clearTimeout(timer);
            this.wake = undefined;
            done();
          };
        });
      }
    }
  }
}
