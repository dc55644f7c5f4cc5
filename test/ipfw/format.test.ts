import test from 'ava';
import { formatIpfw, parseIpfw } from '../../src/ipfw/index.ts';
import type { Aqm, Pipe, Profile, Rule } from '../../src/profile/schema.ts';
import { resolveProfile } from '../../src/profile/resolve.ts';
import { validateProfile } from '../../src/profile/validate.ts';
import { random } from '../helpers/random.ts';
import { SEED_2_2, SEED_2_3 } from '../helpers/seed.ts';


test('seed 2.2 is written back one command a line, in the full from/to form', (t) => {
  t.is(
    formatIpfw(parseIpfw(SEED_2_2, 'seed-2-2')),
    `# picowire profile "seed-2-2"
ipfw pipe 10 config bw 256Kbit/s delay 20ms
ipfw pipe 11 config bw 4Mbit/s delay 5ms
ipfw add 100 pipe 10 ip from any to any dst-port 2000-3000 out
ipfw add 200 pipe 11 ip from any to any src-port 2000-3000 in
ipfw add 300 allow ip from any to any
`,
  );
});

test('seed 2.3 is written back with the scheduler as dummynet\'s `type`', (t) => {
  t.is(
    formatIpfw(parseIpfw(SEED_2_3, 'seed-2-3')),
    `# picowire profile "seed-2-3"
ipfw pipe 5 config bw 1Mbit/s type qfq mask src-ip 0xffffff00
ipfw queue 1 config pipe 5 weight 10 mask src-ip 0xfffffff
ipfw queue 2 config pipe 5 weight 4 mask src-ip 0xffffffff
ipfw add 100 queue 1 ip from any to any dst-port 22,53 in
ipfw add 200 queue 2 ip from any to any in
`,
  );
});

const NAMED: Profile = {
  name: 'wan-asym',
  pipes: {
    up: { bw: '256 Kbit/s', delay: '20ms', jitter: '5ms', loss: { model: 'gilbert-elliott', p: 0.01, r: 0.5 } },
    down: { bw: '4Mbit/s', delay: 5, plr: 0.01, queue: 50, reorder: 0.1, overhead: 24 },
    '2': { delay: 100, duplicate: 0.01, corrupt: 0.001, delayProfile: { samples: [{ prob: 1, delay: 10 }] } },
  },
  queues: { ssh: { pipe: 'up', weight: 10 } },
  rules: [
    { from: 'a', pipe: 'up' },
    { from: 'b', pipe: 'down', proto: ['tcp', 'udp'], src: { not: ['10.0.0.1', '10.0.0.2'] } },
    { queue: 'ssh', dstPort: 22 },
    { action: 'allow' },
  ],
  default: 'deny',
};

test('names become free numbers with a comment each; what ipfw cannot say is a comment; default deny is rule 65535', (t) => {
  t.is(
    formatIpfw(NAMED),
    `# picowire profile "wan-asym"
# pipe 1 = "up"
# pipe 3 = "down"
# queue 1 = "ssh"
ipfw pipe 2 config delay 100
# picowire: pipe 2 delayProfile not expressible in ipfw
# picowire: pipe 2 duplicate not expressible in ipfw
# picowire: pipe 2 corrupt not expressible in ipfw
ipfw pipe 1 config bw 256Kbit/s delay 20ms
# picowire: pipe 1 jitter not expressible in ipfw
# picowire: pipe 1 loss not expressible in ipfw
ipfw pipe 3 config bw 4Mbit/s delay 5 plr 0.01 queue 50
# picowire: pipe 3 reorder not expressible in ipfw
# picowire: pipe 3 overhead not expressible in ipfw
ipfw queue 1 config pipe 1 weight 10
ipfw add 100 pipe 1 ip from any to any out
ipfw add 200 pipe 3 { tcp or udp } from not 10.0.0.1,10.0.0.2 to any in
ipfw add 300 queue 1 ip from any to any dst-port 22
ipfw add 400 allow ip from any to any
ipfw add 65535 deny ip from any to any
`,
  );
});

test('reading the written text back gives the profile, names restored from the mapping comments, without what ipfw cannot say', (t) => {
  t.deepEqual(parseIpfw(formatIpfw(NAMED), 'wan-asym'), {
    name: 'wan-asym',
    pipes: { up: { bw: '256Kbit/s', delay: '20ms' }, '2': { delay: 100 }, down: { bw: '4Mbit/s', delay: 5, plr: 0.01, queue: 50 } },
    queues: { ssh: { pipe: 'up', weight: 10 } },
    rules: [
      { number: 100, action: 'pipe', pipe: 'up', from: 'a' },
      { number: 200, action: 'pipe', pipe: 'down', from: 'b', proto: ['tcp', 'udp'], src: { not: ['10.0.0.1', '10.0.0.2'] } },
      { number: 300, action: 'queue', queue: 'ssh', dstPort: 22 },
      { number: 400, action: 'allow' },
    ],
    default: 'deny',
  });
});

