// The dummynet engine's planner (a resolved profile → ipfw lines for kipfw), what the engine
// refuses before anything is applied, and its status read from recorded ipfw output.
import test from 'ava';
import { planDummynet } from '../../../src/agent/engines/dummynet/plan.ts';
import { dummynetStatusFrom, sections } from '../../../src/agent/engines/dummynet/status.ts';
import { parseIpfw } from '../../../src/ipfw/index.ts';
import type { Profile } from '../../../src/profile/schema.ts';
import { resolve, validateProfile } from '../../../src/profile/validate.ts';
import { SEED_2_2, SEED_2_3 } from '../../helpers/seed.ts';

/** A profile through validation, as the agent gives it to the planner. */
const profile = (value: unknown): Profile => {
  const r = validateProfile(value);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.value;
};
const dummynet = (text: string, name: string) => profile({ ...parseIpfw(text, name), engine: 'dummynet' });

test('the seed\'s 2.2 asymmetric link: pipes configured in place, rules swapped in as one set, directions as kipfw\'s netmap ports', (t) => {
  const p = planDummynet(resolve(dummynet(SEED_2_2, 'seed-2-2')));
  t.snapshot(p.lines.join('\n'), 'ipfw lines');
  t.true(p.lines.includes('pipe 10 config bw 256000 delay 20 queue 43'));
  t.true(p.lines.includes('add 100 set 1 pipe 10 ip from any to any dst-port 2000-3000 recv netmap:a'));
  t.true(p.lines.includes('add 200 set 1 pipe 11 ip from any to any src-port 2000-3000 recv netmap:b'));
  // the configs come before any rule, the swap after all of them
  const at = (l: string) => p.lines.indexOf(l);
  t.true(at('pipe 11 config bw 4000000 delay 5 queue 43') < at('set disable 1'));
  t.true(at('add 65534 set 1 allow ip from any to any') < at('set swap 0 1'));
  t.deepEqual(p.objects, { pipes: { 10: 10, 11: 11 }, queues: {} });
});

test('the seed\'s 2.3 shaper: a QFQ pipe with a /24 mask and two weighted, masked queues', (t) => {
  const p = planDummynet(resolve(dummynet(SEED_2_3, 'seed-2-3')));
  t.snapshot(p.lines.join('\n'), 'ipfw lines');
  t.true(p.lines.includes('pipe 5 config bw 1000000 delay 0 queue 43 type qfq mask src-ip 0xffffff00 buckets 16'));
  t.true(p.lines.includes('queue 1 config pipe 5 weight 10 queue 50 mask src-ip 0xfffffff buckets 16'));
});

test('names take free numbers, protocols are numbers, and a default of deny lets only non-IP frames through', (t) => {
  const p = planDummynet(
    resolve(
      profile({
        name: 'named',
        engine: 'dummynet',
        default: 'deny',
        pipes: { up: { bw: '1Mbit/s', plr: 0.01, queue: '64KB' }, 7: { delay: 30 } },
        rules: [{ from: 'a', proto: ['tcp', 'udp'], src: '198.18.0.0/24', dstPort: [22, '1000-2000'], pipe: 'up' }, { pipe: '7', prob: 0.5 }, { action: 'deny', dst: { not: '198.18.1.1' } }],
      }),
    ),
  );
  t.true(p.lines.includes('# pipe 1 = "up"'));
  t.true(p.lines.includes('pipe 1 config bw 1000000 delay 0 plr 0.01 queue 65536B'));
  t.true(p.lines.includes('pipe 7 config delay 30'));
  t.true(p.lines.includes('add 100 set 1 pipe 1 { 6 or 17 } from 198.18.0.0/24 to any dst-port 22,1000-2000 recv netmap:a'));
  // a rule that says nothing of IP takes IP frames only, as on the tc engine
  t.true(p.lines.includes('add 200 set 1 prob 0.5 pipe 7 ip from any to any mac-type ip,ipv6'));
  t.true(p.lines.includes('add 300 set 1 deny ip from any to not 198.18.1.1'));
  t.true(p.lines.includes('add 65534 set 1 allow ip from any to any not mac-type ip,ipv6'));
  t.false(p.lines.includes('add 65534 set 1 allow ip from any to any'));
});

