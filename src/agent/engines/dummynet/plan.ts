// The dummynet engine's planner: a resolved profile → the lines `ipfw FILE` runs against kipfw
// (netmap-ipfw's userspace ipfw + dummynet between netmap:a and netmap:b). Pure, like the tc
// planner: the applier (apply.ts) only runs what this returns.
//
// One file, in this order, so a packet never meets a rule whose pipe is not configured yet and
// never sees half of a rule set:
//   1. the pipes and queues, configured in place (dummynet keeps a pipe's queued packets when its
//      parameters change);
//   2. the rules, added to rule set 1 while that set is disabled, then `set swap 0 1`: one step
//      that puts the new rules in force and the old ones aside, which `delete set 1` then drops
//      (the applier runs each pipe and queue config by itself, and these lines in one ipfw run);
//   3. the pipes and queues of the previous plan that this one has no use for.
// kipfw is built closed (patches/netmap-ipfw/0001): its default rule 65535 denies. The profile's
// default of allow, and non-IP frames under a default of deny (as the tc engine lets ARP cross),
// are rules 65534 in the same set.
//
// Directions: every frame enters kipfw from one of its two netmap ports, so "from a" is `recv
// netmap:a` (ipfw's `in`/`out` mean nothing here: kipfw sees each frame once, as input). Protocols
// are written as numbers (the image has no /etc/protocols for ipfw to look names up in).
import { numbering } from '../../../ipfw/format.ts';
import { DUMMYNET_RESERVED_RULES, DUMMYNET_SCHEDULERS } from '../../../profile/engines.ts';
import type { AddressSet, DelayTable, QueueSize, ResolvedMask, ResolvedProfile, ResolvedRule } from '../../../profile/resolve.ts';
import { PROTO_NUMBERS, queuePackets } from '../../plan.ts';

/** kipfw's netmap port for each bridge port: the name ipfw's `recv` matches. */
export const NETMAP_PORTS = { a: 'netmap:a', b: 'netmap:b' } as const;
/** the rule set new rules are loaded into before the swap */
const STAGING_SET = 1;
/** an IPv4 or IPv6 frame, by Ethernet type: what a rule without l2 takes */
const IP_TYPES = 'ip,ipv6';

/** What a plan made: the numbers its pipes and queues took (the next plan deletes those it has no use for, status reads them). */
export interface DummynetObjects {
  pipes: Record<string, number>;
  queues: Record<string, number>;
}

export interface DummynetPlan {
  /** ipfw commands, one a line, without the leading "ipfw" (the form `ipfw FILE` reads) */
  lines: string[];
  objects: DummynetObjects;
  /** files the lines name (each pipe's delay profile), by path on the box: the applier writes them before it runs ipfw */
  files: Record<string, string>;
}

/** Where a pipe's delay profile file goes on the box (ipfw reads it when it configures the pipe). */
export const profileFile = (pipe: number) => `/run/picowire/dummynet/pipe-${pipe}.profile`;
/** dummynet's samples per profile (ED_MAX_SAMPLES_NO: at most 1024, and at most 1024 points in the file) */
const PROFILE_SAMPLES = 1024;