test('default allow writes nothing: it is ipfw\'s own default', (t) => {
  t.is(formatIpfw({ name: 'open', pipes: {}, rules: [], default: 'allow' }), '# picowire profile "open"\n');
  t.is(formatIpfw({ name: 'shut', pipes: {}, rules: [], default: 'deny' }), '# picowire profile "shut"\nipfw add 65535 deny ip from any to any\n');
});

test('a renamed pipe does not take a number already used by a numbered one', (t) => {
  const text = formatIpfw({ name: 'x', pipes: { '1': {}, a: {}, '3': {}, b: {} }, rules: [{ number: 100, action: 'pipe', pipe: 'b' }] });
  t.is(
    text,
    `# picowire profile "x"
# pipe 2 = "a"
# pipe 4 = "b"
ipfw pipe 1 config
ipfw pipe 3 config
ipfw pipe 2 config
ipfw pipe 4 config
ipfw add 100 pipe 4 ip from any to any
`,
  );
});

// Profiles made only of what ipfw says, written the way parseIpfw writes them: each comes back exactly.
const EXPRESSIBLE: Profile[] = [
  { name: 'empty', pipes: {}, rules: [] },
  parseIpfw(SEED_2_2, 'seed-2-2'),
  parseIpfw(SEED_2_3, 'seed-2-3'),
  {
    name: 'everything',
    pipes: {
      '1': { bw: '10Mbit/s', delay: '25ms', plr: 0.001, queue: '64KB', burst: '32KB', scheduler: 'wf2q+', mask: { dstIp: '0xffffff00', proto: '0xff' }, buckets: 64 },
      '2': { bw: 2000000, delay: 40, queue: 100, burst: 1514, scheduler: 'fq_codel' },
      '3': { delay: '1.5s', plr: 1 },
      '700': { bw: '1GByte/s', scheduler: 'prio', mask: { srcIp: '0xffffffff', dstIp: '0xffffffff', srcPort: '0xffff', dstPort: '0xffff', proto: '0xff' } },
    },
    queues: {
      '1': { pipe: '700', weight: 100, queue: 10, mask: { srcPort: '0xffff' }, buckets: 8 },
      '9': { pipe: '700', weight: 1 },
      '10': { pipe: '1' },
    },
    rules: [
      { number: 5, action: 'deny', proto: 'icmp', src: '198.18.0.66' },
      { number: 10, action: 'pipe', pipe: '1', from: 'a', proto: 'tcp', src: ['198.18.0.0/24', '198.18.1.0/24'], dstPort: [80, 443, '8000-8080'], prob: 0.5 },
      { number: 20, action: 'pipe', pipe: '2', from: 'b', proto: ['udp', 'sctp', 17], dst: { not: '2001:db8::/32' }, srcPort: '1000-2000' },
      { number: 20, action: 'pipe', pipe: '3', proto: 47 },
      { number: 30, action: 'queue', queue: '1', src: { not: ['10.0.0.1', '10.0.0.2'] }, dst: '10.1.0.0/16', srcPort: 53, dstPort: 53 },
      { number: 40, action: 'queue', queue: '9', from: 'a' },
      { number: 50, action: 'queue', queue: '10', proto: 'ipv6-icmp' },
      { number: 60000, action: 'allow', from: 'b' },
      { number: 65535, action: 'deny', proto: 'udp' },
    ],
    default: 'deny',
  },
  {
    name: 'ipv6',
    pipes: {
      '1': { bw: '10Mbit/s', delay: '20ms', mask: { srcIp6: 128 }, buckets: 8 },
      '2': { bw: '1Mbit/s', mask: { srcIp: '0xffffff00', dstIp6: 64, flowId: '0xfffff' } },
    },
    queues: { '3': { pipe: '2', weight: 5, mask: { srcIp6: 48, srcPort: '0xffff' } } },
    rules: [
      { number: 1000, action: 'pipe', pipe: '1', family: 'ip6' },
      { number: 1100, action: 'pipe', pipe: '1', from: 'a', family: 'ip6', proto: 'tcp', src: '2001:2::/48', dstPort: 80 },
      { number: 1200, action: 'pipe', pipe: '2', proto: 'icmp6', dst: { not: ['2001:2::1', '2001:2::2'] } },
      { number: 1300, action: 'queue', queue: '3', family: 'ip4' },
      { number: 1400, action: 'pipe', pipe: '2', family: 'ip4', proto: ['udp', 'tcp'], l2: true },
      { number: 1500, action: 'pipe', pipe: '2', dstMac: '02:70:77:00:00:00/24', macType: ['arp', '0x8100-0x8101'], l2: true },
      { number: 1600, action: 'deny', srcMac: '02:70:77:00:00:01', l2: true },
    ],
  },
];