test('a change deletes the pipes and queues the new profile has no use for, after the rules that used them are gone', (t) => {
  const first = planDummynet(resolve(dummynet(SEED_2_3, 'seed-2-3')));
  const next = planDummynet(resolve(dummynet(SEED_2_2, 'seed-2-2')), first.objects);
  const tail = next.lines.slice(next.lines.indexOf('set swap 0 1'));
  t.deepEqual(tail, ['set swap 0 1', 'delete set 1', 'queue 1 delete', 'queue 2 delete', 'pipe 5 delete']);
  // the same profile again deletes nothing
  t.false(planDummynet(resolve(dummynet(SEED_2_2, 'seed-2-2')), next.objects).lines.some((l) => l.endsWith(' delete')));
});

test('a delay profile: its file holds dummynet\'s 1024 samples of the curve in whole ms, and the pipe config names it', (t) => {
  const p = planDummynet(
    resolve(profile({ name: 'dp', engine: 'dummynet', pipes: { wifi: { bw: '2Mbit/s', delayProfile: { samples: [{ prob: 0, delay: '1ms' }, { prob: 0.9, delay: '5ms' }, { prob: 1, delay: '40ms' }], lossLevel: 0.99 } } }, rules: [{ pipe: 'wifi' }] })),
  );
  const file = '/run/picowire/dummynet/pipe-1.profile';
  t.true(p.lines.includes(`pipe 1 config profile ${file} bw 2000000 delay 0 queue 43`), p.lines.join('\n'));
  t.deepEqual(Object.keys(p.files), [file]);
  const rows = p.files[file]!.split('\n').filter((l) => l && !l.startsWith('#'));
  t.deepEqual(rows.slice(0, 3), ['samples 1024', 'loss-level 0.990000', 'prob delay']);
  const points = rows.slice(3).map((l) => l.split(' ').map(Number) as [number, number]);
  t.is(points.length, 1024, 'ipfw keeps at most 1024 points');
  // ipfw's parser takes digits and one dot only: no exponent, no sign
  t.true(rows.slice(1).every((l) => /^[a-z-]+ [a-z0-9.]+$|^[0-9.]+ [0-9.]+$/.test(l)), 'every line as is_valid_number reads it');
  // point j at prob j/1024 holds sample j: whole ms + 0.5 (ipfw truncates to an int)
  points.slice(0, -1).forEach(([prob], j) => t.is(prob, j / 1024));
  t.deepEqual(points[0], [0, 1.5]);
  // sample 512 (prob 0.5005): 1 + 4 × 0.5005 / 0.9 = 3.22 ms → 3
  t.deepEqual(points[512], [0.5, 3.5]);
  // the curve rises throughout, to 5 + 35 × 0.09/0.1 = 36.5 ms at the loss level (0.99), whole: 36 (+ 0.5); the samples above it are dropped
  t.true(points.every(([, d], i) => i === 0 || d >= points[i - 1]![1]));
  t.is(Math.max(...points.map(([, d]) => d)), 36.5);
});

// ---- what the dummynet engine refuses -------------------------------------------------------

