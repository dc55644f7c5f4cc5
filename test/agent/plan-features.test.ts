// Planner snapshots, one per feature of the profile language: what the kernel is asked for. The
// shapes were checked against the kernel in the VM (test/vm/emulation.test.ts measures them).
import test from 'ava';
import { plan } from '../../src/agent/plan.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { validateProfile } from '../../src/profile/validate.ts';

const profile = (value: unknown): Profile => {
  const r = validateProfile(value);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.value;
};
const fresh = { qdiscs: [] };
/** A one-pipe profile from a to b with these pipe settings. */
const onePipe = (pipe: object, rule: object = {}) => profile({ name: 'f', pipes: { p: pipe }, rules: [{ from: 'a', pipe: 'p', ...rule }] });
/** The lines for port b (the egress of traffic from a), without the root and default class. */
const portB = (p: Profile) => plan(p, fresh).tc.filter((l) => / dev b /.test(l) && !/1:ffff|root handle/.test(l));

const features: [string, Profile][] = [
  ['jitter, uniform (a duration alone)', onePipe({ delay: '20ms', jitter: '5ms' })],
  ['jitter with a distribution and correlation', onePipe({ delay: '20ms', jitter: { spread: '5ms', distribution: 'paretonormal', correlation: 0.3 } })],
  ['Gilbert-Elliott loss', onePipe({ delay: '1ms', loss: { model: 'gilbert-elliott', p: 0.01, r: 0.25, lossBad: 0.8, lossGood: 0.001 } })],
  ['duplicate, corrupt and reorder', onePipe({ delay: '10ms', duplicate: 0.01, corrupt: 0.002, reorder: { prob: 0.05, correlation: 0.5, gap: 5 } })],
  ['a queue in bytes and a link-layer overhead', onePipe({ bw: '10Mbit/s', queue: '30KB', overhead: 24 })],
  ['a burst: tbf with the burst, a fifo under it', onePipe({ bw: '5Mbit/s', burst: '32KB', queue: 20 })],
  ['weighted queues under wf2q+ (qfq)', profile({ name: 'q', pipes: { p: { bw: '1Mbit/s' } }, queues: { hi: { pipe: 'p', weight: 10 }, lo: { pipe: 'p', weight: 4, queue: '16KB' } }, rules: [{ from: 'b', dstPort: [22, 53], queue: 'hi' }, { from: 'b', queue: 'lo' }] })],
  ['rr and drr: quantum per weight', profile({ name: 'q', pipes: { p: { bw: '1Mbit/s', scheduler: 'drr' }, r: { bw: '1Mbit/s', scheduler: 'rr' } }, queues: { x: { pipe: 'p', weight: 3 }, y: { pipe: 'r', weight: 3 } }, rules: [{ from: 'a', queue: 'x' }, { from: 'b', queue: 'y' }] })],
  ['prio: bands by weight, higher first', profile({ name: 'q', pipes: { p: { bw: '2Mbit/s', scheduler: 'prio' } }, queues: { voice: { pipe: 'p', weight: 50 }, bulk: { pipe: 'p', weight: 1 } }, rules: [{ from: 'a', proto: 'udp', queue: 'voice' }, { from: 'a', queue: 'bulk' }] })],
  ['fq_codel and fifo schedulers: one queue', profile({ name: 'q', pipes: { p: { bw: '2Mbit/s', scheduler: 'fq_codel', queue: 300 }, f: { bw: '2Mbit/s', scheduler: 'fifo' } }, rules: [{ from: 'a', pipe: 'p' }, { from: 'b', pipe: 'f' }] })],
  ['an empirical delay profile', onePipe({ delayProfile: { samples: [{ prob: 0, delay: '2ms' }, { prob: 0.8, delay: '4ms' }, { prob: 1, delay: '30ms' }], lossLevel: 0.98 } })],
];
for (const [what, p] of features) {
  test(`planner: ${what}`, (t) => {
    const result = plan(p, fresh);
    t.snapshot(portB(p).join('\n') || '(nothing on b)', 'tc lines for port b');
    if (Object.keys(result.dists).length) t.snapshot(result.dists, 'distribution tables');
  });
}

