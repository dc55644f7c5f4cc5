import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { parseIpfw } from '../../src/ipfw/index.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { validateProfile } from '../../src/profile/validate.ts';
import { random } from '../helpers/random.ts';
import { SEED_2_2_BYPASS, SEED_2_2_PIPES, SEED_2_2_RULES, SEED_2_3_PIPE, SEED_2_3_QUEUES, SEED_2_3_RULES } from '../helpers/seed.ts';


/** The message of the UserError parseIpfw throws for `text`. */
function errorOf(text: string): string {
  try {
    parseIpfw(text);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return e.message;
  }
  throw new Error(`expected an error for ${JSON.stringify(text)}`);
}

/** A profile with pipe 1 configured and the given rule lines: the rules it parses to. */
function rulesOf(...lines: string[]): Profile['rules'] {
  return parseIpfw(['ipfw pipe 1 config bw 1Mbit/s', ...lines].join('\n')).rules;
}

test('seed 2.2: two pipes model an asymmetric link', (t) => {
  const p = parseIpfw(SEED_2_2_PIPES);
  // pipe "10" is 256 Kbit/s with 20 ms of delay, pipe "11" is 4 Mbit/s with 5 ms; keys are the numbers as text
  t.deepEqual(p, {
    name: 'ipfw',
    pipes: { '10': { bw: '256Kbit/s', delay: '20ms' }, '11': { bw: '4Mbit/s', delay: '5ms' } },
    rules: [],
  });
});

test('seed 2.2: the whole example, with the two rules run together on one line', (t) => {
  const p = parseIpfw([SEED_2_2_PIPES, SEED_2_2_RULES, SEED_2_2_BYPASS].join('\n\n'), 'seed-2-2');
  t.deepEqual(p, {
    name: 'seed-2-2',
    pipes: { '10': { bw: '256Kbit/s', delay: '20ms' }, '11': { bw: '4Mbit/s', delay: '5ms' } },
    rules: [
      // out = leaving the hosts under test = entering the bridge on port a; short form = ip from any to any
      { number: 100, action: 'pipe', pipe: '10', from: 'a', dstPort: '2000-3000' },
      // in = coming to the hosts = entering on port b
      { number: 200, action: 'pipe', pipe: '11', from: 'b', srcPort: '2000-3000' },
      // the bypass rule is kept: everything else crosses unshaped
      { number: 300, action: 'allow' },
    ],
  });
  t.true(validateProfile(p).ok, JSON.stringify(validateProfile(p)));
});

test('seed 2.3: a QFQ shaper of 1 Mbit/s per /24, two weighted classes per host', (t) => {
  const p = parseIpfw([SEED_2_3_PIPE, SEED_2_3_QUEUES, SEED_2_3_RULES].join('\n'), 'seed-2-3');
  t.deepEqual(p, {
    name: 'seed-2-3',
    // one pipe per /24 source subnet, driven by QFQ (the seed's `sched qfq`)
    pipes: { '5': { bw: '1Mbit/s', scheduler: 'qfq', mask: { srcIp: '0xffffff00' } } },
    queues: {
      // the seed's mask has seven f's; it is kept as written, the validator judges it
      '1': { pipe: '5', weight: 10, mask: { srcIp: '0xfffffff' } },
      '2': { pipe: '5', weight: 4, mask: { srcIp: '0xffffffff' } },
    },
    rules: [
      // ssh and DNS towards the hosts go to the heavier queue
      { number: 100, action: 'queue', queue: '1', from: 'b', dstPort: [22, 53] },
      // `dst-port any` is no port condition at all: everything else towards the hosts
      { number: 200, action: 'queue', queue: '2', from: 'b' },
    ],
  });
  t.true(validateProfile(p).ok, JSON.stringify(validateProfile(p)));
});

test('the name defaults to "ipfw"; an empty text is an empty profile', (t) => {
  t.deepEqual(parseIpfw(''), { name: 'ipfw', pipes: {}, rules: [] });
  t.deepEqual(parseIpfw('\n  # nothing but comments\n\n', 'x'), { name: 'x', pipes: {}, rules: [] });
});