const refused: [string, Record<string, unknown>, string[]][] = [
  ['jitter', { pipes: { p: { delay: 20, jitter: 5 } } }, ['profile.pipes.p.jitter: the dummynet engine (FreeBSD\'s dummynet) has no jitter (a netem delay distribution); use "engine": "tc", or leave jitter out']],
  ['Gilbert-Elliott loss', { pipes: { p: { loss: { model: 'gilbert-elliott', p: 0.01, r: 0.3 } } } }, ['profile.pipes.p.loss: the dummynet engine (FreeBSD\'s dummynet) has no Gilbert-Elliott loss; use "plr" (independent random loss) or "engine": "tc"']],
  ['duplication, corruption, reordering and overhead', { pipes: { p: { bw: '1Mbit/s', delay: 10, duplicate: 0.01, corrupt: 0.01, reorder: 0.1, overhead: 24 } } }, [
    'profile.pipes.p.duplicate: the dummynet engine (FreeBSD\'s dummynet) has no duplication; use "engine": "tc"',
    'profile.pipes.p.corrupt: the dummynet engine (FreeBSD\'s dummynet) has no corruption; use "engine": "tc"',
    'profile.pipes.p.reorder: the dummynet engine (FreeBSD\'s dummynet) has no reordering; use "engine": "tc"',
    'profile.pipes.p.overhead: the dummynet engine (FreeBSD\'s dummynet) has no per-packet overhead; use "engine": "tc", or fold it into "bw"',
  ]],
  ['fq_codel', { pipes: { p: { bw: '1Mbit/s', scheduler: 'fq_codel' } } }, ['profile.pipes.p.scheduler: the dummynet engine (FreeBSD\'s dummynet) has no "fq_codel" scheduler; allowed: fifo, wf2q+, rr, drr, qfq, prio']],
  ['a delay of a fraction of a millisecond', { pipes: { p: { delay: '2.5ms' } } }, ['profile.pipes.p.delay: 2.5 ms; the dummynet engine delays by whole milliseconds; allowed: 0 to 10000 ms in whole ms']],
  ['a bandwidth over 2^31-1 bit/s', { pipes: { p: { bw: '10Gbit/s' } } }, ['profile.pipes.p.bw: 10000000000 bit/s is more than the dummynet engine can say; allowed: at most 2147483647 bit/s']],
  ['a rule number it keeps for itself', { rules: [{ number: 65534, action: 'allow' }] }, ['profile.rules[0].number: 65534 is kept by the dummynet engine (65534 for the profile\'s default, 65535 is ipfw\'s own); allowed: 1 to 65533']],
  ['an IPv6 address', { rules: [{ action: 'deny', src: '2001:db8::/32' }] }, ['profile.rules[0].src: the dummynet engine (FreeBSD\'s dummynet) has no IPv6 addresses (netmap-ipfw is built for IPv4); use "engine": "tc" for IPv6 matches']],
  ['an outage that holds packets, and a delay step of a fraction of a ms', { pipes: { p: { bw: '1Mbit/s', schedule: { every: '10s', steps: [{ at: '1s', outage: '2s' }, { at: '5s', delay: '2.5ms' }] } } } }, [
    'profile.pipes.p.schedule.steps[0].outage: the dummynet engine cannot hold packets through an outage (dummynet\'s bw 0 means unlimited, and a tiny rate leaves its link\'s timer set past the outage); allowed: "drop": true on the step (arrivals and what is queued are dropped), or "engine": "tc"',
    'profile.pipes.p.schedule.steps[1].delay: 2.5 ms; the dummynet engine delays by whole milliseconds; allowed: whole ms',
  ]],
  ['a trace', { pipes: { p: { delay: '5ms', trace: { mahimahi: '1\n2\n3\n' } } } }, ['profile.pipes.p.trace: the dummynet engine (FreeBSD\'s dummynet) has no trace replay: its runner changes a pipe through one ipfw run each (0.1-0.25 s under QEMU TCG, docs/schedules.md), slower than a trace\'s windows; use "engine": "tc", or a schedule of steps']],
  ['a delay profile on a pipe without bw', { pipes: { p: { delayProfile: { samples: [{ prob: 0, delay: '1ms' }, { prob: 1, delay: '9ms' }] } } } }, ['profile.pipes.p.delayProfile: the dummynet engine (FreeBSD\'s dummynet) has no delay profile on a pipe without "bw" (it draws the extra delay as time the link is busy at the pipe\'s bw, so without one it adds none); give the pipe a "bw", or use "engine": "tc"']],
  ['AQM on a pipe and a queue', { pipes: { p: { bw: '1Mbit/s', aqm: { type: 'codel' } } }, queues: { q: { pipe: 'p', aqm: { type: 'red', wq: 0.002, minTh: 5, maxTh: 15, maxP: 0.1 } } } }, [
    'profile.pipes.p.aqm: the dummynet engine (FreeBSD\'s dummynet) has no AQM in netmap-ipfw (it predates FreeBSD 11\'s codel, pie and red for dummynet); leave "aqm" out (droptail) or use "engine": "tc"',
    'profile.queues.q.aqm: the dummynet engine (FreeBSD\'s dummynet) has no AQM in netmap-ipfw (it predates FreeBSD 11\'s codel, pie and red for dummynet); leave "aqm" out (droptail) or use "engine": "tc"',
  ]],
  ['an IPv6 mask field', { pipes: { p: { bw: '1Mbit/s', mask: { srcIp6: 64 } } } }, ['profile.pipes.p.mask: the dummynet engine (FreeBSD\'s dummynet) has no IPv6 mask fields (srcIp6, dstIp6, flowId: netmap-ipfw is built for IPv4); mask IPv4 fields, or use "engine": "tc"']],
  ['an ip6 rule and Ethernet conditions', { rules: [{ action: 'deny', family: 'ip6' }, { action: 'deny', l2: true, macType: '0x0806' }] }, [
    'profile.rules[0].family: the dummynet engine (FreeBSD\'s dummynet) has no ip4/ip6 rules (netmap-ipfw is built for IPv4: its rules see IPv4 only); use "engine": "tc"',
    'profile.rules[1].macType: the dummynet engine (FreeBSD\'s dummynet) has no Ethernet conditions wired up yet; use "engine": "tc"',
  ]],
];

