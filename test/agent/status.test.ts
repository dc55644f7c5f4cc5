// `picowire status` from the kernel's counters: which qdisc is which pipe, queue and instance, and
// which drops are random loss and which are queue overflow.
import test from 'ava';
import { plan } from '../../src/agent/plan.ts';
import { formatStatus, nftCounters, nftMaps, statusFrom } from '../../src/agent/status.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { kernelAfter } from '../helpers/kernel-after.ts';


const wan: Profile = { name: 'wan', pipes: { up: { bw: '1Mbit/s', queue: 10, plr: 0.1 }, down: { delay: '5ms' } }, rules: [{ from: 'a', pipe: 'up' }, { from: 'b', pipe: 'down' }] };

test('a pipe\'s overflow is its bottleneck\'s drops, its random loss the delay line\'s, its traffic what left the delay line', (t) => {
  const qdiscs = kernelAfter(wan, {
    'b 10:': { packets: 940, bytes: 1_340_000, drops: 50, qlen: 7, backlog: 10_000 },
    'b 4000:': { packets: 850, bytes: 1_250_000, drops: 100 },
    'a 11:': { packets: 30, bytes: 3000 },
  });
  const s = statusFrom(wan, qdiscs, nftCounters('{"nftables":[{"metainfo":{}},{"counter":{"name":"rule100_0","packets":1000,"bytes":1400000}}]}'));
  t.is(s.profile, 'wan');
  t.deepEqual(s.pipes, [
    { pipe: 'down', instance: 0, port: 'a', packets: 30, bytes: 3000, randomDrops: 0, overflowDrops: 0, backlog: { packets: 0, bytes: 0 }, queues: [] },
    { pipe: 'up', instance: 0, port: 'b', packets: 850, bytes: 1_250_000, randomDrops: 100, overflowDrops: 50, backlog: { packets: 7, bytes: 10_000 }, queues: [] },
  ]);
  t.deepEqual(s.rules, [
    { number: 100, action: 'pipe', target: 'up', packets: 1000, bytes: 1_400_000 },
    { number: 200, action: 'pipe', target: 'down', packets: 0, bytes: 0 },
  ]);
  const text = formatStatus(s);
  t.regex(text, /^profile wan$/m);
  t.regex(text, /^ {2}up -> b +850 +1250000 +100 +50 +7 pkt$/m);
});

test('queue instances under a scheduler report their own overflow; masked instances that carried nothing are left out', (t) => {
  const shaper: Profile = {
    name: 'shaper',
    pipes: { p: { bw: '1Mbit/s', mask: { srcIp: '/24' }, buckets: 2 } },
    queues: { hi: { pipe: 'p', weight: 10 }, lo: { pipe: 'p', weight: 4 } },
    rules: [{ from: 'b', dstPort: 22, queue: 'hi' }, { from: 'b', queue: 'lo' }],
  };
  const handles = plan(shaper, { qdiscs: [] }).tc.filter((l) => l.includes('dev a') && /pfifo limit/.test(l) && /parent 8001:/.test(l));
  t.is(handles.length, 3, 'instance 1 has the pipe\'s own class and one per queue');
  const leaf = (parent: string) => /handle (\S+)/.exec(handles.find((l) => l.includes(`parent ${parent} `))!)![1]!;
  // a drop in a queue under the scheduler is counted by the tbf and by the delay line above it too
  const qdiscs = kernelAfter(shaper, {
    'a 11:': { packets: 500, bytes: 600_000, drops: 23 },
    'a 4001:': { packets: 480, bytes: 580_000, drops: 20, qlen: 2, backlog: 3000 },
    [`a ${leaf('8001:2')}`]: { packets: 300, bytes: 400_000, drops: 5, qlen: 2, backlog: 3000 },
    [`a ${leaf('8001:3')}`]: { packets: 180, bytes: 180_000, drops: 15 },
  });
  const s = statusFrom(shaper, qdiscs, new Map());
  t.is(s.pipes.length, 1, 'only the instance that carried traffic');
  const [pipe] = s.pipes;
  t.is(pipe!.instance, 1);
  t.is(pipe!.overflowDrops, 20);
  t.is(pipe!.randomDrops, 3);
  t.deepEqual([pipe!.packets, pipe!.backlog], [480, { packets: 2, bytes: 3000 }]);
  t.deepEqual(pipe!.queues, [
    { queue: 'hi', instance: 0, packets: 300, bytes: 400_000, overflowDrops: 5, backlog: { packets: 2, bytes: 3000 } },
    { queue: 'lo', instance: 0, packets: 180, bytes: 180_000, overflowDrops: 15, backlog: { packets: 0, bytes: 0 } },
  ]);
});

test('no profile: the status says the bridge does not forward', (t) => {
  t.is(formatStatus({ profile: null, pipes: [], rules: [] }), 'no profile in force: the bridge does not forward');
});