test('lines with or without ipfw, /sbin/ipfw, sudo, flags, comments and continuations read the same', (t) => {
  const expected = parseIpfw('ipfw pipe 1 config bw 1Mbit/s delay 10\nipfw add 100 pipe 1 ip from any to any out');
  const variants = [
    'pipe 1 config bw 1Mbit/s delay 10\nadd 100 pipe 1 ip from any to any out',
    '/sbin/ipfw pipe 1 config bw 1Mbit/s delay 10\n/sbin/ipfw add 100 pipe 1 ip from any to any out',
    'sudo ipfw pipe 1 config bw 1Mbit/s delay 10 sudo ipfw add 100 pipe 1 ip from any to any out',
    'ipfw -q pipe 1 config bw 1Mbit/s delay 10\nipfw -q add 100 pipe 1 ip from any to any out',
    '# shaper\n\nipfw pipe 1 config bw 1Mbit/s delay 10   # the link\n\n  ipfw add 100 pipe 1 ip from any to any out # up\n',
    'ipfw pipe 1 config bw 1Mbit/s \\\n  delay 10\nipfw add 100 pipe 1 \\\n ip from any to any out',
    'ipfw pipe 1 config bw 1Mbit/s delay 10\r\nipfw add 100 pipe 1 ip from any to any out\r\n',
    'ipfw -f flush ipfw pipe flush ipfw pipe 1 config bw 1Mbit/s delay 10 ipfw add 100 pipe 1 ip from any to any out',
    'ipfw disable firewall\nipfw pipe 1 config bw 1Mbit/s delay 10\nipfw add 100 pipe 1 ip from any to any out\nipfw enable firewall',
  ];
  for (const v of variants) t.deepEqual(parseIpfw(v), expected, v);
  t.deepEqual(expected.pipes, { '1': { bw: '1Mbit/s', delay: 10 } });
});

test('pipe options: units with or without a space, bare numbers as ipfw reads them', (t) => {
  const pipe = (options: string) => parseIpfw(`ipfw pipe 1 config ${options}`).pipes['1'];
  t.deepEqual(pipe('bw 256 Kbit/s'), { bw: '256Kbit/s' });
  t.deepEqual(pipe('bw 4Mbit/s'), { bw: '4Mbit/s' });
  t.deepEqual(pipe('bandwidth 1 Mbit/s'), { bw: '1Mbit/s' });
  t.deepEqual(pipe('bw 512KByte/s'), { bw: '512KByte/s' });
  t.deepEqual(pipe('bw 1000000'), { bw: 1000000 }); // bit/s
  t.deepEqual(pipe('delay 20'), { delay: 20 }); // ms
  t.deepEqual(pipe('delay 20ms'), { delay: '20ms' });
  t.deepEqual(pipe('delay 1.5 s'), { delay: '1.5s' });
  t.deepEqual(pipe('plr 0.01'), { plr: 0.01 });
  t.deepEqual(pipe('bw 1Mbit/s queue 50'), { bw: '1Mbit/s', queue: 50 });
  t.deepEqual(pipe('bw 1Mbit/s queue 64KB'), { bw: '1Mbit/s', queue: '64KB' });
  t.deepEqual(pipe('bw 1Mbit/s queue 64Kbytes'), { bw: '1Mbit/s', queue: '64Kbytes' });
  t.deepEqual(pipe('bw 1Mbit/s queue 64 KB'), { bw: '1Mbit/s', queue: '64KB' });
  t.deepEqual(pipe('bw 1Mbit/s queue 50 packets'), { bw: '1Mbit/s', queue: 50 });
  t.deepEqual(pipe('bw 1Mbit/s burst 65536'), { bw: '1Mbit/s', burst: 65536 });
  t.deepEqual(pipe('bw 1Mbit/s burst 64KB'), { bw: '1Mbit/s', burst: '64KB' });
  t.deepEqual(pipe('bw 1Mbit/s noerror'), { bw: '1Mbit/s' });
  t.deepEqual(pipe(''), {});
  t.deepEqual(pipe('delay 5 bw 2 Mbit/s plr 0.1 queue 20'), { bw: '2Mbit/s', delay: 5, plr: 0.1, queue: 20 });
});

test('schedulers: sched and type, ipfw names, and sched N config merged into pipe N', (t) => {
  const pipe = (text: string, n = '1') => parseIpfw(text).pipes[n];
  t.deepEqual(pipe('pipe 1 config sched qfq'), { scheduler: 'qfq' });
  t.deepEqual(pipe('pipe 1 config type QFQ'), { scheduler: 'qfq' });
  t.deepEqual(pipe('pipe 1 config type wf2qp'), { scheduler: 'wf2q+' });
  for (const s of ['fifo', 'rr', 'drr', 'prio', 'qfq', 'wf2q+', 'fq_codel']) t.deepEqual(pipe(`pipe 1 config type ${s}`), { scheduler: s as never });
  // a scheduler object configures the scheduler of the pipe with its number, before or after it
  t.deepEqual(pipe('pipe 3 config bw 1Mbit/s\nsched 3 config type prio mask dst-ip 0xffffff00 buckets 16', '3'), {
    bw: '1Mbit/s',
    scheduler: 'prio',
    mask: { dstIp: '0xffffff00' },
    buckets: 16,
  });
  t.deepEqual(pipe('sched 3 config type drr\npipe 3 config bw 1Mbit/s', '3'), { bw: '1Mbit/s', scheduler: 'drr' });
  // a new pipe config replaces the parameters and keeps the scheduler type, as dummynet
  t.deepEqual(pipe('pipe 1 config bw 1Mbit/s delay 10 type qfq\npipe 1 config bw 2Mbit/s'), { bw: '2Mbit/s', scheduler: 'qfq' });
});

