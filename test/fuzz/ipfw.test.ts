// Fuzz test of the ipfw parser (issue 4): thousands of generated ipfw texts — random sequences of
// ipfw words (commands, options, sched names, addresses, CIDRs, ports, units, garbage, unicode)
// joined by spaces, newlines and continuations; commands generated from ipfw's grammar; and the
// seed paper's lines (sections 2.2-2.3) mutated by dropping, duplicating, swapping and inserting
// words. What must hold: parseIpfw returns a profile or throws a UserError whose message starts
// with "line " (never a TypeError, RangeError or other error); a returned profile goes through
// validateProfile without a throw, and when valid through the planner and back through
// formatIpfw/parseIpfw; no call takes more than CALL_LIMIT_MS of CPU time (a hang or a ReDoS shows there).
//
// Reproducible: every property runs with a fixed seed (SEED below). To replay a failure, fast-check
// prints `{ seed, path }`: add `path: '...'` next to `seed` in that property's runProperty options
// (test/fuzz/helpers.ts), or change SEED to explore other inputs. Run: npx ava test/fuzz/ipfw.test.ts
import test from 'ava';
import fc from 'fast-check';
import { parseIpfw } from '../../src/ipfw/index.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { brief, checkAccepted, checkedValidate, expectUserError, runProperty, timed } from './helpers.ts';

const SEED = 20240605;
/** Cases per property. */
const RUNS = { tokens: 4000, grammar: 4000, seeds: 3000 };

// The seed's lines, as test/ipfw/parse.test.ts copies them from the paper, and a few more in the same spirit.
const SEED_TEXTS = [
  'ipfw pipe 10 config bw 256 Kbit/s delay 20ms\nipfw pipe 11 config bw 4 Mbit/s delay 5ms',
  'ipfw add 100 pipe 10 out dst-port 2000-3000 ipfw add 200 pipe 11 in src-port 2000-3000',
  'ipfw add 300 allow ip from any to any',
  'ipfw pipe 5 config sched qfq mask src-ip 0xffffff00 bw 1 Mbit/s',
  'ipfw queue 1 config pipe 5 weight 10 mask src-ip 0xfffffff ipfw queue 2 config pipe 5 weight 4 mask src-ip 0xffffffff',
  'ipfw add 100 queue 1 in dst-port 22,53 ipfw add 200 queue 2 in dst-port any',
  'ipfw pipe 1 config bw 1Mbit/s delay 10 plr 0.01 queue 50 burst 64KB noerror',
  'ipfw sched 1 config type prio mask dst-ip 0xffffff00 buckets 16',
  'ipfw add 400 prob 0.5 pipe 1 tcp from 198.18.0.0/24 to not 10.0.0.0/8 1000-2000,3000 out',
  'ipfw add 500 pipe 1 { tcp or udp } from { 198.18.0.1, 198.18.0.2 } to 2001:db8::/32 dst-port 80,443 recv a',
  'sudo ipfw -q flush\n/sbin/ipfw pipe flush\nipfw add 65535 deny ip from any to any # default',
  'ipfw pipe 2 config \\\n  bw 2 Mbit/s \\\n  delay 1.5 s\r\nipfw add 600 pipe 2 udp from any 53 to any xmit b layer2 bridged',
  'dnctl pipe 1 config bw 500Kbit/s queue 100 red 0.002/30/80/0.1 ecn',
  'dnctl queue 1 config pipe 1 codel target 8ms interval 160ms ecn',
  'dnctl queue 2 config pipe 1 pie target 20ms tupdate 30ms alpha 0.125 beta 1.25 max_burst 150ms max_ecnth 0.1 noecn capdrop drand dre',
  'dnctl sched 1 config pipe 1 type fq_codel target 10ms interval 100ms noecn quantum 1514 limit 10240 flows 1024',
  'dnctl sched 2 config pipe 2 type fq_pie target 15ms tupdate 15ms ecn ts quantum 3000',
];

