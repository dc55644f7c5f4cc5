// ipfw/dummynet command lines → a picowire profile (src/profile/schema.ts).
//
// DIRECTION CONVENTION — read this before writing or reading a rule's `from`.
// ipfw runs on a host, and its `in`/`out` are seen from that host. picowire is a bridge with two
// ports: port `a` faces the hosts under test (the "inside", where ipfw's host would be), port `b`
// faces the network. So:
//   ipfw `out`  = traffic leaving the inside  = entering the bridge on a → JSON `from: "a"`
//   ipfw `in`   = traffic coming to the inside = entering the bridge on b → JSON `from: "b"`
//   `recv a`, `via a`, `xmit b` → `from: "a"`;  `recv b`, `via b`, `xmit a` → `from: "b"`
//   no direction word → `from` left out: the rule applies in both directions.
// Interfaces other than a and b are refused. (ipfw's own `via X` matches a packet received OR
// sent through X, which on a two-port bridge is every packet; picowire reads `via X` as `recv X`,
// the way it is nearly always meant.) `me` is refused: the bridge has no address in the path.
//
// What is read: lines with or without a leading `ipfw` or `dnctl` (or `/sbin/ipfw`, `sudo ipfw`, flags -q
// and -f), `#` comments, blank lines, `\` continuations, and several commands run together on
// one line (a new command starts at each `ipfw` word, as in the seed paper's text).
//   masks:          src-ip, dst-ip, src-port, dst-port, proto, src-ip6/dst-ip6 (a prefix length: /64 or 64),
//                   flow-id (the IPv6 flow label's 20 bits), all (every one of these, as dummynet's)
//   pipe N config   bw B (also "bw 256 Kbit/s"), delay D, plr P, queue Q, burst S, mask ..., buckets N,
//                   sched TYPE / type TYPE, noerror (ignored), profile FILE (dummynet's empirical delay
//                   profile, delay-profile.ts: JSON "delayProfile"; read when the parser is given a reader,
//                   as picowire ipfw on the box is, refused otherwise).
//   queue N config  pipe P (or sched P), weight W, queue Q, mask ..., buckets N.
//   sched N config  type TYPE, mask ..., buckets N — merged into pipe N (dummynet's `pipe N config`
//                   is a link N driven by scheduler N, so scheduler N belongs to pipe N).
//   add [N] [prob P] ACTION [body]   ACTION: pipe N, queue N, allow|accept|pass|permit, deny|drop|reject
//                   body: [proto] [from SRC [ports]] [to DST [ports]] then, in any order, in, out, recv/xmit/via
//                   a|b, src-port, dst-port, proto, src-ip, dst-ip (src-ip6, dst-ip6), ip4/ipv4 and ip6/ipv6 (one
//                   family's packets: JSON `family`; also as the protocol, `ip6 from any to any`), mac DST SRC and
//                   mac-type LIST (JSON dstMac, srcMac, macType: frame rules, with layer2), prob, layer2 (the rule takes every frame, ARP
//                   too: JSON `l2`; without it a rule sees IPv4 and IPv6 packets only, as ipfw's do); `bridged`
//                   is accepted and says nothing (every packet is bridged). Without from/to: ip from any to any.
//                   `dst-port any` is no port condition. Refused: me, tables, hostnames, service names,
//                   keep-state/setup/established/limit, log, set, and every other action or option.
//   delete N..., pipe|queue|sched N delete, flush, pipe|queue|sched flush, enable ..., disable ... (ignored)
// A repeated `pipe N config` replaces the pipe's parameters but keeps a scheduler type set before
// (as dummynet does); a repeated `queue N config` replaces the queue. Rules are kept in order of
// number (equal numbers in the order added), as ipfw runs them; `add` without a number takes the
// highest number so far plus 100 (ipfw's autoincrement). `add 65535 allow|deny ip from any to any`
// (what formatIpfw writes for a default) sets the profile's `default` instead of adding a rule.
// Rules and queues must name pipes and queues configured somewhere in the text (checked at the end).
// Every mistake is a UserError naming the line, the command, the word at fault and what is allowed;
// ranges the schema states (weight 1-100, buckets ≤ 256, bandwidth limits, ...) are left to validateProfile.
import { isIPv4, isIPv6 } from 'node:net';
import { UserError } from '../common/errors.ts';
import { BANDWIDTH_UNITS, DURATION_UNITS, SIZE_UNITS, parseBandwidth, parseDuration, parseQueue, parseSize } from '../profile/units.ts';
import type { Aqm, Family, Mask, Pipe, Profile, Protocol, QueueSpec, Rule, Scheduler } from '../profile/schema.ts';
import { flowScheduler, PROTOCOLS } from '../profile/words.ts';
import * as aqm from './aqm.ts';
import { parseDelayProfile } from './delay-profile.ts';

export const COMMANDS_ALLOWED =
  'add, delete N, flush, pipe N config, queue N config, sched N config, pipe|queue|sched N delete, pipe|queue|sched flush, enable, disable';
export const DNCTL_COMMANDS_ALLOWED = 'pipe N config, queue N config, sched N config, pipe|queue|sched N delete, pipe|queue|sched flush, flush';
export const PIPE_OPTIONS = `bw, delay, plr, queue, burst, mask, buckets, sched, type, noerror, profile, ${aqm.AQM_OPTIONS}`;
export const QUEUE_OPTIONS = `pipe, sched, weight, queue, mask, buckets, noerror, ${aqm.AQM_OPTIONS}`;
export const SCHED_OPTIONS = 'type, pipe (its own number), mask, buckets';
export const MASK_ALLOWED = 'src-ip, dst-ip, src-ip6, dst-ip6, flow-id, src-port, dst-port, proto, all';
export const MASK6_VALUES = 'a prefix length from 1 to 128, such as /64 or 64';
export const MASK_VALUES = 'hex such as 0xffffff00, a decimal number, a prefix length such as /24, or a netmask such as 255.255.255.0';
export const SCHEDULERS_ALLOWED = 'fifo, rr, drr, prio, qfq, wf2q+ (or wf2qp), fq_codel, fq_pie';
export const ACTIONS_ALLOWED = 'pipe N, queue N, allow (accept, pass, permit), deny (drop, reject)';
export const RULE_OPTIONS = 'from, to, in, out, recv a|b, xmit a|b, via a|b, src-port, dst-port, proto, src-ip, dst-ip, ip4, ip6, prob, layer2, mac, mac-type';
export const PROTOCOLS_ALLOWED = `${PROTOCOLS.join(', ')}, ip4 (ipv4), ip6 (ipv6), or a protocol number 0-255`;
export const ADDRESS_ALLOWED =
  'any, an IPv4 or IPv6 address, a prefix such as 198.18.0.0/24, a list a,b or {a,b}, or not followed by one of these';