test('masks: fields in any order, all, values kept as written', (t) => {
  const mask = (words: string) => parseIpfw(`pipe 1 config ${words} bw 1Mbit/s`).pipes['1']!.mask;
  t.deepEqual(mask('mask src-ip 0xffffff00'), { srcIp: '0xffffff00' });
  t.deepEqual(mask('mask dst-ip 0xffffffff src-port 0xffff dst-port 65535 proto 0xff'), {
    dstIp: '0xffffffff',
    srcPort: '0xffff',
    dstPort: '65535',
    proto: '0xff',
  });
  // dummynet's `mask all` takes IPv6 packets' fields too (src-ip6, dst-ip6 whole, the flow label's 20 bits)
  t.deepEqual(mask('mask all'), { srcIp: '0xffffffff', dstIp: '0xffffffff', srcPort: '0xffff', dstPort: '0xffff', proto: '0xff', srcIp6: 128, dstIp6: 128, flowId: '0xfffff' });
  // IPv6 masks are prefix lengths, with or without the slash (dummynet reads both so)
  t.deepEqual(mask('mask src-ip6 /64 dst-ipv6 48 flow-id 0xfffff'), { srcIp6: 64, dstIp6: 48, flowId: '0xfffff' });
  t.deepEqual(mask('mask src-ip /24'), { srcIp: '/24' });
  t.deepEqual(mask('mask src-ip 255.255.255.0'), { srcIp: '255.255.255.0' });
  t.deepEqual(mask('sched_mask dst-ip 0xfffff000'), { dstIp: '0xfffff000' });
  // a second mask replaces the first, as ipfw clears the mask at each `mask`
  t.deepEqual(mask('mask src-ip 0xff mask dst-ip 0xff'), { dstIp: '0xff' });
});

test('queues: pipe or sched, weight, queue, mask, buckets; a repeated config replaces the queue', (t) => {
  const p = parseIpfw(`pipe 5 config bw 10Mbit/s type wf2q+
queue 1 config pipe 5 weight 30 queue 20 mask dst-ip 0xffffffff buckets 64
queue 2 config sched 5 weight 70 queue 64KB
queue 3 config pipe 5 weight 1
queue 3 config pipe 5 weight 2`);
  t.deepEqual(p.queues, {
    '1': { pipe: '5', weight: 30, queue: 20, mask: { dstIp: '0xffffffff' }, buckets: 64 },
    '2': { pipe: '5', weight: 70, queue: '64KB' },
    '3': { pipe: '5', weight: 2 },
  });
});

test('rules: actions and their synonyms', (t) => {
  t.deepEqual(
    rulesOf(
      'add 10 pipe 1 ip from any to any',
      'add 20 allow ip from any to any',
      'add 30 accept ip from any to any',
      'add 40 pass ip from any to any',
      'add 50 permit ip from any to any',
      'add 60 deny ip from any to any',
      'add 70 drop ip from any to any',
      'add 80 reject ip from any to any',
    ),
    [
      { number: 10, action: 'pipe', pipe: '1' },
      { number: 20, action: 'allow' },
      { number: 30, action: 'allow' },
      { number: 40, action: 'allow' },
      { number: 50, action: 'allow' },
      { number: 60, action: 'deny' },
      { number: 70, action: 'deny' },
      { number: 80, action: 'deny' },
    ],
  );
});

test('rules: numbers as ipfw gives them — autoincrement by 100, kept in order of number', (t) => {
  t.deepEqual(
    rulesOf('add pipe 1 ip from any to any', 'add allow tcp from any to any', 'add 50 deny udp from any to any', 'add allow icmp from any to any', 'add 200 deny ip from any to any'),
    [
      { number: 50, action: 'deny', proto: 'udp' },
      { number: 100, action: 'pipe', pipe: '1' },
      { number: 200, action: 'allow', proto: 'tcp' },
      { number: 200, action: 'deny' }, // equal numbers: in the order added
      { number: 300, action: 'allow', proto: 'icmp' },
    ],
  );
  // flush removes the rules, and numbering starts again at 100; delete removes rules by number
  t.deepEqual(rulesOf('add 500 allow ip from any to any', 'flush', 'add allow ip from any to any'), [{ number: 100, action: 'allow' }]);
  t.deepEqual(rulesOf('add 100 allow tcp from any to any', 'add 200 deny ip from any to any', 'delete 100'), [{ number: 200, action: 'deny' }]);
});

test('rules: the direction convention — out and in, recv, xmit and via the bridge ports', (t) => {
  const from = (words: string) => rulesOf(`add 100 pipe 1 ip from any to any ${words}`)[0]!.from;
  t.is(from('out'), 'a');
  t.is(from('in'), 'b');
  t.is(from('recv a'), 'a');
  t.is(from('via a'), 'a');
  t.is(from('xmit b'), 'a');
  t.is(from('recv b'), 'b');
  t.is(from('via b'), 'b');
  t.is(from('xmit a'), 'b');
  t.is(from('out recv a'), 'a');
  t.is(from('in xmit a'), 'b');
  t.is(from(''), undefined); // both directions
});