const VOCABULARY = [
  'ipfw', '/sbin/ipfw', 'sudo', '-q', '-f', '-x', 'add', 'delete', 'flush', 'enable', 'disable', 'firewall', 'pipe', 'queue', 'sched', 'config',
  'bw', 'bandwidth', 'delay', 'plr', 'mask', 'sched_mask', 'flow_mask', 'all', 'src-ip', 'dst-ip', 'src-port', 'dst-port', 'proto', 'src-ip6',
  'flow-id', 'weight', 'buckets', 'type', 'burst', 'noerror', 'profile', 'red', 'codel', 'fifo', 'rr', 'drr', 'prio', 'qfq', 'wf2q+', 'wf2qp',
  'fq_codel', 'QFQ', 'from', 'to', 'any', 'not', 'me', 'me6', 'table(1)', 'in', 'out', 'recv', 'xmit', 'via', 'a', 'b', 'c', 'em0', 'tcp', 'udp',
  'ip', 'all', 'icmp', 'ipv6-icmp', 'icmp6', 'ip6', 'ipv6', 'ip4', 'ipv4', 'dst-ip6', 'src-ipv6', 'sctp', 'udplite', 'gre', 'esp', 'ah', '6', '17', '256', '{', '}', 'or', '{tcp', 'udp}', '{ tcp or udp }',
  'prob', 'allow', 'accept', 'pass', 'permit', 'deny', 'drop', 'reject', 'count', 'log', 'set', 'keep-state', 'setup', 'established', 'layer2',
  'bridged', 'droptail', 'gred', 'ecn', 'noecn', 'pie', 'fq_pie', 'target', 'interval', 'tupdate', 'alpha', 'beta', 'max_burst', 'max_ecnth',
  'capdrop', 'nocapdrop', 'drand', 'nodrand', 'onoff', 'dre', 'ts', 'quantum', 'limit', 'flows', '0.002/30/80/0.1', '1/2/3', 'dnctl', '#', '# comment', '\\', 'Kbit/s', 'Mbit/s', 'Gbit/s', 'bit/s', 'KByte/s', 'Kbps', 'ms', 's', 'us', 'KB', 'MB', 'packets', 'slots',
];
const NUMBERS = ['0', '1', '5', '10', '11', '50', '100', '255', '256', '1000', '65535', '65536', '99999999999999999999', '0.01', '0.5', '1.5', '1e3', '1e400', '.5', '1.', '-1', '00001', '1e-400'];
const MASKS = ['0xffffff00', '0xffffffff', '0xfffffff', '0xffff', '0xff', '0x0', '0x', '0xg', '/24', '/0', '/33', '255.255.255.0', '256.0.0.0', '1.2.3'];
const ADDRESSES = [
  '198.18.0.1', '198.18.0.0/24', '10.0.0.0/8', '0.0.0.0/0', '198.18.0.1/33', '256.1.1.1', '2001:db8::/32', '2001:db8::1', '::', '::ffff:1.2.3.4',
  '2001:db8::/129', '198.18.0.1,198.18.0.2', '{198.18.0.1,198.18.0.2}', '{', '198.18.0.1,', ',', 'example.com', 'localhost',
];
const PORTS = ['22', '53', '22,53', '2000-3000', '3000-2000', '0-65535', '65536', '1-', '-1', ',', '22,,53', 'http', '1000-2000,3000'];
const UNITS = ['256Kbit/s', '4Mbit/s', '1Gbit/s', '100Gbit/s', '512KByte/s', '10Mbps', '20ms', '1.5s', '500us', '64KB', '1MB', '1514B', '4furlongs', '10Mbit/sec', 'Mbit/s'];
const GARBAGE = ['', '😀', 'ü', 'ﬁ', '\u0000', '\u200b', '\u2028', '\u00a0', '$(rm -rf /)', '"', "'", '`', '\\\\', '%s', '__proto__', 'constructor', 'toString'];

const word = fc.oneof(
  { arbitrary: fc.constantFrom(...VOCABULARY), weight: 6 },
  { arbitrary: fc.constantFrom(...NUMBERS), weight: 3 },
  { arbitrary: fc.constantFrom(...MASKS), weight: 1 },
  { arbitrary: fc.constantFrom(...ADDRESSES), weight: 2 },
  { arbitrary: fc.constantFrom(...PORTS), weight: 1 },
  { arbitrary: fc.constantFrom(...UNITS), weight: 2 },
  { arbitrary: fc.constantFrom(...GARBAGE), weight: 1 },
  { arbitrary: fc.nat({ max: 70000 }).map(String), weight: 1 },
  { arbitrary: fc.ipV4(), weight: 1 },
  { arbitrary: fc.ipV6(), weight: 1 },
  { arbitrary: fc.string({ maxLength: 8 }), weight: 1 },
  { arbitrary: fc.string({ maxLength: 8, unit: 'binary' }), weight: 1 },
);
const separator = fc.oneof(
  { arbitrary: fc.constant(' '), weight: 10 },
  { arbitrary: fc.constantFrom('\n', '  ', '\t', ' \\\n', '\r\n', '\r', ' # x\n', '\n\n', '\f', '\u00a0', '\u2028'), weight: 2 },
);

