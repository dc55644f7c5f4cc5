// The tc engine's side of a schedule (see the timed pipe's tree at timedLines in ../plan.ts): a
// change of bw is `class change` of the pipe's HTB class, of delay or plr a `qdisc change` of its
// delay line, of the queue the plug's limit, an outage the plug blocked (and, when it drops, the
// delay line losing everything). All in place: no qdisc is deleted or added, so packets queued
// stay queued. The lines of one instant go to tc as one batch.
import type { Port } from '../../profile/schema.ts';
import type { ResolvedProfile } from '../../profile/resolve.ts';
import { instanceHandles, layout, PORTS, timedClass, timedDelayLine, timedQueueBytes } from '../plan.ts';
import type { PipeChange, TimedEngine } from './engine.ts';

/** The ports each pipe's traffic leaves by (a rule from a leaves by b), as the planner places its instances. */
export function pipePorts(profile: ResolvedProfile): Map<string, Port[]> {
  const out = new Map<string, Set<Port>>();
  for (const rule of profile.rules) {
    if (rule.action !== 'pipe' || rule.target === undefined) continue;
    const set = out.get(rule.target) ?? new Set<Port>();
    for (const from of rule.from ? [rule.from] : PORTS) set.add(from === 'a' ? 'b' : 'a');
    out.set(rule.target, set);
  }
  return new Map([...out].map(([name, set]) => [name, PORTS.filter((p) => set.has(p))]));
}

/** The tc lines that move a timed pipe from `was` to `values` on every port it is on (everything when `was` is absent). */
export function changeLines(profile: ResolvedProfile, ports: Map<string, Port[]>, change: PipeChange): string[] {
  const pipe = profile.pipes[change.pipe];
  if (!pipe) return [];
  const k = layout(profile).pipeBase.get(change.pipe)!;
  const h = instanceHandles(k);
  const { values: v, was } = change;
  const plugParent = `${h.outer.slice(0, -1)}:1`;
  const lines: string[] = [];
  for (const port of ports.get(change.pipe) ?? []) {
    // an outage that begins holds the queue first; one that ends lets it go last, after the new rate
    if (v.outage && !was?.outage) lines.push(`qdisc change dev ${port} parent ${plugParent} handle ${h.inner} plug block`);
    if (!was || was.bw !== v.bw) lines.push(`class change dev ${port} parent 1: classid ${h.classid} ${timedClass(v.bw)}`);
    if (!was || was.delay !== v.delay || was.plr !== v.plr || (was.outage === 'drop') !== (v.outage === 'drop')) {
      lines.push(`qdisc change dev ${port} parent ${h.classid} handle ${h.outer} netem ${timedDelayLine(pipe, v)}`);
    }
    if (!was || timedQueueBytes(was) !== timedQueueBytes(v)) lines.push(`qdisc change dev ${port} parent ${plugParent} handle ${h.inner} plug limit ${timedQueueBytes(v)}`);
    if (!v.outage && (!was || was.outage)) lines.push(`qdisc change dev ${port} parent ${plugParent} handle ${h.inner} plug release_indefinite`);
  }
  return lines;
}

/** The tc engine for one profile: each instant's lines as one batch through `send` (the agent's own `tc -force -batch -`). */
export function tcEngine(profile: ResolvedProfile, send: (text: string) => Promise<string | undefined>): TimedEngine {
  const ports = pipePorts(profile);
  return {
    async set(changes) {
      const lines = changes.flatMap((c) => changeLines(profile, ports, c));
      return lines.length ? send(lines.join('\n') + '\n') : undefined;
    },
  };
}