test('rules: protocols, addresses, lists, not, and ports inline or as options', (t) => {
  t.deepEqual(
    rulesOf(
      'add 100 pipe 1 tcp from 198.18.0.0/24 to 198.19.0.1 out',
      'add 200 pipe 1 udp from any 53 to any 1000-2000,3000 in',
      'add 300 pipe 1 ip from {198.18.0.1,198.18.0.2} to not 10.0.0.0/8',
      'add 400 pipe 1 all from 198.18.0.1,198.18.0.2 to { 10.0.0.1, 10.0.0.2 }',
      'add 500 pipe 1 { tcp or udp } from any to any dst-port 80,443',
      'add 600 pipe 1 6 from 2001:db8::/32 to any',
      'add 700 pipe 1 dst-ip 198.18.0.0/16 src-port 22 proto sctp',
      'add 800 pipe 1 from any to any dst-port any',
      'add 900 pipe 1 ipv6-icmp from any to not {2001:db8::1,2001:db8::2}',
    ),
    [
      { number: 100, action: 'pipe', pipe: '1', from: 'a', proto: 'tcp', src: '198.18.0.0/24', dst: '198.19.0.1' },
      { number: 200, action: 'pipe', pipe: '1', from: 'b', proto: 'udp', srcPort: 53, dstPort: ['1000-2000', 3000] },
      { number: 300, action: 'pipe', pipe: '1', src: ['198.18.0.1', '198.18.0.2'], dst: { not: '10.0.0.0/8' } },
      { number: 400, action: 'pipe', pipe: '1', src: ['198.18.0.1', '198.18.0.2'], dst: ['10.0.0.1', '10.0.0.2'] },
      { number: 500, action: 'pipe', pipe: '1', proto: ['tcp', 'udp'], dstPort: [80, 443] },
      { number: 600, action: 'pipe', pipe: '1', proto: 6, src: '2001:db8::/32' },
      { number: 700, action: 'pipe', pipe: '1', proto: 'sctp', dst: '198.18.0.0/16', srcPort: 22 },
      { number: 800, action: 'pipe', pipe: '1' },
      { number: 900, action: 'pipe', pipe: '1', proto: 'ipv6-icmp', dst: { not: ['2001:db8::1', '2001:db8::2'] } },
    ],
  );
});

test('rules: prob before the action, as ipfw writes it, or after; layer2 takes every frame (l2), bridged says nothing on a bridge', (t) => {
  t.deepEqual(rulesOf('add 100 prob 0.5 pipe 1 ip from any to any out', 'add 200 pipe 1 ip from any to any prob 0.25 layer2 bridged', 'add 300 pipe 1 layer2 from any to any'), [
    { number: 100, action: 'pipe', pipe: '1', from: 'a', prob: 0.5 },
    { number: 200, action: 'pipe', pipe: '1', l2: true, prob: 0.25 },
    { number: 300, action: 'pipe', pipe: '1', l2: true },
  ]);
});

test('rule 65535 allow/deny ip from any to any is the default, anything else a rule', (t) => {
  const p = parseIpfw('pipe 1 config\nadd 100 pipe 1 ip from any to any out\nadd 65535 deny ip from any to any');
  t.deepEqual(p, { name: 'ipfw', pipes: { '1': {} }, rules: [{ number: 100, action: 'pipe', pipe: '1', from: 'a' }], default: 'deny' });
  t.is(parseIpfw('add 65535 allow ip from any to any').default, 'allow');
  t.deepEqual(parseIpfw('add 65535 deny tcp from any to any').rules, [{ number: 65535, action: 'deny', proto: 'tcp' }]);
});

test('pipe flush removes pipes and queues; pipe and queue delete remove one', (t) => {
  t.deepEqual(parseIpfw('pipe 1 config bw 1Mbit/s\npipe 2 config\nqueue 1 config pipe 1\npipe flush\npipe 3 config delay 5'), {
    name: 'ipfw',
    pipes: { '3': { delay: 5 } },
    rules: [],
  });
  t.deepEqual(parseIpfw('pipe 1 config\npipe 2 config\nqueue 1 config pipe 1\nqueue 1 delete\npipe 2 delete').pipes, { '1': {} });
});