/** Words and the separators after them, as one text. */
const join = (parts: [string, string][]) => parts.map(([w, s]) => w + s).join('');
const tokenText = fc.array(fc.tuple(word, separator), { maxLength: 40 }).map(join);

// ---- commands from ipfw's grammar, so that many texts parse and go on to the validator ---------------

/** Mostly a valid value, sometimes a wrong one. */
const mostly = <T>(valid: fc.Arbitrary<T>, wrong: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 9 }, { arbitrary: wrong, weight: 1 });

/** Pipe, queue and rule numbers: mostly 1-3, so rules and queues often name what another command configured. */
const num = mostly(fc.integer({ min: 1, max: 3 }).map(String), fc.constantFrom('100', '65535', '0', '65536', '007'));
const bwWords = mostly(
  fc.oneof(fc.constantFrom('256Kbit/s', '4Mbit/s', '1Gbit/s', '512KByte/s', '10Mbps', '256 Kbit/s', '4 Mbit/s', '1000000'), fc.integer({ min: 1, max: 999 }).map((n) => `${n}Kbit/s`)),
  fc.constantFrom('100Gbit/s', '8', '4furlongs', 'Mbit/s', '1e400'),
);
const delayWords = mostly(fc.oneof(fc.constantFrom('20ms', '5', '1.5 s', '500us', '0'), fc.integer({ min: 0, max: 999 }).map((n) => `${n}ms`)), fc.constantFrom('10001', 'soon', '-1'));
const queueWords = mostly(fc.constantFrom('50', '64KB', '100 packets', '1MB'), fc.constantFrom('0', '1.5', '1000B'));
const maskValue = mostly(fc.constantFrom('0xffffff00', '0xffffffff', '/24', '/16', '255.255.255.0', '0xff', '0xffff'), fc.constantFrom(...MASKS));
const maskWords = fc
  .array(fc.tuple(fc.constantFrom('src-ip', 'dst-ip', 'src-port', 'dst-port', 'proto'), maskValue), { minLength: 1, maxLength: 3 })
  .map((fields) => ['mask', ...fields.flat()].join(' '));