export const PORTS_ALLOWED = 'a port (22), a range (2000-3000), a list (22,53,1000-2000) or any';
export const PORTS_OF_BRIDGE = 'a (the port facing the hosts under test) or b (the port facing the network)';

/** The full mask each field gets from `mask all` (IPv6 packets' fields too, as dummynet's). */
const MASK_ALL: Required<Mask> = { srcIp: '0xffffffff', dstIp: '0xffffffff', srcPort: '0xffff', dstPort: '0xffff', proto: '0xff', srcIp6: 128, dstIp6: 128, flowId: '0xfffff' };
const MASK_FIELDS = new Map<string, keyof Mask>([
  ['src-ip', 'srcIp'],
  ['dst-ip', 'dstIp'],
  ['src-port', 'srcPort'],
  ['dst-port', 'dstPort'],
  ['proto', 'proto'],
  ['src-ip6', 'srcIp6'],
  ['src-ipv6', 'srcIp6'],
  ['dst-ip6', 'dstIp6'],
  ['dst-ipv6', 'dstIp6'],
  ['flow-id', 'flowId'],
]);

const SCHEDULER_NAMES = new Map<string, Scheduler>([
  ['fifo', 'fifo'],
  ['rr', 'rr'],
  ['drr', 'drr'],
  ['prio', 'prio'],
  ['qfq', 'qfq'],
  ['wf2q+', 'wf2q+'],
  ['wf2qp', 'wf2q+'],
  ['fq_codel', 'fq_codel'],
  ['fq_pie', 'fq_pie'],
]);

const ALLOW_WORDS = new Set(['allow', 'accept', 'pass', 'permit']);
const DENY_WORDS = new Set(['deny', 'drop', 'reject']);
const STATEFUL = new Set(['keep-state', 'record-state', 'setup', 'established', 'limit', 'set-limit', 'check-state']);
/** Rule options that say nothing on a bridge: every packet it sees is bridged, at layer 2. */
/** The words a rule's body may start with other than a protocol. */
const RULE_WORDS = new Set(['mac', 'mac-type', 'from', 'to', 'not', 'src-ip', 'dst-ip', 'src-ip6', 'dst-ip6', 'src-ipv6', 'dst-ipv6', 'src-port', 'dst-port', 'proto', 'in', 'out', 'recv', 'xmit', 'via', 'prob', 'layer2', 'bridged', 'ip4', 'ipv4', 'ip6', 'ipv6']);
const NOOP_RULE_OPTIONS = new Set(['bridged']);
/** ipfw's ip4/ipv4 and ip6/ipv6: as the protocol (`ip6 from any to any`) or an option, one family's packets only. */
const FAMILY_WORDS = new Map<string, Family>([
  ['ip4', 'ip4'],
  ['ipv4', 'ip4'],
  ['ip6', 'ip6'],
  ['ipv6', 'ip6'],
]);

/** Every option word of ipfw's dummynet commands: after `bw 4`, such a word starts the next option, any other is a unit. */
const DUMMYNET_WORDS = new Set(
  ('plr noerror buckets dst-ip src-ip dst-port src-port proto weight lmax maxlen all mask sched_mask flow_mask droptail ecn red gred ' +
    'codel fq_codel pie fq_pie bw bandwidth delay link pipe queue flowset sched pri priority type flow-id dst-ipv6 dst-ip6 src-ipv6 ' +
    'src-ip6 profile burst target interval tupdate alpha beta max_burst max_ecnth noecn capdrop nocapdrop drand nodrand onoff dre ts ' +
    'quantum limit flows').split(' '),
);

const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;
const INTEGER = /^\d+$/;

/** One ipfw command: its words after `ipfw` (or `dnctl`) and the line it starts on. */
interface Command {
  line: number;
  words: string[];
  /** the program word it was written after (shown so in messages): ipfw, or dnctl, dummynet's own command since FreeBSD 13.1 */
  program?: 'ipfw' | 'dnctl';
}

export interface ParseOptions {
  /** reads a file a command names (`pipe N config profile FILE`); without it such a command is refused */
  readFile?: (path: string) => string;
}

/** Parses ipfw/dummynet command lines into a profile named `name`; throws a UserError on the first mistake. */
export function parseIpfw(text: string, name = 'ipfw', opts: ParseOptions = {}): Profile {
  if (typeof text !== 'string') throw new UserError(`ipfw text must be a string, not ${text === null ? 'null' : typeof text}`);
  const state = new State();
  state.readFile = opts.readFile;
  for (const command of splitCommands(text)) new CommandParser(command, state).run();
  return renamed(state.finish(name), names(text));
}

