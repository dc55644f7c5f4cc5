// A picowire profile → ipfw/dummynet command lines, the reverse of parse.ts (see the direction
// convention there: from "a" is written `out`, from "b" `in`).
//
// One command a line: pipe configs, then queue configs, then `ipfw add` rules in order. Pipe and
// queue names that are not numbers get the smallest free numbers (1, 2, ...), each mapping written
// as a comment line (`# pipe 1 = "up"`). What ipfw cannot say (jitter, delayProfile, loss,
// duplicate, corrupt, reorder, overhead) is written as a `# picowire: ... not expressible in ipfw`
// comment; `default: "deny"` becomes a last `ipfw add 65535 deny ip from any to any` and default
// allow is ipfw's own default, so it writes nothing. Rules are written with their numbers (a rule
// without one gets the previous one's plus 100, as the schema says) and the full `from ... to ...`
// form; ports are written as `src-port`/`dst-port` options, which ipfw takes with any protocol.
// Values are written as the profile has them, without spaces ("256 Kbit/s" → 256Kbit/s), so
// parseIpfw(formatIpfw(p)) gives p back for what ipfw can say.
import { nextRuleNumber } from '../profile/resolve.ts';
import type { Mask, Pipe, Profile, QueueSpec, Rule } from '../profile/schema.ts';
import { aqmWords } from './aqm.ts';

/** Fields of a pipe ipfw has no words for. */
const NOT_IN_IPFW = ['jitter', 'delayProfile', 'loss', 'duplicate', 'corrupt', 'reorder', 'overhead', 'schedule', 'trace'] as const;

const MASK_WORDS: [keyof Mask, string][] = [
  ['srcIp', 'src-ip'],
  ['dstIp', 'dst-ip'],
  ['srcPort', 'src-port'],
  ['dstPort', 'dst-port'],
  ['proto', 'proto'],
  ['srcIp6', 'src-ip6'],
  ['dstIp6', 'dst-ip6'],
  ['flowId', 'flow-id'],
];

/** The profile as ipfw commands, one a line, ending with a newline. */
export function formatIpfw(profile: Profile): string {
  const lines: string[] = [`# picowire profile ${JSON.stringify(profile.name)}`];
  const pipes: Record<string, Pipe> = profile.pipes ?? {};
  const queues: Record<string, QueueSpec> = profile.queues ?? {};
  const rules: Rule[] = profile.rules ?? [];

  // numbers for every pipe and queue named, including names only a rule or queue refers to
  const pipeNumbers = numbering([...Object.keys(pipes), ...Object.values(queues).map((q) => q.pipe), ...rules.map((r) => r.pipe)]);
  const queueNumbers = numbering([...Object.keys(queues), ...rules.map((r) => r.queue)]);
  for (const [name, n] of pipeNumbers) if (name !== String(n)) lines.push(`# pipe ${n} = ${JSON.stringify(name)}`);
  for (const [name, n] of queueNumbers) if (name !== String(n)) lines.push(`# queue ${n} = ${JSON.stringify(name)}`);

  for (const [name, pipe] of Object.entries(pipes)) {
    const n = pipeNumbers.get(name)!;
    const words = ['ipfw', 'pipe', String(n), 'config'];
    if (pipe.bw !== undefined) words.push('bw', text(pipe.bw));
    if (pipe.delay !== undefined) words.push('delay', text(pipe.delay));
    if (pipe.plr !== undefined) words.push('plr', text(pipe.plr));
    if (pipe.queue !== undefined) words.push('queue', text(pipe.queue));
    if (pipe.burst !== undefined) words.push('burst', text(pipe.burst));
    const fq = pipe.scheduler === 'fq_codel' || pipe.scheduler === 'fq_pie';
    if (pipe.scheduler !== undefined && !fq) words.push('type', pipe.scheduler);
    if (pipe.mask !== undefined) words.push(...mask(pipe.mask));
    if (pipe.buckets !== undefined) words.push('buckets', text(pipe.buckets));
    // last: ipfw reads every word after codel, pie or fq_* as theirs
    words.push(...aqmWords(pipe.aqm, pipe.scheduler, pipe.fq));
    lines.push(words.join(' '));
    for (const field of NOT_IN_IPFW) {
      if (pipe[field] !== undefined) lines.push(`# picowire: pipe ${n} ${field} not expressible in ipfw`);
    }
  }

  for (const [name, queue] of Object.entries(queues)) {
    const words = ['ipfw', 'queue', String(queueNumbers.get(name)!), 'config', 'pipe', String(pipeNumbers.get(queue.pipe)!)];
    if (queue.weight !== undefined) words.push('weight', text(queue.weight));
    if (queue.queue !== undefined) words.push('queue', text(queue.queue));
    if (queue.mask !== undefined) words.push(...mask(queue.mask));
    if (queue.buckets !== undefined) words.push('buckets', text(queue.buckets));
    words.push(...aqmWords(queue.aqm));
    lines.push(words.join(' '));
  }

  let previous = 0;
  rules.forEach((rule, i) => {
    const number = rule.number ?? nextRuleNumber(previous);
    previous = number;
    const action = rule.action ?? (rule.pipe !== undefined ? 'pipe' : rule.queue !== undefined ? 'queue' : undefined);
    const words = ['ipfw', 'add', String(number)];
    if (rule.prob !== undefined) words.push('prob', text(rule.prob));
    if (action === 'pipe' && rule.pipe !== undefined) words.push('pipe', String(pipeNumbers.get(rule.pipe)!));
    else if (action === 'queue' && rule.queue !== undefined) words.push('queue', String(queueNumbers.get(rule.queue)!));
    else if (action === 'allow' || action === 'deny') words.push(action);
    else {
      lines.push(`# picowire: rules[${i}] has no action ipfw can write (a pipe or queue action names none)`);
      return;
    }
    // ipfw's ip4/ip6 stand where the protocol does when there is none, else as an option after the addresses
    words.push(rule.family && rule.proto === undefined ? rule.family : protocol(rule.proto), 'from', address(rule.src), 'to', address(rule.dst));
    if (rule.family && rule.proto !== undefined) words.push(rule.family);
    if (!isAny(rule.srcPort)) words.push('src-port', ports(rule.srcPort!));
    if (!isAny(rule.dstPort)) words.push('dst-port', ports(rule.dstPort!));
    if (rule.from === 'a') words.push('out');
    if (rule.from === 'b') words.push('in');
    if (rule.dstMac !== undefined || rule.srcMac !== undefined) words.push('mac', rule.dstMac ?? 'any', rule.srcMac ?? 'any');
    if (rule.macType !== undefined) words.push('mac-type', Array.isArray(rule.macType) ? rule.macType.map(text).join(',') : text(rule.macType));
    if (rule.l2) words.push('layer2');
    lines.push(words.join(' '));
  });

  if (profile.default === 'deny') lines.push('ipfw add 65535 deny ip from any to any');
  return lines.join('\n') + '\n';
}