// Bad inputs and the exact message each gives: the line, the command as written, the word at fault, what is allowed.
const BAD: [string, string][] = [
  [
    'ipfw pipe 1 config bw 1Mbit/s\nipfw pipe 1 config delay 5\nipfw pipe 10 config bw fast',
    'line 3: ipfw pipe 10 config bw fast: "fast" is not a bandwidth; allowed: a number and a unit such as 4Mbit/s (bit/s, Kbit/s, Mbit/s, Gbit/s, Byte/s, KByte/s, MByte/s, GByte/s; also bps, Kbps, Mbps, Gbps; B is a byte, b a bit); a bare number is bit/s',
  ],
  [
    'pipe 10 config bw',
    'line 1: pipe 10 config bw: bw needs a bandwidth; allowed: a number and a unit such as 4Mbit/s (bit/s, Kbit/s, Mbit/s, Gbit/s, Byte/s, KByte/s, MByte/s, GByte/s; also bps, Kbps, Mbps, Gbps; B is a byte, b a bit); a bare number is bit/s',
  ],
  [
    'ipfw pipe 10 config bw 4 furlongs',
    'line 1: ipfw pipe 10 config bw 4 furlongs: "4 furlongs" is not a bandwidth; allowed: a number and a unit such as 4Mbit/s (bit/s, Kbit/s, Mbit/s, Gbit/s, Byte/s, KByte/s, MByte/s, GByte/s; also bps, Kbps, Mbps, Gbps; B is a byte, b a bit); a bare number is bit/s',
  ],
  [
    'ipfw pipe 10 config delay soon',
    'line 1: ipfw pipe 10 config delay soon: "soon" is not a delay; allowed: a number of milliseconds, or a number and a unit such as 20ms (us, ms, s; a bare number is milliseconds)',
  ],
  ['ipfw pipe 10 config plr 2', 'line 1: ipfw pipe 10 config plr 2: "2" is not a packet loss rate; allowed: a number from 0 to 1, such as 0.01'],
  [
    'ipfw pipe 10 config queue 1.5',
    'line 1: ipfw pipe 10 config queue 1.5: "1.5" is not a queue size; allowed: a whole number of packets (slots), or a size such as 64KB (B, KB, MB, GB with K = 1024; also KiB, MiB, GiB, bytes)',
  ],
  [
    'ipfw pipe 10 config burst 5 parsecs',
    'line 1: ipfw pipe 10 config burst 5 parsecs: "5 parsecs" is not a size; allowed: a whole number of bytes, or a size such as 64KB (B, KB, MB, GB with K = 1024; also KiB, MiB, GiB, bytes)',
  ],
  ['ipfw pipe 10 config mask', 'line 1: ipfw pipe 10 config mask: mask needs one or more fields; allowed: src-ip, dst-ip, src-ip6, dst-ip6, flow-id, src-port, dst-port, proto, all'],
  ['ipfw pipe 10 config mask bw 1Mbit/s', 'line 1: ipfw pipe 10 config mask bw 1Mbit/s: "bw" is not a mask field; allowed: src-ip, dst-ip, src-ip6, dst-ip6, flow-id, src-port, dst-port, proto, all'],
  [
    'ipfw pipe 10 config mask src-ip fff',
    'line 1: ipfw pipe 10 config mask src-ip fff: "fff" is not a mask value for src-ip; allowed: hex such as 0xffffff00, a decimal number, a prefix length such as /24, or a netmask such as 255.255.255.0',
  ],
  [
    'ipfw pipe 10 config mask src-ip6 /129',
    'line 1: ipfw pipe 10 config mask src-ip6 /129: "/129" is not a mask value for src-ip6; allowed: a prefix length from 1 to 128, such as /64 or 64',
  ],
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 { ip6 or tcp } from any to any',
    'line 2: ipfw add 100 pipe 1 { ip6 or tcp } from any to any: "ip6" cannot be part of a protocol list: write "ip6" alone before from, or as an option after the addresses (tcp from any to any ip6)',
  ],
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 ip4 from any to any ip6',
    'line 2: ipfw add 100 pipe 1 ip4 from any to any ip6: "ip6" contradicts ip4: a packet is IPv4 or IPv6, not both',
  ],
  ['ipfw pipe 10 config buckets 0', 'line 1: ipfw pipe 10 config buckets 0: "0" is not a number of buckets; allowed: a number from 1 to 256'],
  [
    'ipfw pipe 10 config sched cbq',
    'line 1: ipfw pipe 10 config sched cbq: "cbq" is not a scheduler type picowire has; allowed: fifo, rr, drr, prio, qfq, wf2q+ (or wf2qp), fq_codel, fq_pie',
  ],
  [
    'ipfw pipe 10 config profile wifi.txt',
    'line 1: ipfw pipe 10 config profile wifi.txt: profile wifi.txt: the file is not where this text is read (it is read on the box by picowire ipfw there); write the curve as "delayProfile" of the pipe in a JSON profile',
  ],
  [
    'ipfw pipe 10 config weight 10',
    'line 1: ipfw pipe 10 config weight 10: "weight" is not a pipe option (it belongs to a queue: ipfw queue N config pipe 10 weight W); allowed: bw, delay, plr, queue, burst, mask, buckets, sched, type, noerror, profile, droptail, red, gred, ecn, codel, pie',
  ],
  [
    'ipfw pipe 10 config red 0.002/30/80',
    'line 1: ipfw pipe 10 config red 0.002/30/80: "0.002/30/80" is not red\'s parameters; allowed: w_q/min_th/max_th/max_p, such as 0.002/30/80/0.1 (w_q and max_p from 0 to 1, min_th and max_th whole numbers of slots, or bytes when the queue is in bytes)',
  ],
  [
    'ipfw pipe 10 config colour red',
    'line 1: ipfw pipe 10 config colour red: "colour" is not a pipe option; allowed: bw, delay, plr, queue, burst, mask, buckets, sched, type, noerror, profile, droptail, red, gred, ecn, codel, pie',
  ],
  ['ipfw pipe 0 config bw 1Mbit/s', 'line 1: ipfw pipe 0 config bw 1Mbit/s: "0" is not a pipe number; allowed: 1 to 65535'],
  ['ipfw pipe 10 show', 'line 1: ipfw pipe 10 show: "show" is not expected after pipe 10; allowed: config, delete'],
  [
    'ipfw queue 1 config weight 10',
    'line 1: ipfw queue 1 config weight 10: a queue needs "pipe P", the pipe whose scheduler serves it; allowed: pipe, sched, weight, queue, mask, buckets, noerror, droptail, red, gred, ecn, codel, pie',
  ],
  [
    'ipfw queue 1 config pipe 5 plr 0.1',
    'line 1: ipfw queue 1 config pipe 5 plr 0.1: plr is not supported on a queue in picowire; put it on the pipe (ipfw pipe P config plr 0.1)',
  ],
  [
    'ipfw sched 1 config bw 1Mbit/s',
    'line 1: ipfw sched 1 config bw 1Mbit/s: "bw" is not a scheduler option (it belongs to the pipe: ipfw pipe 1 config bw ...); allowed: type, pipe (its own number), mask, buckets',
  ],
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 ip from me to any',
    'line 2: ipfw add 100 pipe 1 ip from me to any: "me" is not supported: the appliance is a bridge and has no address in the path; write the addresses of the hosts; allowed: any, an IPv4 or IPv6 address, a prefix such as 198.18.0.0/24, a list a,b or {a,b}, or not followed by one of these',
  ],
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 ip from any to any recv em0',
    'line 2: ipfw add 100 pipe 1 ip from any to any recv em0: "em0" is not a port of the bridge; allowed: a (the port facing the hosts under test) or b (the port facing the network)',
  ],
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 ip from any to any in recv a',
    'line 2: ipfw add 100 pipe 1 ip from any to any in recv a: "recv a" contradicts "in": in means from b, recv a means from a (out and recv a/xmit b: from a; in and recv b/xmit a: from b)',
  ],
  ...['keep-state', 'setup', 'established'].map((option): [string, string] => [
    `ipfw pipe 1 config\nipfw add 100 pipe 1 tcp from any to any ${option}`,
    `line 2: ipfw add 100 pipe 1 tcp from any to any ${option}: "${option}" is not supported: picowire's rules are stateless (no keep-state, setup, established, limit); allowed: from, to, in, out, recv a|b, xmit a|b, via a|b, src-port, dst-port, proto, src-ip, dst-ip, ip4, ip6, prob, layer2, mac, mac-type`,
  ]),
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 tcp from any to any dst-port http',
    'line 2: ipfw add 100 pipe 1 tcp from any to any dst-port http: "http" is not a port; allowed: a port (22), a range (2000-3000), a list (22,53,1000-2000) or any, ports from 0 to 65535 (numbers, not service names)',
  ],
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 tcp from any to any dst-port 3000-2000',
    'line 2: ipfw add 100 pipe 1 tcp from any to any dst-port 3000-2000: "3000-2000" is not a port range: 3000 is above 2000; allowed: a port (22), a range (2000-3000), a list (22,53,1000-2000) or any',
  ],
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 tcp from example.com to any',
    'line 2: ipfw add 100 pipe 1 tcp from example.com to any: "example.com" is not an address; allowed: any, an IPv4 or IPv6 address, a prefix such as 198.18.0.0/24, a list a,b or {a,b}, or not followed by one of these',
  ],
  ['ipfw pipe 1 config\nipfw add 100 pipe 1 tcp from not any to any', 'line 2: ipfw add 100 pipe 1 tcp from not any to any: "not any" matches nothing; write an address after not'],
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 ipencap from any to any',
    'line 2: ipfw add 100 pipe 1 ipencap from any to any: "ipencap" is not a protocol picowire knows; allowed: ip, all, tcp, udp, icmp, ipv6-icmp, icmp6, sctp, udplite, gre, esp, ah, ip4 (ipv4), ip6 (ipv6), or a protocol number 0-255',
  ],
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 ip from any to any dst-port 80 dst-port 443',
    'line 2: ipfw add 100 pipe 1 ip from any to any dst-port 80 dst-port 443: "dst-port" is given twice (or contradicts from/to): write each condition once',
  ],
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 ip from any to any frag',
    'line 2: ipfw add 100 pipe 1 ip from any to any frag: "frag" is not a supported rule option; allowed: from, to, in, out, recv a|b, xmit a|b, via a|b, src-port, dst-port, proto, src-ip, dst-ip, ip4, ip6, prob, layer2, mac, mac-type',
  ],
  [
    'ipfw add 100 skipto 200 ip from any to any',
    'line 1: ipfw add 100 skipto 200 ip from any to any: "skipto" is not a supported action; allowed: pipe N, queue N, allow (accept, pass, permit), deny (drop, reject)',
  ],
  ['ipfw add 70000 allow ip from any to any', 'line 1: ipfw add 70000 allow ip from any to any: "70000" is not a rule number; allowed: 1 to 65535'],
  ['ipfw add 100 pipe 7 ip from any to any', 'line 1: ipfw add 100 pipe 7 ip from any to any: pipe 7 is not configured; write "ipfw pipe 7 config ..." (no pipes are configured)'],
  [
    'ipfw pipe 5 config\nipfw add 100 queue 3 ip from any to any',
    'line 2: ipfw add 100 queue 3 ip from any to any: queue 3 is not configured; write "ipfw queue 3 config pipe P ..." (no queues are configured)',
  ],
  ['ipfw pipe 2 config\nipfw queue 1 config pipe 9', 'line 2: ipfw queue 1 config pipe 9: pipe 9 is not configured; write "ipfw pipe 9 config ..." (configured pipes: 2)'],
  [
    'ipfw add 65500 allow ip from any to any\nipfw add allow ip from any to any',
    "line 2: ipfw add allow ip from any to any: no rule number is left after 65500 (ipfw's autoincrement adds 100); give the rule a number",
  ],
  ['ipfw -x flush', 'line 1: ipfw -x flush: "-x" is not a supported ipfw flag; allowed: -q, -f'],
  [
    '\n\nipfw',
    'line 3: ipfw: missing command; allowed: add, delete N, flush, pipe N config, queue N config, sched N config, pipe|queue|sched N delete, pipe|queue|sched flush, enable, disable',
  ],
  [
    'ipfw list',
    'line 1: ipfw list: "list" is not a supported ipfw command; allowed: add, delete N, flush, pipe N config, queue N config, sched N config, pipe|queue|sched N delete, pipe|queue|sched flush, enable, disable',
  ],
  [
    'sysctl net.inet.ip.fw.one_pass=0',
    'line 1: sysctl net.inet.ip.fw.one_pass=0: "sysctl" is not a supported ipfw command; allowed: add, delete N, flush, pipe N config, queue N config, sched N config, pipe|queue|sched N delete, pipe|queue|sched flush, enable, disable',
  ],
  ['ipfw flush now', 'line 1: ipfw flush now: "now" is not expected here: the command is complete before it'],
  // the second command of a run-together line is reported as itself, on the line where it is
  [
    'ipfw pipe 1 config\nipfw add 100 pipe 1 out dst-port 2000-3000 ipfw add 200 pipe 1 sideways',
    'line 2: ipfw add 200 pipe 1 sideways: "sideways" is not a supported rule option; allowed: from, to, in, out, recv a|b, xmit a|b, via a|b, src-port, dst-port, proto, src-ip, dst-ip, ip4, ip6, prob, layer2, mac, mac-type',
  ],
];