/** The names formatIpfw gave numbered pipes and queues, from its `# pipe 1 = "up"` comment lines. */
function names(text: string): { pipes: Map<string, string>; queues: Map<string, string> } {
  const found = { pipes: new Map<string, string>(), queues: new Map<string, string>() };
  for (const m of text.matchAll(/^[ \t]*#[ \t]*(pipe|queue)[ \t]+(\d+)[ \t]*=[ \t]*("(?:[^"\\\n]|\\.)*")[ \t]*$/gm)) {
    try {
      const value = JSON.parse(m[3]!) as unknown;
      if (typeof value === 'string') found[m[1] === 'pipe' ? 'pipes' : 'queues'].set(m[2]!, value);
    } catch {
      // not a name formatIpfw wrote: an ordinary comment
    }
  }
  return found;
}

/** The profile with numbered pipes and queues given back their names, where a name is not taken. */
function renamed(profile: Profile, to: { pipes: Map<string, string>; queues: Map<string, string> }): Profile {
  const rename = <T>(record: Record<string, T> | undefined, map: Map<string, string>): [Record<string, T> | undefined, Map<string, string>] => {
    if (!record) return [record, new Map()];
    const used = new Set(Object.keys(record));
    const applied = new Map<string, string>();
    const out: Record<string, T> = {};
    for (const [key, value] of Object.entries(record)) {
      const name = map.get(key);
      const ok = name !== undefined && name !== key && !used.has(name) && ![...applied.values()].includes(name);
      if (ok) applied.set(key, name);
      out[ok ? name : key] = value;
    }
    return [out, applied];
  };
  const [pipes, pipeNames] = rename(profile.pipes, to.pipes);
  const [queues, queueNames] = rename(profile.queues, to.queues);
  if (pipeNames.size === 0 && queueNames.size === 0) return profile;
  return {
    ...profile,
    pipes: pipes!,
    ...(queues && { queues: Object.fromEntries(Object.entries(queues).map(([k, q]) => [k, { ...q, pipe: pipeNames.get(q.pipe) ?? q.pipe }])) }),
    rules: profile.rules.map((r) => ({
      ...r,
      ...(r.pipe !== undefined && { pipe: pipeNames.get(r.pipe) ?? r.pipe }),
      ...(r.queue !== undefined && { queue: queueNames.get(r.queue) ?? r.queue }),
    })),
  };
}

/** What the commands so far have built. */
class State {
  pipes = new Map<string, Pipe>();
  queues = new Map<string, QueueSpec>();
  /** the command that configured each queue, for an error about its pipe */
  queueAt = new Map<string, CommandParser>();
  rules: { rule: Rule; at: CommandParser }[] = [];
  default: 'allow' | 'deny' | undefined;
  readFile: ParseOptions['readFile'];

  addRule(rule: Rule, at: CommandParser): void {
    // after the last rule with a number ≤ this one: ipfw's order, equal numbers in the order added
    let i = this.rules.length;
    while (i > 0 && this.rules[i - 1]!.rule.number! > rule.number!) i--;
    this.rules.splice(i, 0, { rule, at });
  }

  /** ipfw's autoincrement: the highest rule number so far plus 100. */
  nextNumber(): number {
    return this.rules.reduce((max, r) => Math.max(max, r.rule.number!), 0) + 100;
  }

  finish(name: string): Profile {
    // references are checked once every command has run: ipfw lets a rule name a pipe configured later
    for (const [number, queue] of this.queues) {
      if (!this.pipes.has(queue.pipe)) {
        this.queueAt.get(number)!.fail(`pipe ${queue.pipe} is not configured; write "ipfw pipe ${queue.pipe} config ..." (${this.known('pipes', this.pipes)})`);
      }
    }
    for (const { rule, at } of this.rules) {
      if (rule.pipe !== undefined && !this.pipes.has(rule.pipe)) {
        at.fail(`pipe ${rule.pipe} is not configured; write "ipfw pipe ${rule.pipe} config ..." (${this.known('pipes', this.pipes)})`);
      }
      if (rule.queue !== undefined && !this.queues.has(rule.queue)) {
        at.fail(`queue ${rule.queue} is not configured; write "ipfw queue ${rule.queue} config pipe P ..." (${this.known('queues', this.queues)})`);
      }
    }
    const byNumber = (m: Map<string, unknown>) => [...m.keys()].sort((x, y) => Number(x) - Number(y));
    const pipes: Record<string, Pipe> = {};
    for (const k of byNumber(this.pipes)) pipes[k] = this.pipes.get(k)!;
    const queues: Record<string, QueueSpec> = {};
    for (const k of byNumber(this.queues)) queues[k] = this.queues.get(k)!;
    return {
      name,
      pipes,
      ...(this.queues.size > 0 && { queues }),
      rules: this.rules.map((r) => r.rule),
      ...(this.default !== undefined && { default: this.default }),
    };
  }

  private known(what: string, m: Map<string, unknown>): string {
    return m.size ? `configured ${what}: ${[...m.keys()].join(', ')}` : `no ${what} are configured`;
  }
}

/** The program a word names: `ipfw`, `/sbin/ipfw`, `dnctl`, `/sbin/dnctl`, ...; undefined for any other word. */
function programOf(word: string): Command['program'] {
  const m = /^(?:(?:\/[^/\s]+)*\/)?(ipfw|dnctl)$/.exec(word);
  return m ? (m[1] as 'ipfw' | 'dnctl') : undefined;
}

/** Splits text into commands: comments and blank lines dropped, `\` continuations joined, a new command at each `ipfw`. */
function splitCommands(text: string): Command[] {
  const commands: Command[] = [];
  let current: Command | undefined;
  let continued = false;
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    let line = raw.replace(/(^|\s)#.*$/, '$1');
    const continues = /\\\s*$/.test(line);
    if (continues) line = line.replace(/\\\s*$/, '');
    if (!continued) current = undefined;
    for (const word of line.split(/\s+/).filter((w) => w !== '')) {
      const program = programOf(word);
      if (program) {
        // `sudo ipfw ...`: the sudo belongs to this command, not to the one before it
        if (current && current.words.at(-1) === 'sudo') {
          current.words.pop();
          if (current.words.length === 0 && !current.program) commands.pop();
        }
        current = { line: i + 1, words: [], program };
        commands.push(current);
      } else {
        if (!current) {
          current = { line: i + 1, words: [] };
          commands.push(current);
        }
        current.words.push(word);
      }
    }
    continued = continues;
  });
  return commands.map((c) => ({ ...c, words: joinBraces(c.words) }));
}

/** `{ a, b }` or `{ tcp or udp }` written with spaces becomes one word, as if written without. */
function joinBraces(words: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    let w = words[i]!;
    if (w.startsWith('{') && !w.includes('}')) {
      while (i + 1 < words.length && !w.includes('}')) w += ' ' + words[++i]!;
    }
    out.push(w);
  }
  return out;
}

/** The direction a rule's words give, and the word that gave it (for a contradiction's message). */
interface Direction {
  from: 'a' | 'b';
  words: string;
}

/** Parses one command into the state; every error names the command's line and text. */
class CommandParser {
  private i = 0;
  private readonly words: string[];

  constructor(
    private readonly command: Command,
    private readonly state: State,
  ) {
    this.words = command.words;
  }

  /** Throws the UserError for this command: `line N: ipfw ...: problem`. */
  fail(problem: string): never {
    const text = [...(this.command.program ? [this.command.program] : []), ...this.words].join(' ');
    throw new UserError(`line ${this.command.line}: ${text}: ${problem}`);
  }

  /** The problem with one word: `"word" problem`. */
  bad(word: string, problem: string): never {
    this.fail(`${JSON.stringify(word)} ${problem}`);
  }

  private peek(ahead = 0): string | undefined {
    return this.words[this.i + ahead];
  }

  private next(): string | undefined {
    return this.words[this.i++];
  }

  /** The value after an option word; a missing one is an error naming what was expected. */
  private value(option: string, expected: string): string {
    const v = this.next();
    if (v === undefined) this.fail(`${option} needs ${expected}`);
    return v;
  }