test('planner: a mask gives each distinct key an instance of its own, the first the map lacks taking the next one, from a chain every rule shares', (t) => {
  const p = onePipe({ bw: '1Mbit/s', mask: { srcIp: '0xffffff00' }, buckets: 4 });
  const nft = plan(p, fresh).nft;
  t.snapshot(nft, 'nft');
  t.is(portB(p).filter((l) => l.includes('netem rate 1000000bit')).length, 4, 'four instances');
  t.regex(nft, /map pipe0_srcip \{ type ipv4_addr : classid; size 65536; flags dynamic,timeout; timeout 60s; \}/, 'a key idle for 60 s leaves the map');
  t.regex(nft, /meta priority set ip saddr & 255\.255\.255\.0 map @pipe0_srcip update @pipe0_srcip \{ ip saddr & 255\.255\.255\.0 : meta priority \} return/, 'each packet of a known key renews it');
  t.regex(nft, /meta priority set jhash ip saddr & 255\.255\.255\.0 mod 4 offset 0x10010 return/, 'a key a full map cannot take is hashed onto the instances');
  t.regex(nft, /add @pipe0_srcip \{ ip saddr & 255\.255\.255\.0 : numgen inc mod 4 offset 0x10010 \}/, 'instances 1:10 to 1:13 in the order keys come');
  t.regex(nft, /flush map bridge picowire pipe0_srcip/, 'a new profile hands instances out afresh');
});

