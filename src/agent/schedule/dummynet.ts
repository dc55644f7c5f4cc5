// The dummynet engine's side of a schedule: at each instant, `ipfw pipe N config ...` with the
// pipe's new values, the same line the planner writes for the pipe (../engines/dummynet/plan.ts)
// with the instant's bw, delay and plr. What dummynet keeps at a change (ip_dummynet.c):
// config_link sets the link's bandwidth and delay and keeps the queued packets (bw and delay steps,
// ramps); config_fs rebuilds the flowset's queues, dropping what they hold, when plr or the queue
// size change (so the queue is held at the pipe's own size, not resized with bw × delay as the
// tc engine does). An outage that drops is plr 1: arrivals are dropped and, the flowset rebuilt, so
// is what was queued. One that waits is refused by the engine check (src/profile/engines.ts):
// dummynet's bw 0 is "unlimited", and a tiny rate leaves its link's timer set for the frame it
// starts at that rate, past the outage.
//
// One ipfw process per pipe and instant (the applier's ipfw(), killed if it hangs): netmap-ipfw's ipfw cannot run a second command after a
// pipe config in one run (kipfw answers a set with more bytes than its header says, which the next
// command reads as its answer), and a process costs 0.1-0.25 s under QEMU TCG, which is why traces
// stay on the tc engine (docs/schedules.md).
import type { ResolvedProfile } from '../../profile/resolve.ts';
import type { TimedValues } from '../../profile/timed.ts';
import type { Runner } from '../exec.ts';
import { queuePackets } from '../plan.ts';
import { appliedObjects, ipfw, ipfwFailure } from '../engines/dummynet/apply.ts';
import { planDummynet } from '../engines/dummynet/plan.ts';
import type { TimedEngine } from './engine.ts';

/** The `pipe N config ...` words that set `values` on pipe `name` (pipe number `n`). */
export function configLine(profile: ResolvedProfile, name: string, n: number, values: TimedValues): string {
  const pipe = profile.pipes[name]!;
  // the pipe's own queue, whatever the instant's bw × delay: a new size rebuilds dummynet's queues
  const queue = values.queue ?? pipe.queue ?? (pipe.bw !== undefined ? { packets: queuePackets(pipe) } : undefined);
  const at = {
    ...pipe,
    bw: values.bw,
    // dummynet delays by whole ms: a ramp's points are rounded
    delay: Math.round(values.delay / 1000) * 1000,
    plr: values.outage === 'drop' ? 1 : values.plr,
    queue,
    schedule: undefined,
    trace: undefined,
  };
  const line = planDummynet({ ...profile, pipes: { [name]: at }, queues: {}, rules: [] }).lines.find((l) => l.startsWith('pipe '))!;
  return line.replace(/^pipe \d+ /, `pipe ${n} `);
}

/** The dummynet engine for one profile: each changed pipe's config through its own ipfw run, in turn. */
export function dummynetEngine(profile: ResolvedProfile, ctx: { root: string; run: Runner }): TimedEngine {
  return {
    async set(changes) {
      const numbers = appliedObjects(ctx.root)?.pipes;
      let error: string | undefined;
      for (const c of changes) {
        const n = numbers?.[c.pipe];
        if (n === undefined) {
          error ??= `dummynet: pipe ${JSON.stringify(c.pipe)} has no number (no plan in force)`;
          continue;
        }
        const line = configLine(profile, c.pipe, n, c.values);
        const r = await ipfw(ctx, ['-q', ...line.split(' ')]);
        if (r.code !== 0) error ??= ipfwFailure(r, line);
      }
      return error;
    },
  };
}