  run(): void {
    // ipfw's flags: -q (quiet) and -f (force) change nothing here
    while (this.peek()?.startsWith('-')) {
      const flag = this.next()!;
      if (!/^-[qf]+$/.test(flag)) this.bad(flag, 'is not a supported ipfw flag; allowed: -q, -f');
    }
    const word = this.next();
    if (word === undefined) this.fail(`missing command; allowed: ${this.command.program === 'dnctl' ? DNCTL_COMMANDS_ALLOWED : COMMANDS_ALLOWED}`);
    // dnctl (FreeBSD 13.1 on) is dummynet's own command: pipes, queues and schedulers, not rules
    if (this.command.program === 'dnctl') {
      if (word === 'pipe' || word === 'queue' || word === 'sched') return this.dummynet(word);
      if (word === 'flush') return this.dummynetFlush();
      this.bad(word, `is not a dnctl command${word === 'add' || word === 'delete' ? ' (rules are ipfw\'s: ipfw add ...)' : ''}; allowed: ${DNCTL_COMMANDS_ALLOWED}`);
    }
    switch (word) {
      case 'add':
        return this.add();
      case 'delete':
        return this.deleteRules();
      case 'flush':
        this.state.rules = [];
        return this.end();
      case 'enable':
      case 'disable':
        return; // `ipfw enable firewall`, `disable one_pass`, ...: nothing to do on the appliance
      case 'pipe':
      case 'queue':
      case 'sched':
        return this.dummynet(word);
      default:
        this.bad(word, `is not a supported ipfw command; allowed: ${COMMANDS_ALLOWED}`);
    }
  }

  /** No words may be left over. */
  private end(): void {
    const extra = this.peek();
    if (extra !== undefined) this.bad(extra, 'is not expected here: the command is complete before it');
  }

  private deleteRules(): void {
    if (this.peek() === undefined) this.fail('delete needs one or more rule numbers');
    while (this.peek() !== undefined) {
      const n = this.ruleNumber(this.next()!);
      this.state.rules = this.state.rules.filter((r) => r.rule.number !== n);
    }
  }

  private ruleNumber(word: string): number {
    if (!INTEGER.test(word) || Number(word) < 1 || Number(word) > 65535) this.bad(word, 'is not a rule number; allowed: 1 to 65535');
    return Number(word);
  }

  /** A pipe, queue or scheduler number: 1 to 65535, kept as the key text without leading zeros. */
  private objectNumber(what: string, word: string | undefined): string {
    if (word === undefined) this.fail(`${what} needs a number from 1 to 65535`);
    if (!INTEGER.test(word) || Number(word) < 1 || Number(word) > 65535) this.bad(word, `is not a ${what} number; allowed: 1 to 65535`);
    return String(Number(word));
  }

  /** dummynet's flush: every pipe, queue and scheduler at once (`ipfw pipe flush`, `dnctl flush`). */
  private dummynetFlush(): void {
    this.state.pipes.clear();
    this.state.queues.clear();
    return this.end();
  }

  private dummynet(kind: 'pipe' | 'queue' | 'sched'): void {
    if (this.peek() === 'flush') {
      this.next();
      return this.dummynetFlush();
    }
    const n = this.objectNumber(kind, this.next());
    const verb = this.next();
    if (verb === 'delete') {
      if (kind === 'queue') this.state.queues.delete(n);
      else this.state.pipes.delete(n);
      return this.end();
    }
    if (verb !== 'config') {
      if (verb === undefined) this.fail(`${kind} ${n} needs "config" and its options, or "delete"`);
      this.bad(verb, `is not expected after ${kind} ${n}; allowed: config, delete`);
    }
    if (kind === 'pipe') this.pipeConfig(n);
    else if (kind === 'queue') this.queueConfig(n);
    else this.schedConfig(n);
  }

  private pipeConfig(n: string): void {
    const pipe: Pipe = {};
    let fromProfile: Pipe['bw'];
    const old = this.state.pipes.get(n);
    while (this.peek() !== undefined) {
      const option = this.next()!;
      if (aqm.AQM_WORDS.has(option)) {
        pipe.aqm = this.queueManagement(option, pipe.aqm);
        continue;
      }
      switch (option) {
        case 'bw':
        case 'bandwidth':
          pipe.bw = this.bandwidth(option);
          break;
        case 'delay':
          pipe.delay = this.duration(option);
          break;
        case 'plr':
          pipe.plr = this.probability(option, 'a packet loss rate');
          break;
        case 'queue':
          pipe.queue = this.queueSize(option);
          break;
        case 'burst':
          pipe.burst = this.size(option);
          break;
        case 'mask':
        case 'sched_mask':
          pipe.mask = this.mask(option);
          break;
        case 'buckets':
          pipe.buckets = this.buckets(option);
          break;
        case 'sched':
        case 'type':
          pipe.scheduler = this.scheduler(option);
          if (flowScheduler(pipe.scheduler)) Object.assign(pipe, this.flowQueueing(pipe.scheduler));
          break;
        case 'noerror':
          break; // dummynet: do not report drops to the sender; a bridge reports nothing anyway
        case 'profile': {
          // dummynet's empirical delay profile: the file's curve, and its bw unless the command gives one
          const file = this.value(option, 'a delay profile file');
          if (!this.state.readFile) this.fail(`profile ${file}: the file is not where this text is read (it is read on the box by picowire ipfw there); write the curve as "delayProfile" of the pipe in a JSON profile`);
          let content: string;
          try {
            content = this.state.readFile(file);
          } catch (e) {
            this.bad(file, `cannot be read: ${(e as Error).message}`);
          }
          const read = parseDelayProfile(content, file);
          pipe.delayProfile = read.delayProfile;
          if (read.bw !== undefined) fromProfile = read.bw;
          break;
        }
        case 'weight':
        case 'pipe':
          this.bad(option, `is not a pipe option (it belongs to a queue: ipfw queue N config pipe ${n} weight W); allowed: ${PIPE_OPTIONS}`);
        default:
          this.unknown(option, 'a pipe option', PIPE_OPTIONS);
      }
    }
    this.checkEcn(pipe.aqm);
    if (fromProfile !== undefined) pipe.bw ??= fromProfile;
    // as dummynet: a new config replaces the link's parameters and keeps the scheduler's type (and an fq scheduler's parameters)
    const scheduler = pipe.scheduler ?? old?.scheduler;
    const fqKept = pipe.scheduler === undefined && flowScheduler(scheduler);
    if (fqKept && pipe.aqm !== undefined && pipe.aqm.type !== 'droptail') {
      this.fail(`pipe ${n}'s scheduler is ${scheduler}, which manages its flows itself (dummynet ignores a pipe's ${pipe.aqm.type} under it); give its flows' parameters to the scheduler: sched ${n} config type ${scheduler} ...`);
    }
    const kept = fqKept ? { ...(old?.aqm && { aqm: old.aqm }), ...(old?.fq && { fq: old.fq }) } : {};
    this.state.pipes.set(n, order({ ...pipe, ...kept, ...(scheduler !== undefined && { scheduler }) }));
  }