/** The ipfw lines that put `profile` in force over what `before` (the previous plan's objects) left in kipfw. */
export function planDummynet(profile: ResolvedProfile, before?: DummynetObjects): DummynetPlan {
  const rules = profile.rules;
  const pipeNumbers = numbering([...Object.keys(profile.pipes), ...Object.values(profile.queues).map((q) => q.pipe)]);
  const queueNumbers = numbering(Object.keys(profile.queues));
  const lines: string[] = [`# picowire profile ${JSON.stringify(profile.name)}`];
  const files: Record<string, string> = {};
  for (const [name, n] of pipeNumbers) if (name !== String(n)) lines.push(`# pipe ${n} = ${JSON.stringify(name)}`);
  for (const [name, n] of queueNumbers) if (name !== String(n)) lines.push(`# queue ${n} = ${JSON.stringify(name)}`);

  for (const [name, pipe] of Object.entries(profile.pipes)) {
    const words = ['pipe', String(pipeNumbers.get(name)!), 'config'];
    // a pipe configured without `profile` loses the one it had (dummynet's config_link). Never the
    // last word: ipfw takes a last argument that is a readable absolute path for a file of commands
    if (pipe.delayTable) {
      const file = profileFile(pipeNumbers.get(name)!);
      files[file] = delayProfileFile(pipe.delayTable);
      words.push('profile', file);
    }
    if (pipe.bw !== undefined) words.push('bw', String(Math.round(pipe.bw)));
    words.push('delay', String(pipe.delay / 1000));
    if (pipe.plr > 0) words.push('plr', String(pipe.plr));
    // the queue as the tc engine sizes it (bandwidth × delay); without a bottleneck it never fills: dummynet's own default
    if (pipe.queue || pipe.bw !== undefined) words.push('queue', queueSize(pipe.queue ?? { packets: queuePackets(pipe) }));
    if (pipe.burst !== undefined) words.push('burst', String(pipe.burst));
    if (pipe.scheduler !== undefined) words.push('type', DUMMYNET_SCHEDULERS[pipe.scheduler]!);
    if (pipe.mask) words.push(...mask(pipe.mask), 'buckets', String(pipe.buckets));
    lines.push(words.join(' '));
  }
  for (const [name, queue] of Object.entries(profile.queues)) {
    const words = ['queue', String(queueNumbers.get(name)!), 'config', 'pipe', String(pipeNumbers.get(queue.pipe)!), 'weight', String(queue.weight), 'queue', queueSize(queue.queue)];
    if (queue.mask) words.push(...mask(queue.mask), 'buckets', String(queue.buckets));
    lines.push(words.join(' '));
  }

  // `delete set` fails on an empty set ("rule 0 not found"), which would end the run: a count rule
  // (it changes no verdict) makes sure each set the plan deletes has one
  const placeholder = (set: number) => `add ${DUMMYNET_RESERVED_RULES} set ${set} count ip from any to any`;
  lines.push(`set disable ${STAGING_SET}`, placeholder(STAGING_SET), `delete set ${STAGING_SET}`);
  for (const rule of rules) lines.push(ruleLine(rule, pipeNumbers, queueNumbers));
  if (profile.default === 'allow') lines.push(`add ${DUMMYNET_RESERVED_RULES} set ${STAGING_SET} allow ip from any to any`);
  else lines.push(`add ${DUMMYNET_RESERVED_RULES} set ${STAGING_SET} allow ip from any to any not mac-type ${IP_TYPES}`);
  lines.push(placeholder(0), `set swap 0 ${STAGING_SET}`, `delete set ${STAGING_SET}`);

  const objects: DummynetObjects = { pipes: Object.fromEntries(pipeNumbers), queues: Object.fromEntries(queueNumbers) };
  // the queues first: a pipe goes once nothing feeds it
  const kept = (had: Record<string, number> | undefined, now: Record<string, number>) => [...new Set(Object.values(had ?? {}))].filter((n) => !Object.values(now).includes(n)).sort((x, y) => x - y);
  for (const n of kept(before?.queues, objects.queues)) lines.push(`queue ${n} delete`);
  for (const n of kept(before?.pipes, objects.pipes)) lines.push(`pipe ${n} delete`);
  return { lines, objects, files };
}

/**
 * A delay table as dummynet's profile file (ipfw's load_extra_delays reads it): `samples` 1024,
 * `loss-level`, then `prob delay` points. dummynet draws one of its 1024 samples uniformly and
 * drops the packet when the index is at or above loss-level × 1024; ipfw fills sample i from the
 * points by linear interpolation over prob × 1024, and keeps whole milliseconds (an int, truncated).
 * So point j sits at prob j/1024 (exact in binary) and holds sample j's delay: the table's at the
 * same probability, rounded to whole ms, plus 0.5 so that the truncation of an interpolated value
 * a hair below it still gives that ms. The last point (prob 1) ends the curve: ipfw interpolates
 * the top sample halfway to it.
 */