/** The numbers formatIpfw gives a profile's pipes and queues (the same in every command it writes). */
export function ipfwNumbers(profile: Profile): { pipes: Map<string, number>; queues: Map<string, number> } {
  const queues: Record<string, QueueSpec> = profile.queues ?? {};
  const rules: Rule[] = profile.rules ?? [];
  return {
    pipes: numbering([...Object.keys(profile.pipes ?? {}), ...Object.values(queues).map((q) => q.pipe), ...rules.map((r) => r.pipe)]),
    queues: numbering([...Object.keys(queues), ...rules.map((r) => r.queue)]),
  };
}

/** Names → numbers: a name that is a number 1-65535 keeps it; the others take the smallest free ones, in order. */
export function numbering(names: (string | undefined)[]): Map<string, number> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  const unique = [...new Set(names.filter((n): n is string => n !== undefined))];
  for (const name of unique) {
    if (/^[1-9]\d{0,4}$/.test(name) && Number(name) <= 65535) {
      out.set(name, Number(name));
      used.add(Number(name));
    }
  }
  let next = 1;
  for (const name of unique) {
    if (out.has(name)) continue;
    while (used.has(next)) next++;
    out.set(name, next);
    used.add(next);
  }
  return out;
}

/** A value as one word: numbers as JavaScript writes them, text without its spaces. */
function text(v: string | number): string {
  return String(v).replace(/\s+/g, '');
}

function mask(m: Mask): string[] {
  const words = ['mask'];
  for (const [key, word] of MASK_WORDS) if (m[key] !== undefined) words.push(word, text(m[key]!));
  // an empty mask has no ipfw form: dummynet's default (no mask) is the same
  return words.length > 1 ? words : [];
}

function protocol(p: Rule['proto']): string {
  if (p === undefined) return 'ip';
  if (Array.isArray(p)) return p.length === 1 ? String(p[0]) : `{ ${p.join(' or ')} }`;
  return String(p);
}

function address(a: Rule['src']): string {
  if (a === undefined) return 'any';
  if (typeof a === 'object' && !Array.isArray(a)) return `not ${address(a.not)}`;
  return Array.isArray(a) ? a.join(',') : a;
}

function isAny(p: Rule['srcPort']): boolean {
  return p === undefined || p === 'any';
}

function ports(p: NonNullable<Rule['srcPort']>): string {
  return Array.isArray(p) ? p.map(text).join(',') : text(p);
}