test('planner: two rules into one masked pipe share its map and its counter, so their keys never get the same instance while there are free ones', (t) => {
  const p = profile({ name: 'two', pipes: { p: { bw: '1Mbit/s', mask: { dstIp: '/24', dstPort: '0xffff' }, buckets: 8 } }, rules: [{ number: 1, from: 'a', proto: 'udp', pipe: 'p' }, { number: 2, from: 'a', pipe: 'p' }] });
  const nft = plan(p, fresh).nft;
  t.is(nft.match(/numgen inc/g)?.length, 2, 'one map for IPv4 packets, one for IPv6 packets (all in one instance: no IPv6 field is masked)');
  t.regex(nft, /meta priority set \(ip daddr & 255\.255\.255\.0\) \. th dport map @pipe0_dstip_dstport return/);
  t.regex(nft, /counter name "rule1_0" jump rule0_mask/);
  t.regex(nft, /counter name "rule2_1" jump rule1_mask/);
  t.regex(nft, /chain rule1_mask \{\n\t\tmeta priority set 0 jump pipe0_dstip_dstport\n\t\tmeta priority 0 return\n\t\taccept\n/, 'a packet without the fields returns to the rules after');
});

test('planner: mask chains and maps an earlier plan made and this one does not use are removed, chains first', (t) => {
  const masked = onePipe({ bw: '1Mbit/s', mask: { srcIp: '0xffffff00' } });
  const first = plan(masked, fresh);
  t.deepEqual(first.objects, { chains: ['pipe0_srcip', 'rule0_mask'], maps: ['pipe0_srcip', 'pipe0_srcip_6'] });
  const plain = plan(onePipe({ bw: '1Mbit/s' }), { qdiscs: [], nft: { bridge: first.objects } });
  const lines = plain.nft.split('\n');
  const at = (line: string) => lines.indexOf(line);
  t.true(at('flush chain bridge picowire forward') < at('flush chain bridge picowire rule0_mask'));
  t.true(at('delete chain bridge picowire rule0_mask') > at('flush chain bridge picowire pipe0_srcip'));
  t.true(at('delete map bridge picowire pipe0_srcip') > at('delete chain bridge picowire pipe0_srcip'));
  t.true(at('delete map bridge picowire pipe0_srcip_6') > at('delete chain bridge picowire pipe0_srcip'));
  t.deepEqual(plain.objects, { chains: [], maps: [] });
  t.notRegex(plan(masked, { qdiscs: [], nft: { bridge: first.objects } }).nft, /delete (chain|map)/, 'nothing of its own is removed');
});

test('planner: the seed\'s per-/24 shaper marks the pipe instance by /24 and the queue instance by host', (t) => {
  const p = profile({
    name: 'shaper',
    pipes: { '5': { bw: '1Mbit/s', scheduler: 'qfq', mask: { srcIp: '0xffffff00' }, buckets: 2 } },
    queues: { '1': { pipe: '5', weight: 10, mask: { srcIp: '0xffffffff' }, buckets: 2 }, '2': { pipe: '5', weight: 4, mask: { srcIp: '0xffffffff' }, buckets: 2 } },
    rules: [{ number: 100, from: 'b', dstPort: '22,53', queue: '1' }, { number: 200, from: 'b', queue: '2' }],
  });
  const result = plan(p, fresh);
  t.snapshot(result.nft, 'nft');
  t.snapshot(result.tc.filter((l) => / dev a /.test(l)).join('\n'), 'tc lines for port a');
});

test('planner: no two QFQ classes share a weight and a maximum packet size, which would make the kernel serve them as one aggregate, several packets at a turn', (t) => {
  const p = profile({
    name: 'many',
    pipes: { '5': { bw: '1Mbit/s', scheduler: 'qfq' } },
    queues: { '1': { pipe: '5', weight: 10, mask: { srcIp: '/32' } }, '2': { pipe: '5', weight: 10, mask: { dstIp: '/32' }, buckets: 64 } },
    rules: [{ from: 'b', dstPort: 22, queue: '1' }, { from: 'b', queue: '2' }],
  });
  const classes = plan(p, fresh).tc.filter((l) => / dev a .* qfq /.test(l)).map((l) => l.replace(/.* qfq /, ''));
  t.is(classes.length, 1 + 16 + 64, 'the pipe\'s own class and one per queue instance');
  t.is(new Set(classes).size, classes.length, classes.join('; '));
  for (const c of classes) t.regex(c, /^weight (1|10) maxpkt (\d+)$/);
  t.true(classes.every((c) => Number(c.split(' ').pop()) >= 1518 && Number(c.split(' ').pop()) <= 65536), 'each at least a VLAN-tagged full frame, within QFQ\'s 64 KiB');
});

test('planner: rule matches — protocols, address lists, not, port lists and ranges, probability, numbered order, default deny', (t) => {
  const p = profile({
    name: 'matches',
    pipes: { p: { delay: '1ms' } },
    rules: [
      { number: 300, action: 'allow' },
      { number: 100, action: 'deny', proto: ['udp', 'tcp'], dstPort: [9, '6000-6010'] },
      { number: 200, from: 'b', src: ['198.18.0.0/24', '198.18.1.7'], dst: { not: '198.18.9.0/24' }, proto: 'icmp', prob: 0.25, pipe: 'p' },
      { number: 250, src: '2001:db8::/32', proto: 'ipv6-icmp', pipe: 'p' },
    ],
    default: 'deny',
  });
  t.snapshot(plan(p, fresh).nft, 'nft');
});

test('planner: duplication happens in the netdev ingress hook, replaying the rules so the first match decides', (t) => {
  const p = profile({ name: 'dup', pipes: { p: { delay: '5ms', duplicate: 0.02 }, q: { delay: '1ms' } }, rules: [{ action: 'allow', proto: 'tcp' }, { from: 'a', pipe: 'p' }, { pipe: 'q' }] });
  const nft = plan(p, fresh).nft;
  t.snapshot(nft, 'nft');
  t.notRegex(plan(p, fresh).tc.join('\n'), /duplicate/, 'no duplicating netem: kernel 6.1 refuses it beside other netems');
});

test('planner: a mask on both ports reads them as one 32-bit field, so a mask of all five fields keys its map with four (the image nft aborts on five)', (t) => {
  const p = profile({ name: 'm', pipes: { p: { bw: '1Mbit/s', mask: { srcIp: '0xffffffff', dstIp: '0xffffffff', srcPort: '0xffff', dstPort: '0xff00', proto: '0xff' } } }, rules: [{ from: 'a', pipe: 'p' }] });
  const nft = plan(p, fresh).nft;
  t.regex(nft, /map pipe\d+_srcip_dstip_srcport_dstport_proto \{ typeof ip saddr \. ip daddr \. @th,0,32 \. meta l4proto : meta priority;/);
  t.regex(nft, /add @pipe\d+_\S+ \{ \(ip saddr\) \. \(ip daddr\) \. \(@th,0,32 & 0xffffff00\) \. \(meta l4proto\)|add @pipe\d+_\S+ \{ ip saddr \. ip daddr \. \(@th,0,32 & 0xffffff00\) \. meta l4proto :/);
});

test('planner: a rule with an IPv4 source and "not" an IPv6 destination takes one nft rule per family, sharing its counter', (t) => {
  const p = profile({ name: 'f', pipes: { p: { delay: '1ms' } }, rules: [{ from: 'a', pipe: 'p', src: { not: '198.18.0.9' }, dst: { not: '2001:db8::1' } }] });
  const lines = plan(p, fresh).nft.split('\n').filter((l) => l.includes('counter name "rule100_0"'));
  t.is(lines.length, 2);
  t.regex(lines[0]!, /ip saddr != 198\.18\.0\.9 counter/);
  t.regex(lines[1]!, /ip6 daddr != 2001:db8::1 counter/);
  const v6only = profile({ name: 'f', pipes: { p: { delay: '1ms' } }, rules: [{ from: 'a', pipe: 'p', src: { not: '198.18.0.9' }, dst: '2001:db8::/32' }] });
  t.deepEqual(plan(v6only, fresh).nft.split('\n').filter((l) => l.includes('counter name')).map((l) => l.trim().split(' counter')[0]), ['iifname "a" ip6 daddr 2001:db8::/32']);
});

test('planner: a certain duplication or match probability takes no numgen condition (nft refuses 1000000 of 1000000)', (t) => {
  const p = onePipe({ delay: '1ms', duplicate: 1 }, { prob: 1 });
  const nft = plan(p, fresh).nft;
  t.notRegex(nft, /numgen random mod 1000000 < 1000000/);
  t.regex(nft, /dup to "b" accept/);
});

test('validation: a rule whose source and destination are of two families matches nothing and is refused', (t) => {
  const r = validateProfile({ name: 'f', pipes: { p: {} }, rules: [{ from: 'a', pipe: 'p', src: '198.18.0.1', dst: '2001:db8::1' }] });
  t.false(r.ok);
  t.regex(!r.ok ? r.errors.join('\n') : '', /profile\.rules\[0\]: src is IPv4 and dst IPv6: no packet has both/);
});

test('planner: a rule takes IP packets only unless it says l2; a frame that is not IP and no rule took crosses even a default of deny, as on a dummynet bridge', (t) => {
  const ipOnly = plan(profile({ name: 'f', pipes: { p: { bw: '30Byte/s' } }, rules: [{ from: 'a', pipe: 'p' }], default: 'deny' }), fresh).nft;
  t.regex(ipOnly, /iifname "a" meta protocol \{ ip, ip6 \} counter name "rule100_0" meta priority set 1:10 accept\n\t\tmeta protocol != \{ ip, ip6 \} accept\n/);
  const l2 = plan(profile({ name: 'f', pipes: { p: { bw: '30Byte/s' } }, rules: [{ from: 'a', pipe: 'p', l2: true }] }), fresh).nft;
  t.regex(l2, /iifname "a" counter name "rule100_0" meta priority set 1:10 accept/);
  t.notRegex(plan(null, fresh).nft, /meta protocol != /, 'before the first profile nothing crosses, ARP neither');
});

test('planner: an IPv6 mask keys IPv6 packets by the masked prefix, and IPv4 packets all share one instance, as dummynet keys the families apart', (t) => {
  const p = onePipe({ bw: '1Mbit/s', mask: { srcIp6: '/64' }, buckets: 4 });
  const nft = plan(p, fresh).nft;
  t.snapshot(nft, 'nft');
  t.regex(nft, /map pipe0_srcip6_6 \{ type ipv6_addr : classid;/);
  t.regex(nft, /add @pipe0_srcip6_6 \{ ip6 saddr & ffff:ffff:ffff:ffff:: : numgen inc mod 4 offset 0x10010 \}/);
  t.regex(nft, /meta protocol ip add @pipe0_srcip6 \{ meta protocol : numgen inc mod 4 offset 0x10010 \}/, 'IPv4 packets: one key');
});

test('planner: an IPv6 key over the 16 bytes the image nft can put in a map is hashed to 32 bits first; its IPv4 key stays as it was', (t) => {
  const p = onePipe({ bw: '1Mbit/s', mask: { srcIp: '/32', dstIp: '/32', srcIp6: 128, dstIp6: 128, flowId: '0xfffff', srcPort: '0xffff', dstPort: '0xffff', proto: '0xff' }, buckets: 4 });
  const nft = plan(p, fresh).nft;
  t.regex(nft, /map pipe0_\w+_6 \{ typeof numgen inc mod 2 : meta priority;/);
  t.regex(nft, /add @pipe0_\w+_6 \{ jhash th sport \. th dport \. meta l4proto \. ip6 saddr \. ip6 daddr \. ip6 flowlabel mod 4294967295 : numgen inc mod 4 offset 0x10010 \}/);
  t.regex(nft, /add @pipe0_\w+ \{ ip saddr \. ip daddr \. @th,0,32 \. meta l4proto : numgen inc/, 'the IPv4 key reads both ports as one field, as before');
});

test('planner: ip6 and ip4 (JSON family) take one family\'s packets, with or without a protocol or addresses', (t) => {
  const p = profile({
    name: 'families',
    pipes: { p: { delay: '1ms' } },
    rules: [
      { number: 100, family: 'ip6', pipe: 'p' },
      { number: 200, family: 'ip4', proto: 'tcp', pipe: 'p' },
      { number: 300, family: 'ip6', proto: 'icmp6', dst: { not: '2001:2::/48' }, pipe: 'p' },
    ],
  });
  const nft = plan(p, fresh).nft;
  t.regex(nft, /\tmeta protocol ip6 counter name "rule100_0"/);
  t.regex(nft, /\tmeta l4proto 6 meta protocol ip counter name "rule200_1"/);
  t.regex(nft, /\tmeta l4proto 58 ip6 daddr != 2001:2::\/48 counter name "rule300_2"/);
  t.notRegex(nft, /rule300_2.*\n.*rule300_2/, 'one nft rule: the family leaves out the IPv4 variant');
});

test('planner: ipfw mac and mac-type (JSON dstMac, srcMac, macType) are Ethernet conditions of a frame rule; without l2, or beside IP conditions, they are refused', (t) => {
  const p = profile({
    name: 'frames',
    pipes: { p: { bw: '30Byte/s' } },
    rules: [
      { number: 100, srcMac: '02:70:77:00:00:01', macType: 'arp', l2: true, pipe: 'p' },
      { number: 200, dstMac: '02:70:77:00:00:00/24', macType: ['0x0800-0x86dd', 'vlan', 2054], l2: true, pipe: 'p' },
    ],
  });
  const nft = plan(p, fresh).nft;
  t.regex(nft, /\tether saddr 02:70:77:00:00:01 ether type 0x0806 counter name "rule100_0"/);
  t.regex(nft, /\tether daddr & ff:ff:ff:00:00:00 == 02:70:77:00:00:00 ether type \{ 0x0800-0x86dd, 0x8100, 0x0806 \} counter name "rule200_1"/);
  const bad = validateProfile({ name: 'x', pipes: { p: { delay: 1 } }, rules: [{ srcMac: '02:70:77:00:00:01', pipe: 'p' }, { macType: 'arp', proto: 'tcp', l2: true, pipe: 'p' }, { macType: 'ethernet', l2: true, pipe: 'p' }] });
  t.false(bad.ok);
  t.deepEqual(bad.ok ? [] : bad.errors, [
    'profile.rules[0]: dstMac, srcMac and macType match Ethernet frames, which a rule takes only with "l2": true (ipfw layer2); add it',
    'profile.rules[1].macType: a rule takes macType or IP conditions (proto, src, dst, ports, family), not both: the IP conditions already say the frame\'s type',
    'profile.rules[2].macType: "ethernet" is not an Ethernet type; allowed: a number (0x0806 or 2054), a name (ip, ipv4, ipv6, arp, rarp, vlan, loopback, trail, at, atalk, appletalk, aarp, ipx, pppoe_disc, pppoe_sess), a range "0x0800-0x86dd" (low <= high), or a list',
  ]);
});