test('nft counters that cannot be read give none rather than an error', (t) => {
  t.deepEqual(nftCounters('Error: No such file or directory'), new Map());
});

test('each masked instance shows the keys its map gave it, read from nft\'s JSON (a key of several fields is a concat)', (t) => {
  const masked: Profile = {
    name: 'masked',
    pipes: { p: { bw: '1Mbit/s', mask: { srcIp: '/24' }, buckets: 4, scheduler: 'qfq' } },
    queues: { q: { pipe: 'p', weight: 10, mask: { srcIp: '/32', dstPort: '0xffff' }, buckets: 2 } },
    rules: [{ from: 'b', queue: 'q' }],
  };
  // as nft 1.0.6 prints `nft -j list table bridge picowire`, with the maps the plan names; an element
  // of a map with a timeout comes wrapped in { elem: { val, expires } } (a plain one is read too)
  const timed = (val: unknown, expires: number) => ({ elem: { val, expires } });
  const nft = JSON.stringify({
    nftables: [
      { metainfo: {} },
      { map: { family: 'bridge', name: 'pipe0_srcip', table: 'picowire', type: 'ipv4_addr', map: 'classid', flags: ['timeout'], timeout: 60, elem: [[timed('198.18.2.0', 59), '1:10'], [timed('198.18.18.0', 12), '1:11'], ['198.18.40.0', '1:10']] } },
      { map: { family: 'bridge', name: 'queue0_2_srcip_dstport', table: 'picowire', type: ['ipv4_addr', 'inet_service'], map: 'mark', flags: ['timeout'], timeout: 60, elem: [[timed({ concat: ['198.18.18.2', 5001] }, 41), 3]] } },
    ],
  });
  t.regex(plan(masked, { qdiscs: [] }).nft, /map pipe0_srcip \{[\s\S]*map queue0_2_srcip_dstport \{/, 'the names status reads are the plan\'s');
  const qdiscs = kernelAfter(masked, { 'a 10:': { packets: 9 }, 'a 4000:': { packets: 9 }, 'a 11:': { packets: 5 }, 'a 4001:': { packets: 5 } });
  const s = statusFrom(masked, qdiscs, nftCounters(nft), nftMaps(nft));
  t.deepEqual(s.pipes.map((p) => [p.instance, p.keys]), [[0, ['198.18.2.0', '198.18.40.0']], [1, ['198.18.18.0']]]);
  t.deepEqual(s.pipes[1]!.queues.map((q) => [q.queue, q.instance, q.keys]), [['q', 0, []], ['q', 1, ['198.18.18.2 . 5001']]], 'mark 3 is queue q\'s second instance (its marks start at 2)');
  t.regex(formatStatus(s), /^ {2}p #1 -> a .* 0 pkt {3}198\.18\.18\.0$/m);
  t.deepEqual(nftMaps('Error: No such file or directory'), new Map());
});

test('an IPv6 mask\'s instances show their IPv6 keys, read from the map of IPv6 packets; IPv4 packets under it show as one key, "ip"', (t) => {
  const masked: Profile = { name: 'v6', pipes: { p: { bw: '1Mbit/s', mask: { srcIp6: 128 }, buckets: 4 } }, rules: [{ from: 'a', pipe: 'p' }] };
  t.regex(plan(masked, { qdiscs: [] }).nft, /map pipe0_srcip6 \{ typeof meta protocol [\s\S]*map pipe0_srcip6_6 \{ type ipv6_addr : classid/, 'the names status reads are the plan\'s');
  // as nft 1.0.6 prints them (checked on the host: an ipv6_addr key is its text, a meta protocol key the family's name)
  const timed = (val: unknown) => ({ elem: { val, expires: 59 } });
  const nft = JSON.stringify({
    nftables: [
      { map: { family: 'bridge', name: 'pipe0_srcip6', table: 'picowire', type: 'ether_type', map: 'classid', elem: [[timed('ip'), '1:12']] } },
      { map: { family: 'bridge', name: 'pipe0_srcip6_6', table: 'picowire', type: 'ipv6_addr', map: 'classid', elem: [[timed('2001:2::1'), '1:10'], [timed('2001:2::2'), '1:11']] } },
    ],
  });
  const qdiscs = kernelAfter(masked, { 'b 4000:': { packets: 10 }, 'b 4001:': { packets: 20 }, 'b 4002:': { packets: 3 } });
  const s = statusFrom(masked, qdiscs, nftCounters(nft), nftMaps(nft));
  t.deepEqual(s.pipes.map((p) => [p.instance, p.keys]), [[0, ['2001:2::1']], [1, ['2001:2::2']], [2, ['ip']]]);
  t.regex(formatStatus(s), /^ {2}p #1 -> b .* 0 pkt {3}2001:2::2$/m);
});