  private schedConfig(n: string): void {
    const sched: Pick<Pipe, 'scheduler' | 'mask' | 'buckets' | 'aqm' | 'fq'> = {};
    while (this.peek() !== undefined) {
      const option = this.next()!;
      switch (option) {
        case 'type':
          sched.scheduler = this.scheduler(option);
          if (flowScheduler(sched.scheduler)) Object.assign(sched, this.flowQueueing(sched.scheduler));
          break;
        case 'pipe': {
          // `sched N config pipe N type fq_codel` (ipfw(8)'s AQM examples): scheduler N is pipe N's
          const p = this.objectNumber(option, this.next());
          if (p !== n) this.bad(p, `is not this scheduler's pipe: in dummynet scheduler ${n} serves pipe ${n} (write sched ${p} config ... for pipe ${p})`);
          break;
        }
        case 'mask':
        case 'sched_mask':
          sched.mask = this.mask(option);
          break;
        case 'buckets':
          sched.buckets = this.buckets(option);
          break;
        case 'bw':
        case 'bandwidth':
        case 'delay':
        case 'plr':
        case 'queue':
        case 'burst':
          this.bad(option, `is not a scheduler option (it belongs to the pipe: ipfw pipe ${n} config ${option} ...); allowed: ${SCHED_OPTIONS}`);
        default:
          this.unknown(option, 'a scheduler option', SCHED_OPTIONS);
      }
    }
    const old = this.state.pipes.get(n);
    // a new scheduler type brings its own parameters: an fq scheduler's replace the pipe's aqm (dummynet ignores it under fq_*)
    const fresh = sched.scheduler !== undefined ? { aqm: undefined, fq: undefined } : {};
    this.state.pipes.set(n, order({ ...old, ...fresh, ...sched }));
  }

  private queueConfig(n: string): void {
    let pipe: string | undefined;
    const queue: Omit<QueueSpec, 'pipe'> = {};
    while (this.peek() !== undefined) {
      const option = this.next()!;
      if (aqm.AQM_WORDS.has(option)) {
        queue.aqm = this.queueManagement(option, queue.aqm);
        continue;
      }
      switch (option) {
        case 'pipe':
        case 'sched':
          pipe = this.objectNumber(option, this.next());
          break;
        case 'weight': {
          const w = this.value(option, 'a whole number from 1 to 100');
          if (!INTEGER.test(w)) this.bad(w, 'is not a weight; allowed: a whole number from 1 to 100');
          queue.weight = Number(w);
          break;
        }
        case 'queue':
          queue.queue = this.queueSize(option);
          break;
        case 'mask':
        case 'flow_mask':
          queue.mask = this.mask(option);
          break;
        case 'buckets':
          queue.buckets = this.buckets(option);
          break;
        case 'noerror':
          break;
        case 'plr':
          this.fail(`plr is not supported on a queue in picowire; put it on the pipe (ipfw pipe P config plr ${this.peek() ?? 'P'})`);
        case 'bw':
        case 'bandwidth':
        case 'delay':
        case 'burst':
        case 'profile':
          this.bad(option, `is not a queue option (it belongs to the pipe: ipfw pipe P config ${option} ...); allowed: ${QUEUE_OPTIONS}`);
        default:
          this.unknown(option, 'a queue option', QUEUE_OPTIONS);
      }
    }
    if (pipe === undefined) this.fail(`a queue needs "pipe P", the pipe whose scheduler serves it; allowed: ${QUEUE_OPTIONS}`);
    const spec: QueueSpec = { pipe };
    if (queue.weight !== undefined) spec.weight = queue.weight;
    if (queue.queue !== undefined) spec.queue = queue.queue;
    if (queue.mask !== undefined) spec.mask = queue.mask;
    if (queue.buckets !== undefined) spec.buckets = queue.buckets;
    this.checkEcn(queue.aqm);
    if (queue.aqm !== undefined) spec.aqm = queue.aqm;
    this.state.queues.set(n, spec);
    this.state.queueAt.set(n, this);
  }

  /** An unknown option: a specific word for the ones picowire knows of but does not take here. */
  private unknown(option: string, what: string, allowed: string): never {
    if (option === 'fq_codel' || option === 'fq_pie') this.bad(option, `is a scheduler type: write "type ${option}"; allowed: ${allowed}`);
    if (['target', 'interval', 'tupdate', 'alpha', 'beta', 'max_burst', 'max_ecnth', 'noecn', 'quantum', 'limit', 'flows'].includes(option)) {
      this.bad(option, `belongs to codel, pie, fq_codel or fq_pie and comes after that word (such as "codel target 5ms"); allowed: ${allowed}`);
    }
    this.bad(option, `is not ${what}; allowed: ${allowed}`);
  }

  /** The AQM words' view of this command. */
  private reader(): aqm.Reader {
    return {
      peek: (ahead) => this.peek(ahead),
      next: () => this.next(),
      bad: (word, problem) => this.bad(word, problem),
      fail: (problem) => this.fail(problem),
      duration: (option) => this.duration(option),
      value: (option, expected) => this.value(option, expected),
    };
  }

  /** droptail, red/gred w_q/min_th/max_th/max_p, codel ..., pie ..., or `ecn` (RED marks instead of dropping), onto what an earlier word set. */
  private queueManagement(option: string, before: Aqm | undefined): Aqm {
    if (option === 'ecn') {
      // ipfw's ecn option is RED's flag; codel and pie take their own after their word
      return { ...(before ?? { type: 'red' }), ecn: true } as Aqm;
    }
    if (before !== undefined && !(before.type === 'red' && Object.keys(before).length === 2 && before.ecn)) {
      this.bad(option, `is a second queue management for one queue (it has ${before.type} already): write one of ${aqm.AQM_OPTIONS}`);
    }
    const ecn = before?.ecn ? { ecn: true } : {};
    if (option === 'droptail') return { type: 'droptail' };
    if (option === 'red' || option === 'gred') return { ...aqm.red(this.reader(), option), ...ecn };
    return aqm.params(this.reader(), option as 'codel' | 'pie', false).aqm;
  }