function delayProfileFile(t: DelayTable): string {
  const n = t.table.length;
  const ms = (prob: number) => {
    // the table holds the curve at probabilities (i + 0.5) / n × lossLevel, below lossLevel; above it the packet is dropped anyway
    const i = Math.min(n - 1, Math.floor((prob / t.lossLevel) * n));
    return Math.round(t.table[i]! / 1000) + 0.5;
  };
  const rows = [
    // ipfw reads lines of at most 287 characters: the pipe's name stays out
    '# picowire: a delay profile (ms of link time per packet, at the pipe\'s bw)',
    `samples ${PROFILE_SAMPLES}`,
    `loss-level ${t.lossLevel.toFixed(6)}`,
    'prob delay',
  ];
  for (let j = 0; j < PROFILE_SAMPLES - 1; j++) rows.push(`${j / PROFILE_SAMPLES} ${ms((j + 0.5) / PROFILE_SAMPLES)}`);
  rows.push(`1 ${ms(1 - 0.5 / PROFILE_SAMPLES)}`);
  return rows.join('\n') + '\n';
}

/** One profile rule as an `add` line into the staging set. */
function ruleLine(rule: ResolvedRule, pipes: Map<string, number>, queues: Map<string, number>): string {
  const words = ['add', String(rule.number), 'set', String(STAGING_SET)];
  if (rule.prob !== undefined) words.push('prob', String(rule.prob));
  if (rule.action === 'pipe') words.push('pipe', String(pipes.get(rule.target!)!));
  else if (rule.action === 'queue') words.push('queue', String(queues.get(rule.target!)!));
  else words.push(rule.action);
  words.push(protocol(rule.proto), 'from', address(rule.src), 'to', address(rule.dst));
  if (rule.srcPort) words.push('src-port', rule.srcPort.join(','));
  if (rule.dstPort) words.push('dst-port', rule.dstPort.join(','));
  if (rule.from) words.push('recv', NETMAP_PORTS[rule.from]);
  // as the tc engine: a rule that says nothing of IP takes IP frames only, unless it says l2
  const saysIp = rule.proto !== undefined || rule.src !== undefined || rule.dst !== undefined || rule.srcPort !== undefined || rule.dstPort !== undefined;
  if (!rule.l2 && !saysIp) words.push('mac-type', IP_TYPES);
  return words.join(' ');
}

/** A queue as dummynet's `queue` takes it: slots, or bytes with a B. */
function queueSize(q: QueueSize): string {
  return 'packets' in q ? String(q.packets) : `${q.bytes}B`;
}

const MASK_WORDS: [keyof ResolvedMask, string][] = [
  ['srcIp', 'src-ip'],
  ['dstIp', 'dst-ip'],
  ['srcPort', 'src-port'],
  ['dstPort', 'dst-port'],
  ['proto', 'proto'],
];

function mask(m: ResolvedMask): string[] {
  return ['mask', ...MASK_WORDS.flatMap(([key, word]) => (m[key] === undefined ? [] : [word, `0x${m[key]!.toString(16)}`]))];
}

function protocol(p: ResolvedRule['proto']): string {
  const number = (x: string | number) => (typeof x === 'number' ? String(x) : x === 'ip' || x === 'all' ? 'ip' : String(PROTO_NUMBERS[x]));
  if (p === undefined || p.some((x) => x === 'ip' || x === 'all')) return 'ip';
  return p.length === 1 ? number(p[0]!) : `{ ${p.map(number).join(' or ')} }`;
}

function address(a: AddressSet | undefined): string {
  if (!a || (!a.not && a.v4.length === 0)) return 'any';
  return `${a.not ? 'not ' : ''}${a.v4.join(',')}`;
}
