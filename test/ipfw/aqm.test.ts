// ipfw/dnctl's queue management words, as FreeBSD 14's ipfw(8) documents them (its AQM examples
// verbatim), into the profile's aqm and fq; and what is refused, naming the word and why.
import test from 'ava';
import { formatIpfw, parseIpfw } from '../../src/ipfw/index.ts';
import { UserError } from '../../src/common/errors.ts';
import { validateProfile } from '../../src/profile/validate.ts';

const parsed = (text: string) => parseIpfw(text, 'aqm');

test("ipfw(8)'s AQM examples read as written, and validate", (t) => {
  const examples: [string, object][] = [
    ['dnctl pipe 1 config bw 1mbits/s codel\nipfw add 100 pipe 1 ip from 192.168.0.0/24 to any', { pipes: { '1': { bw: '1mbits/s', aqm: { type: 'codel' } } } }],
    [
      'dnctl pipe 1 config bw 1mbits/s\ndnctl queue 1 config pipe 1 codel target 8ms interval 160ms ecn\nipfw add 100 queue 1 ip from 192.168.0.0/24 to any',
      { pipes: { '1': { bw: '1mbits/s' } }, queues: { '1': { pipe: '1', aqm: { type: 'codel', target: '8ms', interval: '160ms', ecn: true } } } },
    ],
    ['dnctl pipe 1 config bw 1mbits/s pie\nipfw add 100 pipe 1 ip from 192.168.0.0/24 to any', { pipes: { '1': { bw: '1mbits/s', aqm: { type: 'pie' } } } }],
    [
      'dnctl pipe 1 config bw 1mbits/s\ndnctl queue 1 config pipe 1 pie target 20ms tupdate 30ms ecn\nipfw add 100 queue 1 ip from 192.168.0.0/24 to any',
      { pipes: { '1': { bw: '1mbits/s' } }, queues: { '1': { pipe: '1', aqm: { type: 'pie', target: '20ms', tupdate: '30ms', ecn: true } } } },
    ],
    [
      'dnctl pipe 1 config bw 1mbits/s\ndnctl sched 1 config pipe 1 type fq_codel\ndnctl queue 1 config sched 1\nipfw add 100 queue 1 ip from 192.168.0.0/24 to any\ndnctl sched 1 config pipe 1 type fq_codel target 10ms noecn',
      { pipes: { '1': { bw: '1mbits/s', scheduler: 'fq_codel', aqm: { type: 'codel', target: '10ms', ecn: false } } }, queues: { '1': { pipe: '1' } } },
    ],
    [
      'dnctl pipe 1 config bw 1mbits/s\ndnctl sched 1 config pipe 1 type fq_pie\ndnctl queue 1 config sched 1\nipfw add 100 queue 1 ip from 192.168.0.0/24 to any',
      { pipes: { '1': { bw: '1mbits/s', scheduler: 'fq_pie' } }, queues: { '1': { pipe: '1' } } },
    ],
    ['ipfw add pipe 1 ip from any to any\ndnctl pipe 1 config bw 500Kbit/s queue 100 red 0.002/30/80/0.1', { pipes: { '1': { bw: '500Kbit/s', queue: 100, aqm: { type: 'red', wq: 0.002, minTh: 30, maxTh: 80, maxP: 0.1 } } } }],
  ];
  for (const [text, expected] of examples) {
    const p = parsed(text);
    t.like(p, expected, text);
    t.deepEqual(validateProfile(p).ok ? [] : (validateProfile(p) as { errors: string[] }).errors, [], text);
    t.deepEqual(parsed(formatIpfw(p)), p, `written back: ${formatIpfw(p)}`);
  }
});

test('a pipe reconfigured keeps its fq scheduler and its parameters, as dummynet keeps the scheduler', (t) => {
  const p = parsed('ipfw sched 1 config type fq_pie target 5ms quantum 3000 flows 64\nipfw pipe 1 config bw 2Mbit/s');
  t.deepEqual(p.pipes['1'], { bw: '2Mbit/s', scheduler: 'fq_pie', aqm: { type: 'pie', target: '5ms' }, fq: { quantum: 3000, flows: 64 } });
});

test('refused, naming the word and why', (t) => {
  const refusals: [string, RegExp][] = [
    ['ipfw pipe 1 config bw 1Mbit/s ecn', /"ecn" alone marks nothing: it is red's and gred's flag/],
    ['ipfw pipe 1 config bw 1Mbit/s codel tupdate 5ms', /"tupdate" is not one of codel's parameters \(it is pie's\)/],
    ['ipfw pipe 1 config bw 1Mbit/s pie interval 5ms', /"interval" is not one of pie's parameters \(it is codel's\)/],
    ['ipfw pipe 1 config bw 1Mbit/s red 0.002/30/80', /"0\.002\/30\/80" is not red's parameters; allowed: w_q\/min_th\/max_th\/max_p/],
    ['ipfw pipe 1 config bw 1Mbit/s codel pie', /"pie" is a second queue management for one queue \(it has codel already\)/],
    ['ipfw sched 1 config pipe 2 type fq_codel', /"2" is not this scheduler's pipe: in dummynet scheduler 1 serves pipe 1/],
    ['ipfw sched 1 config type fq_codel\nipfw pipe 1 config bw 1Mbit/s pie', /pipe 1's scheduler is fq_codel, which manages its flows itself/],
    ['ipfw pipe 1 config bw 1Mbit/s fq_codel', /"fq_codel" is a scheduler type: write "type fq_codel"/],
    ['ipfw pipe 1 config bw 1Mbit/s target 5ms', /"target" belongs to codel, pie, fq_codel or fq_pie and comes after that word/],
    ['ipfw pipe 1 config bw 1Mbit/s pie alpha 8', /"8" is not pie's alpha; allowed: a number from 0 to 7/],
  ];
  for (const [text, message] of refusals) {
    const e = t.throws(() => parsed(text), { instanceOf: UserError }, text);
    t.regex(e?.message ?? '', message, text);
  }
  // read, then refused by the tc engine with its reason
  const gred = validateProfile(parsed('ipfw pipe 1 config bw 1Mbit/s gred 0.002/5/15/0.1'));
  t.false(gred.ok);
  t.regex(gred.ok ? '' : gred.errors.join('\n'), /profile\.pipes\[1\]\.aqm\.type: "gred" \(gentle RED\) cannot be honoured by the tc engine/);
});