  /** An ecn with no red/gred to mark for: what dummynet's flag does alone is nothing, so it is refused. */
  private checkEcn(a: Aqm | undefined): void {
    if (a?.type === 'red' && a.wq === undefined) this.bad('ecn', `alone marks nothing: it is red's and gred's flag (red w_q/min_th/max_th/max_p ecn); codel and pie take theirs after their word ("codel ecn")`);
  }

  /** An fq_codel or fq_pie scheduler's words after its type: its flows' codel or pie, quantum, limit, flows. */
  private flowQueueing(type: 'fq_codel' | 'fq_pie'): Pick<Pipe, 'aqm' | 'fq'> {
    const { aqm: flows, fq } = aqm.params(this.reader(), type === 'fq_codel' ? 'codel' : 'pie', true);
    return { ...(Object.keys(flows).length > 1 && { aqm: flows }), ...(Object.keys(fq).length > 0 && { fq }) };
  }

  /**
   * A value that may be written with its unit as the next word ("256 Kbit/s"): after a bare number,
   * a next word that is not one of dummynet's option words is its unit, and must make a valid value.
   */
  private withUnit(option: string, expected: string, what: string, accepts: (text: string) => boolean): string {
    const v = this.value(option, `${what}; allowed: ${expected}`);
    const unit = this.peek();
    if (NUMBER.test(v) && unit !== undefined && !NUMBER.test(unit) && !DUMMYNET_WORDS.has(unit)) {
      this.next();
      if (!accepts(v + unit)) this.bad(`${v} ${unit}`, `is not ${what}; allowed: ${expected}`);
      return v + unit;
    }
    if (!NUMBER.test(v) && !accepts(v)) this.bad(v, `is not ${what}; allowed: ${expected}`);
    return v;
  }

  private bandwidth(option: string): string | number {
    const allowed = `a number and a unit such as 4Mbit/s (${BANDWIDTH_UNITS}); a bare number is bit/s`;
    const v = this.withUnit(option, allowed, 'a bandwidth', (t) => succeeds(() => parseBandwidth(t)));
    return NUMBER.test(v) ? Number(v) : v;
  }

  private duration(option: string): string | number {
    const allowed = `a number of milliseconds, or a number and a unit such as 20ms (${DURATION_UNITS})`;
    const v = this.withUnit(option, allowed, 'a delay', (t) => succeeds(() => parseDuration(t)));
    return NUMBER.test(v) ? Number(v) : v;
  }

  private queueSize(option: string): string | number {
    const allowed = `a whole number of packets (slots), or a size such as 64KB (${SIZE_UNITS})`;
    const v = this.withUnit(option, allowed, 'a queue size', (t) => succeeds(() => parseQueue(t)));
    if (INTEGER.test(v)) return Number(v);
    if (NUMBER.test(v)) this.bad(v, `is not a queue size; allowed: ${allowed}`);
    const q = parseQueue(v); // accepted by withUnit
    return 'packets' in q ? q.packets : v;
  }

  private size(option: string): string | number {
    const allowed = `a whole number of bytes, or a size such as 64KB (${SIZE_UNITS})`;
    const v = this.withUnit(option, allowed, 'a size', (t) => succeeds(() => parseSize(t)));
    if (INTEGER.test(v)) return Number(v);
    if (NUMBER.test(v)) this.bad(v, `is not a size; allowed: ${allowed}`);
    return v;
  }

  private probability(option: string, what: string): number {
    const v = this.value(option, `${what}; allowed: a number from 0 to 1, such as 0.01`);
    if (!NUMBER.test(v) || Number(v) > 1) this.bad(v, `is not ${what}; allowed: a number from 0 to 1, such as 0.01`);
    return Number(v);
  }

  private buckets(option: string): number {
    const v = this.value(option, 'a number from 1 to 256');
    if (!INTEGER.test(v) || Number(v) < 1) this.bad(v, 'is not a number of buckets; allowed: a number from 1 to 256');
    return Number(v);
  }

  private scheduler(option: string): Scheduler {
    const v = this.value(option, `a scheduler type; allowed: ${SCHEDULERS_ALLOWED}`);
    const s = SCHEDULER_NAMES.get(v.toLowerCase());
    if (s === undefined) this.bad(v, `is not a scheduler type picowire has; allowed: ${SCHEDULERS_ALLOWED}`);
    return s;
  }

  /** `mask` and one or more `field value` pairs, or `all`; ends at the first word that is not a mask field. */
  private mask(option: string): Mask {
    const mask: Mask = {};
    let fields = 0;
    for (;;) {
      const field = this.peek();
      if (field === undefined) break;
      if (field === 'all') {
        this.next();
        Object.assign(mask, MASK_ALL);
        fields++;
        continue;
      }
      const key = MASK_FIELDS.get(field);
      if (key === undefined) break;
      this.next();
      if (key === 'srcIp6' || key === 'dstIp6') {
        // dummynet reads an IPv6 mask as a prefix length, with or without its slash
        const v = this.value(field, `a mask value; allowed: ${MASK6_VALUES}`);
        const m = /^\/?(\d{1,3})$/.exec(v);
        if (!m || Number(m[1]) < 1 || Number(m[1]) > 128) this.bad(v, `is not a mask value for ${field}; allowed: ${MASK6_VALUES}`);
        mask[key] = Number(m[1]);
        fields++;
        continue;
      }
      const v = this.value(field, `a mask value; allowed: ${MASK_VALUES}`);
      if (!/^(?:0x[0-9a-f]+|\d+|\/\d+|\d+\.\d+\.\d+\.\d+)$/i.test(v)) this.bad(v, `is not a mask value for ${field}; allowed: ${MASK_VALUES}`);
      mask[key] = v;
      fields++;
    }
    if (fields === 0) {
      const after = this.peek();
      if (after === undefined) this.fail(`${option} needs one or more fields; allowed: ${MASK_ALLOWED}`);
      this.bad(after, `is not a mask field; allowed: ${MASK_ALLOWED}`);
    }
    return mask;
  }

  // ---- rules ----