for (const [what, change, errors] of refused) {
  test(`the dummynet engine refuses ${what}, naming the field and the engine, and the tc engine takes it`, (t) => {
    const base = { name: 'x', pipes: {}, rules: [], ...change };
    const r = validateProfile({ ...base, engine: 'dummynet' });
    t.false(r.ok);
    if (!r.ok) t.deepEqual(r.errors, errors);
    t.true(validateProfile(base).ok, 'the same profile on tc');
  });
}

test('"engine" takes tc or dummynet only', (t) => {
  const r = validateProfile({ name: 'x', pipes: {}, rules: [], engine: 'netmap' });
  t.false(r.ok);
  if (!r.ok) t.regex(r.errors.join('\n'), /profile\.engine/);
});

// ---- status from dummynet's own counters --------------------------------------------------

// recorded in the VM (kipfw, seed 2.2, after a TCP flow on port 2500), with patches/netmap-ipfw/0003
const SHOW = `00100 145 181802 pipe 10 ip from any to any dst-port 2000-3000 recv netmap:a
00200 133   7115 pipe 11 ip from any to any src-port 2000-3000 recv netmap:b
00300   0      0 allow ip from any to any mac-type 0x0800,0x86dd
65534   0      0 allow ip from any to any
65535   0      0 deny ip from any to any
`;
const PIPES = `00010: 256.000 Kbit/s   20 ms burst 0 
q131082  43 sl. 0 flows (1 buckets) sched 65546 weight 0 lmax 0 pri 0 droptail
 sched 65546 type FIFO flags 0x0 0 buckets 1 active
BKT Prot ___Source IP/port____ ____Dest. IP/port____ Tot_pkt/bytes Pkt/Byte Drp
  0    0         0.0.0.0/0             0.0.0.0/0      145   183832  2 3028   3
00011:   4.000 Mbit/s    5 ms burst 0 
q131083  43 sl. 0 flows (1 buckets) sched 65547 weight 0 lmax 0 pri 0 droptail
 sched 65547 type FIFO flags 0x0 0 buckets 1 active
  0    0         0.0.0.0/0             0.0.0.0/0      133     8977  0    0   0
`;