for (const p of EXPRESSIBLE) {
  test(`round trip: parseIpfw(formatIpfw(p)) is p — ${p.name}`, (t) => {
    t.deepEqual(parseIpfw(formatIpfw(p), p.name), p);
    t.true(validateProfile(p).ok, JSON.stringify(validateProfile(p)));
  });
}

// Texts in many spellings: after one parse and format, the text and the profile no longer change.
const TEXTS = [
  SEED_2_2,
  SEED_2_3,
  `/sbin/ipfw -q flush
/sbin/ipfw -q pipe flush
pipe 1 config bw 1 Mbit/s delay 20 queue 64 Kbytes plr 0.01
sched 1 config type rr mask all
pipe 2 config bandwidth 100Kbit/s delay 5 ms
queue 3 config sched 2 weight 7 flow_mask src-port 0xffff
add prob 0.2 pipe 1 tcp from 198.18.0.0/24 22 to any 1000-2000 out
add queue 3 { udp or tcp } from any to { 10.0.0.1 , 10.0.0.2 } recv b
add 1000 deny ip from not 10.0.0.0/8 to any xmit b
add 65535 deny ip from any to any`,
];

for (const [i, text] of TEXTS.entries()) {
  test(`stable: parse → format → parse gives the same profile and text (${i + 1})`, (t) => {
    const once = parseIpfw(text, 'stable');
    const written = formatIpfw(once);
    const twice = parseIpfw(written, 'stable');
    t.deepEqual(twice, once);
    t.is(formatIpfw(twice), written);
  });
}


/** Queue management as a profile may say it, and so ipfw (values as written, each parameter in ipfw's words). */
const AQM_RED: Aqm[] = [{ type: 'red', wq: 0.002, minTh: 30, maxTh: 80, maxP: 0.1 }, { type: 'gred', wq: 1, minTh: 5, maxTh: 15, maxP: 0.5, ecn: true }];
const AQM_CODEL: Aqm[] = [{ type: 'codel' }, { type: 'codel', target: '8ms', interval: '160ms', ecn: true }, { type: 'codel', target: 5, ecn: false }, { type: 'codel', interval: '1s' }];
const AQM_PIE: Aqm[] = [
  { type: 'pie' },
  { type: 'pie', target: '20ms', tupdate: '30ms', ecn: true },
  { type: 'pie', alpha: 0.25, beta: 1.5, maxBurst: '150ms', maxEcnth: 0.1, ecn: false, capdrop: true, derand: false, onoff: true, estimator: 'ts' },
  { type: 'pie', estimator: 'dre', capdrop: false, derand: true },
];

test('round trip of queue management on queues: the aqm comes back as written', (t) => {
  for (const aqm of [...AQM_RED, ...AQM_CODEL, ...AQM_PIE, { type: 'droptail' } as Aqm]) {
    const p: Profile = { name: 'q', pipes: { '1': { bw: '1Mbit/s' } }, queues: { '2': { pipe: '1', weight: 5, aqm } }, rules: [{ number: 100, action: 'queue', queue: '2' }] };
    t.deepEqual(parseIpfw(formatIpfw(p), 'q'), p, formatIpfw(p));
  }
});