for (const [text, message] of BAD) {
  test(`refused: ${JSON.stringify(text)}`, (t) => {
    t.is(errorOf(text), message);
  });
}


const VOCABULARY = (
  'ipfw /sbin/ipfw sudo -q -f -x add delete flush pipe queue sched config delete enable disable bw bandwidth delay plr burst ' +
  'mask all src-ip dst-ip src-port dst-port proto buckets type noerror profile weight prob allow deny reject accept pass permit ' +
  'drop skipto count from to any me not in out recv xmit via a b em0 ip tcp udp icmp all keep-state setup established layer2 ' +
  '{ } or , # \\ 0 1 2 5 10 100 65535 65536 0.5 2 -1 1.5e3 256 Kbit/s Mbit/s 4Mbit/s 20ms 64KB 64Kbytes 0xffffff00 0xfffffff /24 ' +
  '198.18.0.0/24 2001:db8::1 {1.2.3.4,5.6.7.8} 22,53 2000-3000 3000-2000 qfq wf2q+ fifo fq_codel __proto__ constructor toString'
).split(' ');

test('random text never crashes: it parses, or throws a UserError naming a line', (t) => {
  const next = random(20140101);
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
  for (let i = 0; i < 5000; i++) {
    const lines: string[] = [];
    const nLines = 1 + Math.floor(next() * 4);
    for (let l = 0; l < nLines; l++) {
      const words: string[] = [];
      const nWords = Math.floor(next() * 12);
      for (let w = 0; w < nWords; w++) {
        const r = next();
        // mostly ipfw's words, sometimes random characters
        words.push(r < 0.85 ? pick(VOCABULARY) : String.fromCharCode(...Array.from({ length: 1 + Math.floor(next() * 5) }, () => 32 + Math.floor(next() * 95))));
      }
      lines.push(words.join(next() < 0.9 ? ' ' : '\t'));
    }
    const text = lines.join('\n');
    try {
      const p = parseIpfw(text);
      t.is(typeof p.name, 'string');
    } catch (e) {
      if (!(e instanceof UserError) || !/^line \d+: /.test(e.message)) t.fail(`${JSON.stringify(text)}: ${(e as Error).stack}`);
    }
  }
  // also the seed's commands with each word dropped in turn
  const seed = [SEED_2_2_PIPES, SEED_2_2_RULES, SEED_2_2_BYPASS, SEED_2_3_PIPE, SEED_2_3_QUEUES].join(' ').split(' ');
  for (let i = 0; i < seed.length; i++) {
    const text = seed.filter((_, j) => j !== i).join(' ');
    try {
      parseIpfw(text);
    } catch (e) {
      if (!(e instanceof UserError)) t.fail(`${JSON.stringify(text)}: ${(e as Error).stack}`);
    }
  }
  t.pass();
});