const schedName = fc.constantFrom('fifo', 'rr', 'drr', 'prio', 'qfq', 'wf2q+', 'wf2qp', 'fq_codel', 'fq_pie');
/** Queue management, last on a pipe's or queue's line as ipfw wants it (every word after codel or pie is theirs). */
const timeWords = mostly(fc.constantFrom('5ms', '100ms', '15', '1s', '500us', '8 ms'), fc.constantFrom('0', 'soon', '11s'));
const codelWords = fc.array(fc.oneof(timeWords.map((v) => `target ${v}`), timeWords.map((v) => `interval ${v}`), fc.constantFrom('ecn', 'noecn')), { maxLength: 3 });
const pieWords = fc.array(
  fc.oneof(
    timeWords.map((v) => `target ${v}`),
    timeWords.map((v) => `tupdate ${v}`),
    mostly(fc.constantFrom('0.125', '1.25', '2', '0'), fc.constantFrom('3', '8', 'x')).map((v) => `alpha ${v}`),
    mostly(fc.constantFrom('0.125', '1.25', '2'), fc.constantFrom('7', '-1')).map((v) => `beta ${v}`),
    mostly(fc.constantFrom('150ms', '150'), fc.constantFrom('100ms', '10s')).map((v) => `max_burst ${v}`),
    mostly(fc.constantFrom('0.1'), fc.constantFrom('0.2', '2')).map((v) => `max_ecnth ${v}`),
    fc.constantFrom('ecn', 'noecn', 'capdrop', 'nocapdrop', 'drand', 'nodrand', 'onoff', 'dre', 'ts'),
  ),
  { maxLength: 4 },
);
const fqWords = fc.array(fc.oneof(fc.constantFrom('1514', '3000', '9001').map((v) => `quantum ${v}`), fc.constantFrom('1000', '20480', '0').map((v) => `limit ${v}`), fc.constantFrom('1024', '16', '70000').map((v) => `flows ${v}`)), { maxLength: 2 });
const aqmWords = fc.oneof(
  fc.constant('droptail'),
  fc.tuple(fc.constantFrom('red', 'gred'), mostly(fc.constantFrom('0.002/30/80/0.1', '0.5/2/10/1', '1/5/40/0.02'), fc.constantFrom('0.002/30/80', '2/1/1/1', '0/0/0/0')), fc.boolean()).map(([r, v, e]) => `${r} ${v}${e ? ' ecn' : ''}`),
  codelWords.map((w) => ['codel', ...w].join(' ')),
  pieWords.map((w) => ['pie', ...w].join(' ')),
);
const fqSched = fc.oneof(
  fc.tuple(codelWords, fqWords).map(([a, f]) => ['type fq_codel', ...a, ...f].join(' ')),
  fc.tuple(pieWords, fqWords).map(([a, f]) => ['type fq_pie', ...a, ...f].join(' ')),
);
const buckets = mostly(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 300 })).map((n) => `buckets ${n}`);
const pipeOption = fc.oneof(
  bwWords.map((v) => `bw ${v}`),
  delayWords.map((v) => `delay ${v}`),
  mostly(fc.constantFrom('0', '0.01', '0.5', '1'), fc.constantFrom('1.5', '-0.1')).map((v) => `plr ${v}`),
  queueWords.map((v) => `queue ${v}`),
  fc.constantFrom('64KB', '65536', '1514', '1MB').map((v) => `burst ${v}`),
  maskWords,
  fc.constantFrom('mask all'),
  buckets,
  schedName.map((s) => `type ${s}`),
  schedName.map((s) => `sched ${s}`),
  fc.constant('noerror'),
);
const queueOption = fc.oneof(
  mostly(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 120 })).map((n) => `weight ${n}`),
  queueWords.map((v) => `queue ${v}`),
  maskWords,
  buckets,
);
const validPorts = fc.constantFrom('22', '53', '22,53', '2000-3000', '1000-2000,3000', '0-65535');
const ports = mostly(validPorts, fc.constantFrom(...PORTS));
const address = mostly(
  fc.oneof(fc.constantFrom('any', '198.18.0.1', '198.18.0.0/24', '10.0.0.0/8', '2001:db8::/32', '198.18.0.1,198.18.0.2', 'not 198.18.0.0/24', '{ 198.18.0.1 or 198.18.0.2 }'), fc.ipV4()),
  fc.constantFrom(...ADDRESSES, 'not any', 'me'),
);
const ruleOption = fc.oneof(
  fc.constantFrom('in', 'out', 'recv a', 'recv b', 'xmit a', 'xmit b', 'via a', 'via b', 'layer2', 'bridged'),
  fc.oneof(ports, fc.constant('any')).map((p) => `dst-port ${p}`),
  ports.map((p) => `src-port ${p}`),
  fc.constantFrom('tcp', 'udp', 'sctp', '6').map((p) => `proto ${p}`),
  address.map((a) => `src-ip ${a}`),
  address.map((a) => `dst-ip ${a}`),
  fc.constantFrom('0.25', '1', '0').map((p) => `prob ${p}`),
);
const action = fc.oneof(num.map((n) => `pipe ${n}`), num.map((n) => `queue ${n}`), mostly(fc.constantFrom('allow', 'deny', 'pass', 'drop'), fc.constantFrom('count', 'skipto', 'fwd')));
const command = fc.oneof(
  fc.tuple(num, fc.array(pipeOption, { maxLength: 5 }), fc.option(fc.oneof(aqmWords, fqSched), { nil: undefined })).map(([n, o, a]) => `pipe ${n} config ${[...o, a ?? ''].join(' ')}`),
  fc.tuple(num, mostly(fc.constantFrom('pipe', 'sched'), fc.constant('')), num, fc.array(queueOption, { maxLength: 4 }), fc.option(aqmWords, { nil: undefined })).map(([n, kw, p, o, a]) => `queue ${n} config ${kw} ${p} ${[...o, a ?? ''].join(' ')}`),
  fc.tuple(num, fc.array(fc.oneof(schedName.map((s) => `type ${s}`), maskWords, buckets), { maxLength: 3 })).map(([n, o]) => `sched ${n} config ${o.join(' ')}`),
  fc.tuple(num, mostly(fc.constant(true), fc.constant(false)), fqSched).map(([n, own, f]) => `sched ${n} config pipe ${own ? n : Number(n) + 1} ${f}`),
  fc
    .record(
      {
        number: num,
        prob: fc.constantFrom('0.5', '0.01', '1'),
        action,
        proto: fc.constantFrom('ip', 'tcp', 'udp', 'all', '{ tcp or udp }', 'icmp', '17'),
        from: fc.tuple(address, fc.option(ports, { nil: undefined })),
        to: fc.tuple(address, fc.option(ports, { nil: undefined })),
        options: fc.array(ruleOption, { maxLength: 3 }),
      },
      { requiredKeys: ['action', 'options'] },
    )
    .map(({ number, prob, action: a, proto, from, to, options }) =>
      [
        'add',
        number,
        prob && `prob ${prob}`,
        a,
        proto,
        from && `from ${from[0]}${from[1] ? ` ${from[1]}` : ''}`,
        to && `to ${to[0]}${to[1] ? ` ${to[1]}` : ''}`,
        ...options,
      ]
        .filter((w) => w !== undefined)
        .join(' '),
    ),
  fc.constantFrom('flush', 'pipe flush', 'queue 1 delete', 'pipe 2 delete', 'delete 100', 'delete 100 200', 'enable firewall', 'disable one_pass'),
);
const grammarText = fc
  .array(fc.tuple(fc.constantFrom('ipfw ', '', '/sbin/ipfw -q ', 'sudo ipfw '), command, fc.constantFrom('\n', ' ', '\n# note\n', ' \\\n')), { maxLength: 8 })
  .map((cmds) => cmds.map(([prefix, c, end]) => prefix + c + end).join(''));