test('round trip on generated profiles of what ipfw expresses', (t) => {
  const next = random(1995);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const maybe = <T>(v: () => T): T | undefined => (next() < 0.5 ? v() : undefined);
  for (let i = 0; i < 300; i++) {
    const pipes: Record<string, Pipe> = {};
    const nPipes = 1 + Math.floor(next() * 4);
    for (let n = 0; n < nPipes; n++) {
      const pipe: Pipe = {
        bw: maybe(() => pick(['1Mbit/s', '256Kbit/s', 8000, '2GByte/s', '100Mbps'] as const)),
        delay: maybe(() => pick([0, 20, '20ms', '500us', '1.5s'] as const)),
        plr: maybe(() => pick([0, 0.01, 0.5, 1])),
        queue: maybe(() => pick([50, '64KB', '1MB'] as const)),
        burst: maybe(() => pick([1514, '32KB'] as const)),
        scheduler: maybe(() => pick(['fifo', 'rr', 'drr', 'prio', 'qfq', 'wf2q+', 'fq_codel', 'fq_pie'] as const)),
        mask: maybe(() => pick([{ srcIp: '0xffffff00' }, { dstIp: '0xffffffff', dstPort: '0xffff' }, { proto: '0xff' }, { srcIp6: 64 }, { dstIp6: 128, flowId: '0xfffff', proto: '0xff' }])),
        buckets: maybe(() => pick([1, 16, 256])),
      };
      // queue management: an fq scheduler's flows take its codel or pie (with one parameter at least: alone it is the default), others any
      if (pipe.scheduler === 'fq_codel' || pipe.scheduler === 'fq_pie') {
        pipe.aqm = maybe(() => (pipe.scheduler === 'fq_codel' ? pick(AQM_CODEL.slice(1)) : pick(AQM_PIE.slice(1))));
        pipe.fq = maybe(() => pick([{ quantum: 3000 }, { limit: 1000, flows: 256 }, { quantum: 1514, limit: 20480, flows: 65536 }]));
      } else pipe.aqm = maybe(() => pick([...AQM_RED, ...AQM_CODEL, ...AQM_PIE, { type: 'droptail' }]));
      for (const k of Object.keys(pipe) as (keyof Pipe)[]) if (pipe[k] === undefined) delete pipe[k];
      pipes[String(1 + Math.floor(next() * 20))] = pipe;
    }
    const pipeNames = Object.keys(pipes);
    const rules: Rule[] = [];
    let number = 0;
    const nRules = Math.floor(next() * 6);
    for (let r = 0; r < nRules; r++) {
      number += 1 + Math.floor(next() * 300);
      const action = pick(['pipe', 'allow', 'deny'] as const);
      const rule: Rule = {
        number,
        action,
        pipe: action === 'pipe' ? pick(pipeNames) : undefined,
        from: maybe(() => pick(['a', 'b'] as const)),
        family: maybe(() => pick(['ip4', 'ip6'] as const)),
        proto: maybe(() => pick(['tcp', 'udp', 6, ['tcp', 'udp'], 'ipv6-icmp', 'icmp6'] as const) as Rule['proto']),
        src: maybe(() => pick(['198.18.0.0/24', ['10.0.0.1', '10.0.0.2'], { not: '10.0.0.0/8' }, '2001:2::/48', ['2001:2::1', '2001:2::2']] as const) as Rule['src']),
        dst: maybe(() => pick(['2001:db8::1', { not: ['198.18.0.1', '198.18.0.2'] }] as const) as Rule['dst']),
        srcPort: maybe(() => pick([22, '1000-2000', [22, 53]] as const) as Rule['srcPort']),
        dstPort: maybe(() => pick([443, [80, '8000-8080']] as const) as Rule['dstPort']),
        prob: maybe(() => pick([0.1, 0.5])),
      };
      for (const k of Object.keys(rule) as (keyof Rule)[]) if (rule[k] === undefined) delete rule[k];
      rules.push(rule);
    }
    const p: Profile = { name: `generated-${i}`, pipes, rules, ...(next() < 0.3 && { default: 'deny' as const }) };
    t.deepEqual(parseIpfw(formatIpfw(p), p.name), p, formatIpfw(p));
  }
});

test('700 rules without numbers are numbered as ipfw add numbers them: +100 while below 65435, then the last number again', (t) => {
  const profile: Profile = { name: 'many', pipes: { p: { delay: '1ms' } }, rules: Array.from({ length: 700 }, (_, i): Rule => ({ pipe: 'p', dstPort: 1000 + i })) };
  const numbers = formatIpfw(profile).match(/^ipfw add \d+/gm)!.map((l) => Number(l.split(' ')[2]));
  t.is(numbers.length, 700);
  t.deepEqual(numbers.slice(0, 2), [100, 200]);
  t.is(numbers[653], 65400);
  t.deepEqual(numbers.slice(654), Array(46).fill(65500));
  // the planner numbers them the same, so a profile and its ipfw form order the rules alike
  const { profile: resolved, errors } = resolveProfile(profile);
  t.deepEqual(errors, []);
  t.deepEqual(resolved.rules.map((r) => r.number), numbers);
  t.deepEqual(parseIpfw(formatIpfw(profile), 'many').rules!.map((r) => r.number), numbers);
});