test('dnctl, dummynet\'s own command since FreeBSD 13.1, configures pipes, queues and schedulers as ipfw pipe|queue|sched does; rules stay ipfw\'s', (t) => {
  const p = parseIpfw('dnctl pipe 1 config bw 30Byte/s\n/sbin/dnctl queue 2 config pipe 1 weight 5\nsudo dnctl sched 1 config type qfq\nipfw add 100 queue 2 ip from any to any out');
  t.deepEqual(p.pipes, { '1': { bw: '30Byte/s', scheduler: 'qfq' } });
  t.deepEqual(p.queues, { '2': { pipe: '1', weight: 5 } });
  t.is(p.rules.length, 1);
  t.deepEqual(parseIpfw('dnctl pipe 1 config bw 1Mbit/s\ndnctl flush\ndnctl pipe 2 config delay 5').pipes, { '2': { delay: 5 } });
  const e = t.throws(() => parseIpfw('dnctl add 100 pipe 1 ip from any to any'));
  t.is(e?.message, 'line 1: dnctl add 100 pipe 1 ip from any to any: "add" is not a dnctl command (rules are ipfw\'s: ipfw add ...); allowed: pipe N config, queue N config, sched N config, pipe|queue|sched N delete, pipe|queue|sched flush, flush');
});