// ---- mutations of word lists ---------------------------------------------------------------------

type WordEdit = { op: 'drop' | 'duplicate' | 'swap' | 'insert'; at: number; to: number; word: string };
const wordEdit: fc.Arbitrary<WordEdit> = fc.record({ op: fc.constantFrom('drop', 'duplicate', 'swap', 'insert'), at: fc.nat(), to: fc.nat(), word });

function edit(words: string[], edits: WordEdit[]): string[] {
  const out = [...words];
  for (const e of edits) {
    const i = out.length ? e.at % out.length : 0;
    const j = out.length ? e.to % out.length : 0;
    if (e.op === 'drop') out.splice(i, 1);
    else if (e.op === 'duplicate' && out.length) out.splice(i, 0, out[i]!);
    else if (e.op === 'swap' && out.length) [out[i], out[j]] = [out[j]!, out[i]!];
    else if (e.op === 'insert') out.splice(i, 0, e.word);
  }
  return out;
}

const seedText = fc
  .tuple(fc.subarray(SEED_TEXTS, { minLength: 1 }), fc.array(wordEdit, { maxLength: 4 }), fc.array(separator, { minLength: 1, maxLength: 8 }))
  .map(([texts, edits, seps]) => edit(texts.join('\n').split(/ /), edits).map((w, i) => w + (i % 7 === 3 ? seps[i % seps.length] : ' ')).join(''));
const grammarMutated = fc
  .tuple(grammarText, fc.array(wordEdit, { minLength: 1, maxLength: 3 }))
  .map(([text, edits]) => edit(text.split(' '), edits).join(' '));

// ---- the property ------------------------------------------------------------------------------

/** What must hold for any text: a profile, or a UserError naming its line; a profile goes on through the validator (and, if valid, the planner). */
function checkText(text: string): 'parsed' | 'refused' {
  let profile: Profile;
  try {
    profile = timed('parseIpfw', text, () => parseIpfw(text));
  } catch (e) {
    const message = expectUserError(e, 'parseIpfw', text);
    if (!message.startsWith('line ')) throw new Error(`parseIpfw's message does not start with "line ": ${brief(message)} for ${brief(text)}`);
    return 'refused';
  }
  const r = checkedValidate(profile);
  if (r.ok) checkAccepted(r.value);
  return 'parsed';
}

/** Runs checkText on every text a property generates, counting how many parsed. */
function property(t: import('ava').ExecutionContext, label: string, texts: fc.Arbitrary<string>, seed: number, numRuns: number): void {
  const counts = { parsed: 0, refused: 0 };
  runProperty(t, label, fc.property(texts, (text) => void counts[checkText(text)]++), { seed, numRuns });
  t.log(`${label}: ${counts.parsed} parsed, ${counts.refused} refused`);
}

test('random sequences of ipfw words: a profile or a UserError naming the line', (t) => {
  property(t, 'word sequences', tokenText, SEED, RUNS.tokens);
  t.pass();
});