  private add(): void {
    let number: number | undefined;
    if (this.peek() !== undefined && INTEGER.test(this.peek()!)) number = this.ruleNumber(this.next()!);
    let prob: number | undefined;
    if (this.peek() === 'set') this.bad('set', 'is not supported: picowire has no rule sets');
    if (this.peek() === 'prob') prob = this.probability(this.next()!, 'a match probability');

    const actionWord = this.next();
    if (actionWord === undefined) this.fail(`add needs an action; allowed: ${ACTIONS_ALLOWED}`);
    const rule: Rule = { number: 0 };
    if (actionWord === 'pipe' || actionWord === 'queue') {
      rule.action = actionWord;
      rule[actionWord] = this.objectNumber(actionWord, this.next());
    } else if (ALLOW_WORDS.has(actionWord)) {
      rule.action = 'allow';
    } else if (DENY_WORDS.has(actionWord)) {
      rule.action = 'deny';
    } else {
      this.bad(actionWord, `is not a supported action; allowed: ${ACTIONS_ALLOWED}`);
    }
    if (this.peek() === 'log') this.bad('log', 'is not supported: picowire does not log packets');

    const m = this.body();
    if (prob !== undefined && m.prob !== undefined) this.bad('prob', 'is given twice');
    prob ??= m.prob;

    const conditions = { ...m.match, ...(prob !== undefined && { prob }) };
    if (number === 65535 && Object.keys(conditions).length === 0 && (rule.action === 'allow' || rule.action === 'deny')) {
      this.state.default = rule.action; // ipfw's default rule: what formatIpfw writes for `default`
      return;
    }
    number ??= this.state.nextNumber();
    if (number > 65535) this.fail(`no rule number is left after ${number - 100} (ipfw's autoincrement adds 100); give the rule a number`);
    this.state.addRule({ ...rule, number, ...conditions }, this);
  }

  /** A rule's body: `[proto] [from SRC [ports]] [to DST [ports]] [options]`, options in any order. */
  private body(): { match: Omit<Rule, 'number' | 'action' | 'pipe' | 'queue' | 'prob'>; prob?: number } {
    const match: Omit<Rule, 'number' | 'action' | 'pipe' | 'queue' | 'prob'> = {};
    let prob: number | undefined;
    let direction: Direction | undefined;
    const setOnce = <K extends keyof typeof match>(key: K, word: string, value: (typeof match)[K] | undefined) => {
      if (key in match) this.bad(word, `is given twice (or contradicts from/to): write each condition once`);
      if (value !== undefined) match[key] = value;
      else match[key] = undefined; // remembered as given ("any"), removed below
    };
    const setDirection = (from: 'a' | 'b', words: string) => {
      if (direction && direction.from !== from) {
        this.fail(`"${words}" contradicts "${direction.words}": ${direction.words} means from ${direction.from}, ${words} means from ${from} (out and recv a/xmit b: from a; in and recv b/xmit a: from b)`);
      }
      direction = { from, words };
    };

    // the protocol, when the body starts with one (`tcp from ...`, or the short form `udp dst-port 53`)
    // (a word right before `from` is taken as the protocol, so an unknown one is named as such)
    const first = this.peek();
    if (first !== undefined && FAMILY_WORDS.has(first.toLowerCase())) {
      // `ip6 from any to any`: IPv6 packets, any protocol (ipfw's ip6, ip4)
      this.next();
      match.family = FAMILY_WORDS.get(first.toLowerCase())!;
    } else if (first !== undefined && !RULE_WORDS.has(first) && (isProtocolWord(first) || first.startsWith('{') || this.peek(1) === 'from')) {
      this.next();
      setOnce('proto', first, this.protocol(first));
    }
    while (this.peek() !== undefined) {
      const word = this.next()!;
      switch (word) {
        case 'from':
        case 'to': {
          const addr = this.address(word);
          setOnce(word === 'from' ? 'src' : 'dst', word, addr);
          // ports written right after the address: `from any 22 to any 1000-2000`
          const p = this.peek();
          if (p !== undefined && /^[\d,-]+$/.test(p)) {
            this.next();
            setOnce(word === 'from' ? 'srcPort' : 'dstPort', p, this.ports(p));
          }
          break;
        }
        case 'src-ip':
        case 'dst-ip':
        case 'src-ip6':
        case 'dst-ip6':
        case 'src-ipv6':
        case 'dst-ipv6':
          setOnce(word.startsWith('src') ? 'src' : 'dst', word, this.address(word));
          break;
        case 'src-port':
        case 'dst-port': {
          const p = this.value(word, `ports; allowed: ${PORTS_ALLOWED}`);
          setOnce(word === 'src-port' ? 'srcPort' : 'dstPort', word, this.ports(p));
          break;
        }
        case 'proto': {
          const p = this.value(word, `a protocol; allowed: ${PROTOCOLS_ALLOWED}`);
          const family = FAMILY_WORDS.get(p.toLowerCase());
          if (family !== undefined) {
            if (match.family !== undefined && match.family !== family) this.bad(p, `contradicts ${match.family}: a packet is IPv4 or IPv6, not both`);
            match.family = family;
            break;
          }
          setOnce('proto', word, this.protocol(p));
          break;
        }
        case 'in':
          setDirection('b', 'in');
          break;
        case 'out':
          setDirection('a', 'out');
          break;
        case 'recv':
        case 'xmit':
        case 'via': {
          const port = this.value(word, `a bridge port; allowed: ${PORTS_OF_BRIDGE}`);
          if (port !== 'a' && port !== 'b') this.bad(port, `is not a port of the bridge; allowed: ${PORTS_OF_BRIDGE}`);
          const other = port === 'a' ? 'b' : 'a';
          setDirection(word === 'xmit' ? other : port, `${word} ${port}`);
          break;
        }
        case 'ip4':
        case 'ipv4':
        case 'ip6':
        case 'ipv6': {
          // as an option after the addresses: `tcp from any to any ip6`
          const family = FAMILY_WORDS.get(word)!;
          if (match.family !== undefined && match.family !== family) this.bad(word, `contradicts ${match.family}: a packet is IPv4 or IPv6, not both`);
          match.family = family;
          break;
        }
        case 'mac': {
          // ipfw's order, as on the wire: destination first, then source
          const allowed = `two Ethernet addresses, destination then source, each "any" or six hex bytes such as 02:70:77:00:00:01, optionally /bits`;
          const dst = this.value(word, allowed);
          const src = this.value(word, allowed);
          for (const [key, mac] of [['dstMac', dst], ['srcMac', src]] as const) {
            if (mac === 'any') continue;
            if (!/^[0-9a-f]{1,2}(?::[0-9a-f]{1,2}){5}(?:\/\d{1,2})?$/i.test(mac)) this.bad(mac, `is not an Ethernet address; allowed: ${allowed}`);
            setOnce(key, word, mac);
          }
          break;
        }
        case 'mac-type': {
          const v = this.value(word, 'Ethernet types: a number, a name (arp, ip, ipv6, vlan, ...), a range or a list');
          const items = v.split(',');
          setOnce('macType', word, items.length === 1 ? items[0]! : items);
          break;
        }
        case 'layer2':
          match.l2 = true; // every frame, ARP too; without it a rule sees IP packets only, as ipfw's do
          break;
        case 'prob':
          if (prob !== undefined) this.bad(word, 'is given twice');
          prob = this.probability(word, 'a match probability');
          break;
        default:
          if (NOOP_RULE_OPTIONS.has(word)) break;
          if (STATEFUL.has(word)) this.bad(word, `is not supported: picowire's rules are stateless (no keep-state, setup, established, limit); allowed: ${RULE_OPTIONS}`);
          if (isProtocolWord(word)) this.bad(word, `is not expected here: the protocol comes first, right after the action, or as "proto ${word}"`);
          this.bad(word, `is not a supported rule option; allowed: ${RULE_OPTIONS}`);
      }
    }
    if (direction) match.from = direction.from;
    for (const k of Object.keys(match) as (keyof typeof match)[]) if (match[k] === undefined) delete match[k];
    return { match: orderRule(match), ...(prob !== undefined && { prob }) };
  }