test('IPv6: ip6/ipv6 and ip4/ipv4 as the protocol or an option, icmp6, IPv6 addresses and src-ip6/dst-ip6, as FreeBSD 14 writes them', (t) => {
  const p = parseIpfw(`pipe 1 config bw 10Mbit/s delay 20ms mask src-ip6 /128
ipfw add 1000 pipe 1 ip6 from any to any
ipfw add 1100 pipe 1 ipv6-icmp from 2001:2::/48 to any out
ipfw add 1200 pipe 1 tcp from any to any dst-port 80 ip6
ipfw add 1300 pipe 1 icmp6 from { 2001:2::1 or 2001:2::2 } to any
ipfw add 1400 pipe 1 src-ip6 2001:2::1 proto ip6
ipfw add 1500 pipe 1 ipv4 from 198.18.0.0/24 to any`);
  t.deepEqual(p.rules, [
    { number: 1000, action: 'pipe', pipe: '1', family: 'ip6' },
    { number: 1100, action: 'pipe', pipe: '1', from: 'a', proto: 'ipv6-icmp', src: '2001:2::/48' },
    { number: 1200, action: 'pipe', pipe: '1', family: 'ip6', proto: 'tcp', dstPort: 80 },
    { number: 1300, action: 'pipe', pipe: '1', proto: 'icmp6', src: ['2001:2::1', '2001:2::2'] },
    { number: 1400, action: 'pipe', pipe: '1', family: 'ip6', src: '2001:2::1' },
    { number: 1500, action: 'pipe', pipe: '1', family: 'ip4', src: '198.18.0.0/24' },
  ]);
  t.deepEqual(p.pipes['1']!.mask, { srcIp6: 128 });
});

test('mac DST SRC and mac-type, for rules that mean frames (layer2), as FreeBSD writes them', (t) => {
  const p = parseIpfw(`pipe 1 config bw 30Byte/s
ipfw add 100 pipe 1 mac any 02:70:77:00:00:01 mac-type arp layer2
ipfw add 200 pipe 1 layer2 mac 02:70:77:00:00:00/24 any mac-type 0x0800-0x86dd,vlan`);
  t.deepEqual(p.rules, [
    { number: 100, action: 'pipe', pipe: '1', srcMac: '02:70:77:00:00:01', macType: 'arp', l2: true },
    { number: 200, action: 'pipe', pipe: '1', dstMac: '02:70:77:00:00:00/24', macType: ['0x0800-0x86dd', 'vlan'], l2: true },
  ]);
  t.is(t.throws(() => parseIpfw('pipe 1 config\nipfw add 100 pipe 1 mac 02:70:77:00:00:00&ff:ff:ff:00:00:00 any layer2'))?.message,
    'line 2: ipfw add 100 pipe 1 mac 02:70:77:00:00:00&ff:ff:ff:00:00:00 any layer2: "02:70:77:00:00:00&ff:ff:ff:00:00:00" is not an Ethernet address; allowed: two Ethernet addresses, destination then source, each "any" or six hex bytes such as 02:70:77:00:00:01, optionally /bits');
});