test('commands from the ipfw grammar, as written and mutated: a profile or a UserError naming the line', (t) => {
  const counts = { parsed: 0, refused: 0 };
  runProperty(t, 'grammar', fc.property(grammarText, (text) => void counts[checkText(text)]++), { seed: SEED + 1, numRuns: RUNS.grammar });
  t.log(`grammar: ${counts.parsed} parsed, ${counts.refused} refused`);
  // the grammar must make texts that parse, or this test says little about what comes after the parser
  t.true(counts.parsed > (counts.parsed + counts.refused) / 5, `${counts.parsed} parsed, ${counts.refused} refused`);
  property(t, 'grammar, mutated', grammarMutated, SEED + 2, RUNS.grammar);
});

test('the seed paper\'s lines, mutated: a profile or a UserError naming the line', (t) => {
  property(t, 'mutated seed lines', seedText, SEED + 3, RUNS.seeds);
  t.pass();
});

test('long inputs: 10k-character words, 10k-word lines and 1000-line texts are judged quickly', (t) => {
  const n = 10_000;
  const texts = [
    'x'.repeat(n),
    `pipe 1 config bw ${'1'.repeat(n)}Mbit/s`,
    `pipe 1 config bw 1${'.'.repeat(n)}`,
    `pipe 1 config delay ${'9'.repeat(n)}ms`,
    `pipe 1 config bw 1 ${'x'.repeat(n)}`,
    `pipe 1 config mask src-ip 0x${'f'.repeat(n)}`,
    `pipe 1 config\nadd 100 pipe 1 ip from ${'198.18.0.1,'.repeat(n / 11)}198.18.0.1 to any`,
    `pipe 1 config\nadd 100 pipe 1 ip from any to any dst-port ${'22,'.repeat(n / 3)}22`,
    `pipe 1 config\nadd 100 pipe 1 { ${'tcp or '.repeat(n / 7)}udp } from any to any`,
    `pipe 1 config\nadd 100 pipe 1 ip from { ${'198.18.0.1 '.repeat(n)}`, // a brace never closed
    `pipe 1 config\nadd 100 pipe 1 ${'{ '.repeat(n)}`,
    `add 100 allow ip from any to any ${'in '.repeat(n)}`,
    `add 100 allow ip from any to any ${'layer2 '.repeat(n)}`,
    `pipe 1 config ${'bw 1Mbit/s '.repeat(n / 10)}`,
    `pipe 1 config ${'mask src-ip 0xff '.repeat(n / 16)}`,
    `${'ipfw '.repeat(n)}`,
    `${'sudo '.repeat(n)}ipfw flush`,
    `${'-q '.repeat(n)}flush`,
    `${'/a'.repeat(n)}/ipfw flush`,
    `${'/'.repeat(n)}ipfw`,
    `${'\\\n'.repeat(n)}flush`,
    `${' \\ '.repeat(n)}`,
    `${' '.repeat(n)}#${' '.repeat(n)}x`,
    `${'# '.repeat(n)}`,
    `${'\n'.repeat(n)}flush x`,
    `${'\r'.repeat(n)}`,
    Array.from({ length: 1000 }, (_, i) => `ipfw pipe ${i + 1} config bw ${i + 1}Mbit/s delay ${i % 100}ms`).join('\n'),
    Array.from({ length: 1000 }, (_, i) => `ipfw add ${i + 1} pipe 1 tcp from 198.18.${i >> 8}.${i & 255} to any dst-port ${i}`).join('\n') + '\nipfw pipe 1 config bw 1Mbit/s',
    `pipe 1 config bw 1Mbit/s\n${'add pipe 1 ip from any to any\n'.repeat(1000)}`,
    `pipe 1 config bw 1Mbit/s\n${Array.from({ length: 1000 }, (_, i) => `queue ${i + 1} config pipe 1 weight ${(i % 100) + 1}`).join('\n')}`,
    `${'delete 100 '.repeat(1000)}`,
    `${'add 100 allow ip from any to any\n'.repeat(1000)}${'delete 100\n'.repeat(1000)}`,
    'add 65500 allow ip from any to any\nadd allow ip from any to any',
  ];
  for (const text of texts) {
    try {
      checkText(text);
    } catch (e) {
      t.fail(`${(e as Error).message}\ninput: ${brief(text)}`);
    }
  }
  t.pass();
});

test('parseIpfw refuses text that is not a string with a UserError', (t) => {
  for (const value of [undefined, null, 42, {}, [], Buffer.from('flush')]) {
    const e = t.throws(() => parseIpfw(value as unknown as string));
    t.true(e instanceof Error && expectUserError(e, 'parseIpfw', value).length > 0);
  }
});