  /** A protocol: a name or number, `{ tcp or udp }` for several; `ip`/`all` mean any (undefined). */
  private protocol(word: string): Rule['proto'] {
    if (word.startsWith('{')) {
      const inner = word.replace(/^\{|\}$/g, '').trim();
      const items = inner.split(/\s+or\s+|\s*,\s*|\s+/).filter((w) => w !== '' && w !== 'or');
      if (!word.endsWith('}') || items.length === 0) this.bad(word, `is not a protocol list; allowed: { tcp or udp }, of ${PROTOCOLS_ALLOWED}`);
      const list = items.map((p) => this.oneProtocol(p));
      if (list.some((p) => p === undefined)) return undefined; // `{ ip or tcp }` is any
      return list.length === 1 ? list[0] : (list as Protocol[]);
    }
    return this.oneProtocol(word);
  }

  private oneProtocol(word: string): Protocol | undefined {
    const w = word.toLowerCase();
    if (FAMILY_WORDS.has(w)) this.bad(word, `cannot be part of a protocol list: write "${w}" alone before from, or as an option after the addresses (tcp from any to any ${w})`);
    if (w === 'ip' || w === 'all') return undefined;
    if (INTEGER.test(w)) {
      if (Number(w) > 255) this.bad(word, `is not a protocol; allowed: ${PROTOCOLS_ALLOWED}`);
      return Number(w);
    }
    const name = PROTOCOLS.find((p) => p === w);
    if (name === undefined) this.bad(word, `is not a protocol picowire knows; allowed: ${PROTOCOLS_ALLOWED}`);
    return name;
  }

  /** An address after from/to/src-ip/dst-ip: `any` (undefined), one, a list, or `not` one of these. */
  private address(option: string): Rule['src'] | undefined {
    let word = this.value(option, `an address; allowed: ${ADDRESS_ALLOWED}`);
    let negated = false;
    if (word === 'not') {
      negated = true;
      word = this.value('not', `an address; allowed: ${ADDRESS_ALLOWED}`);
    }
    if (word === 'any') {
      if (negated) this.bad('not any', 'matches nothing; write an address after not');
      return undefined;
    }
    if (word === 'me' || word === 'me6') {
      this.bad(word, `is not supported: the appliance is a bridge and has no address in the path; write the addresses of the hosts; allowed: ${ADDRESS_ALLOWED}`);
    }
    if (word.startsWith('table(') || word.startsWith('table ')) this.bad(word, `is not supported: picowire has no ipfw tables; allowed: ${ADDRESS_ALLOWED}`);
    let items: string[];
    if (word.startsWith('{')) {
      if (!word.endsWith('}')) this.bad(word, `is not an address list; allowed: ${ADDRESS_ALLOWED}`);
      items = word
        .slice(1, -1)
        .split(/\s+or\s+|\s*,\s*|\s+/)
        .filter((w) => w !== '' && w !== 'or');
    } else {
      items = word.split(',');
    }
    if (items.length === 0) this.bad(word, `is not an address; allowed: ${ADDRESS_ALLOWED}`);
    for (const item of items) if (!isAddress(item)) this.bad(item, `is not an address; allowed: ${ADDRESS_ALLOWED}`);
    const value = items.length === 1 ? items[0]! : items;
    return negated ? { not: value } : value;
  }

  /** A port list: 22, 2000-3000, 22,53,1000-2000, or `any` (undefined). */
  private ports(word: string): Rule['dstPort'] | undefined {
    if (word === 'any') return undefined; // the seed's `dst-port any`: no port condition
    const items = word.split(',').map((item): number | string => {
      const m = /^(\d+)(?:-(\d+))?$/.exec(item);
      const lo = m ? Number(m[1]) : NaN;
      const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
      if (!m || lo > 65535 || hi > 65535) this.bad(item, `is not a port; allowed: ${PORTS_ALLOWED}, ports from 0 to 65535 (numbers, not service names)`);
      if (hi < lo) this.bad(item, `is not a port range: ${lo} is above ${hi}; allowed: ${PORTS_ALLOWED}`);
      return m[2] === undefined ? lo : `${lo}-${hi}`;
    });
    return items.length === 1 ? items[0]! : items;
  }
}

function isProtocolWord(word: string): boolean {
  const w = word.toLowerCase();
  return w === 'ip' || w === 'all' || (PROTOCOLS as readonly string[]).includes(w) || (INTEGER.test(w) && Number(w) <= 255);
}

/** An IPv4 or IPv6 address, with an optional prefix length. */
function isAddress(text: string): boolean {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text);
  if (!m) return false;
  const [, addr, len] = m;
  if (isIPv4(addr!)) return len === undefined || Number(len) <= 32;
  if (isIPv6(addr!)) return len === undefined || Number(len) <= 128;
  return false;
}

function succeeds(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

/** A pipe's keys in the schema's order, so profiles print the same however they were written. */
function order(pipe: Pipe): Pipe {
  const keys: (keyof Pipe)[] = ['bw', 'delay', 'delayProfile', 'plr', 'queue', 'burst', 'scheduler', 'mask', 'buckets', 'aqm', 'fq'];
  const out: Record<string, unknown> = {};
  for (const k of keys) if (pipe[k] !== undefined) out[k] = pipe[k];
  return out as Pipe;
}

function orderRule<T extends Partial<Rule>>(rule: T): T {
  const keys: (keyof Rule)[] = ['from', 'family', 'proto', 'src', 'dst', 'srcPort', 'dstPort', 'dstMac', 'srcMac', 'macType', 'l2'];
  const out: Record<string, unknown> = {};
  for (const k of keys) if (rule[k] !== undefined) out[k] = rule[k];
  return out as T;
}