test('status: each pipe\'s flow counters from ipfw pipe show, each rule\'s from ipfw show, kipfw\'s own rules left out', (t) => {
  const s = dummynetStatusFrom(dummynet(SEED_2_2, 'seed-2-2'), SHOW, PIPES, '');
  t.is(s.profile, 'seed-2-2');
  t.deepEqual(
    s.rules.map((r) => [r.number, r.packets, r.bytes]),
    [
      [100, 145, 181802],
      [200, 133, 7115],
      [300, 0, 0],
    ],
  );
  t.deepEqual(s.pipes, [
    { pipe: '10', instance: 0, port: 'b', packets: 140, bytes: 183832, backlog: { packets: 2, bytes: 3028 }, randomDrops: 0, overflowDrops: 3, queues: [] },
    { pipe: '11', instance: 0, port: 'a', packets: 133, bytes: 8977, backlog: { packets: 0, bytes: 0 }, randomDrops: 0, overflowDrops: 0, queues: [] },
  ]);
});

test('status: a pipe without a mask that nothing crossed yet shows zeros, as on tc; a masked one shows no instance', (t) => {
  const s = dummynetStatusFrom(dummynet(SEED_2_2, 'seed-2-2'), SHOW, '00010: 256.000 Kbit/s   20 ms burst 0 \n00011:   4.000 Mbit/s    5 ms burst 0 \n', '');
  t.deepEqual(s.pipes.map((p) => [p.pipe, p.packets, p.overflowDrops]), [
    ['10', 0, 0],
    ['11', 0, 0],
  ]);
  const masked = profile({ name: 'm', engine: 'dummynet', pipes: { m: { bw: '1Mbit/s', mask: { dstPort: '0xffff' } } }, rules: [{ pipe: 'm' }] });
  t.deepEqual(dummynetStatusFrom(masked, '', '00001:   1.000 Mbit/s    0 ms burst 0 \n', '').pipes, []);
});

test('status: flows are read per object, and a pipe\'s own flowset in ipfw queue show is nobody\'s queue', (t) => {
  const queues = `q00001  50 sl. 2 flows (16 buckets) sched 5 weight 10 lmax 1500 pri 0 droptail
    mask:  0x00 0x0fffffff/0x0000 -> 0x00000000/0x0000
BKT Prot ___Source IP/port____ ____Dest. IP/port____ Tot_pkt/bytes Pkt/Byte Drp
 12    0       8.18.1.2/0                 0.0.0.0/0       10    12000  0    0   0
 13    0       8.18.1.3/0                 0.0.0.0/0       20    24000  1 1200   2
q131077  43 sl. 0 flows (1 buckets) sched 65541 weight 0 lmax 0 pri 0 droptail
  0    0         0.0.0.0/0             0.0.0.0/0      99   9999  0    0   0
q00002  50 sl. 0 flows (16 buckets) sched 5 weight 4 lmax 1500 pri 0 droptail
`;
  const flows = sections(queues, /^q(\d{5}) /, /^q\d{6,} /);
  t.deepEqual([...flows.keys()], [1, 2]);
  t.deepEqual(flows.get(1)!.map((f) => f.key), ['8.18.1.2/0 -> 0.0.0.0/0', '8.18.1.3/0 -> 0.0.0.0/0']);
  const s = dummynetStatusFrom(dummynet(SEED_2_3, 'seed-2-3'), '', '', queues);
  t.is(s.pipes.length, 1);
  t.like(s.pipes[0], { pipe: '5', port: 'a', packets: 27, overflowDrops: 2, backlog: { packets: 1, bytes: 1200 } });
  t.deepEqual(s.pipes[0]!.queues.map((q) => [q.queue, q.instance, q.keys, q.packets]), [
    ['1', 0, ['8.18.1.2/0 -> 0.0.0.0/0'], 10],
    ['1', 1, ['8.18.1.3/0 -> 0.0.0.0/0'], 17],
  ]);
});
