// dummynet's show commands from picowire's status: the layouts of FreeBSD's sbin/ipfw (list_pipes,
// list_flow, print_flowset_parms, print_mask, show_static_rule), filled from recorded counters.
import test from 'ava';
import { plan } from '../../src/agent/plan.ts';
import { nftCounters, nftMaps, statusFrom } from '../../src/agent/status.ts';
import { formatShow, showCommand } from '../../src/ipfw/show.ts';
import { parseIpfw } from '../../src/ipfw/index.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { kernelAfter } from '../helpers/kernel-after.ts';


const timed = (val: unknown) => ({ elem: { val, expires: 59 } });

const IPV6 = parseIpfw(`pipe 1 config bw 10Mbit/s delay 20ms mask src-ip6 /128 buckets 4
pipe 2 config bw 256Kbit/s queue 20 plr 0.01
ipfw add 1000 pipe 1 ip6 from any to any out
ipfw add 2000 pipe 2 ip from any to any in`, 'v6');

function v6Status() {
  const nft = JSON.stringify({
    nftables: [
      { counter: { name: 'rule1000_0', packets: 1500, bytes: 1_620_000 } },
      { counter: { name: 'rule2000_1', packets: 12, bytes: 1176 } },
      { map: { name: 'pipe0_srcip6', elem: [] } },
      { map: { name: 'pipe0_srcip6_6', elem: [[timed('2001:2::1'), '1:10'], [timed('2001:2::2'), '1:11']] } },
    ],
  });
  const qdiscs = kernelAfter(IPV6, {
    'b 10:': { packets: 1000, bytes: 1_080_000, drops: 3, qlen: 2, backlog: 2160 },
    'b 4000:': { packets: 997, bytes: 1_076_760 },
    'b 11:': { packets: 500, bytes: 540_000 },
    'b 4001:': { packets: 500, bytes: 540_000 },
    'a 14:': { packets: 12, bytes: 1176 },
    'a 4004:': { packets: 11, bytes: 1078, drops: 1 },
  });
  return statusFrom(IPV6, qdiscs, nftCounters(nft), nftMaps(nft));
}

test('ipfw pipe show: link, flowset and scheduler lines as dummynet prints them, then one line per instance with its IPv6 key', (t) => {
  const text = formatShow('pipe', IPV6, v6Status());
  t.snapshot(text);
  const lines = text.split('\n');
  t.is(lines[0], '00001:  10.000 Mbit/s   20 ms burst 0');
  t.is(lines[1], 'q131073  50 sl. 2 flows (4 buckets) sched 65537 weight 0 lmax 0 pri 0 droptail');
  t.is(lines[2], ' sched 65537 type FIFO flags 0x1 4 buckets 2 active');
  t.is(lines[4], '        mask: proto: 0x00, flow_id: 0x00000000,  ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/0x0000 -> ::/0x0000');
  t.is(lines[5], 'BKT ___Prot___ _flow-id_ ______________Source IPv6/port_______________ _______________Dest. IPv6/port_______________ Tot_pkt/bytes Pkt/Byte Drp');
  t.is(lines[6], `  0        ip       0  ${'2001:2::1'.padStart(39)}/0      ${'::'.padStart(39)}/0      997  1076760  2 2160   3`);
  t.is(lines[7], `  1        ip       0  ${'2001:2::2'.padStart(39)}/0      ${'::'.padStart(39)}/0      500   540000  0    0   0`);
  t.regex(text, /^00002: 256\.000 Kbit\/s    0 ms burst 0$/m);
  t.regex(text, /^q131074  20 sl\.plr 0\.010000 1 flows \(1 buckets\) sched 65538 weight 0 lmax 0 pri 0 droptail$/m);
  const zero = '0.0.0.0'.padStart(15);
  t.deepEqual(lines.slice(-3), ['BKT Prot ___Source IP/port____ ____Dest. IP/port____ Tot_pkt/bytes Pkt/Byte Drp', `  0 ip   ${zero}/0     ${zero}/0       11     1078  0    0   1`, '']);
  t.is(formatShow('pipe', IPV6, v6Status(), [2]).split('\n')[0], '00002: 256.000 Kbit/s    0 ms burst 0', 'pipe show 2: that pipe alone');
});

test('ipfw show: rule number, packets and bytes right-aligned to the widest, the rule as ipfw writes it, then the default rule', (t) => {
  t.is(
    formatShow('rules', IPV6, v6Status()),
    ['01000 1500 1620000 pipe 1 ip6 from any to any out', '02000   12    1176 pipe 2 ip from any to any in', '65535    0       0 allow ip from any to any', ''].join('\n'),
  );
});

test('ipfw queue show and sched show: the weighted queues of FreeBSD\'s example, their masks and instances', (t) => {
  const p = parseIpfw(`ipfw pipe 1 config bw 1MByte/s
ipfw sched 1 config type wf2q+
ipfw queue 100 config sched 1 weight 99 mask src-ip 0xffffffff
ipfw queue 200 config sched 1 weight 1
ipfw add 100 queue 100 tcp from 198.18.0.0/24 to any out
ipfw add 200 queue 200 icmp from 198.18.0.1 to any out`, 'weighted');
  const leaf = (parent: string) => /handle (\S+)/.exec(plan(p, { qdiscs: [] }).tc.find((l) => l.includes('dev b') && l.includes(`parent ${parent} `) && /fifo/.test(l))!)![1]!;
  const nft = JSON.stringify({ nftables: [{ map: { name: 'queue0_2_srcip', elem: [[timed('198.18.0.1'), 2], [timed('198.18.0.2'), 3]] } }] });
  const qdiscs = kernelAfter(p, {
    'b 10:': { packets: 90 },
    [`b ${leaf('8000:2')}`]: { packets: 60, bytes: 90_000, drops: 4, qlen: 3, backlog: 4500 },
    [`b ${leaf('8000:3')}`]: { packets: 20, bytes: 30_000 },
    [`b ${leaf('8000:12')}`]: { packets: 10, bytes: 840 },
  });
  const s = statusFrom(p, qdiscs, new Map(), nftMaps(nft));
  const queues = formatShow('queue', p, s);
  t.snapshot(queues, 'queue show');
  t.regex(queues, /^q00100  50 sl\. 2 flows \(16 buckets\) sched 1 weight 99 lmax 0 pri 0 droptail\n {4}mask: {2}0x00 0xffffffff\/0x0000 -> 0x00000000\/0x0000\n/);
  t.true(queues.includes(`  1 ip   ${'198.18.0.2'.padStart(15)}/0     ${'0.0.0.0'.padStart(15)}/0       20    30000  0    0   0\n`), 'the second host\'s instance, keyed by its address');
  t.regex(queues, /^q00200  50 sl\. 1 flows \(1 buckets\) sched 1 weight 1 lmax 0 pri 0 droptail$/m);
  const sched = formatShow('sched', p, s);
  t.snapshot(sched, 'sched show');
  t.is(sched.split('\n').slice(0, 3).join('\n'), '00001:   8.000 Mbit/s    0 ms burst 0\n sched 1 type WF2Q+ flags 0x0 0 buckets 1 active\n   Children flowsets: 200 100 ');
});

test('which show a command asks for: ipfw show, pipe|queue|sched show or list, with numbers before or after, dnctl alike', (t) => {
  t.deepEqual(showCommand('ipfw', ['show']), { what: 'rules', numbers: [] });
  t.deepEqual(showCommand('ipfw', ['-a', 'show', '1000']), { what: 'rules', numbers: [1000] });
  t.deepEqual(showCommand('ipfw', ['pipe', 'show']), { what: 'pipe', numbers: [] });
  t.deepEqual(showCommand('ipfw', ['pipe', '1', 'show']), { what: 'pipe', numbers: [1] });
  t.deepEqual(showCommand('dnctl', ['queue', 'list', '100', '200']), { what: 'queue', numbers: [100, 200] });
  t.deepEqual(showCommand('dnctl', ['sched', 'show']), { what: 'sched', numbers: [] });
  t.is(showCommand('dnctl', ['show']), undefined, 'dnctl has no rules to show');
  t.is(showCommand('ipfw', ['pipe', '1', 'config', 'bw', '1Mbit/s']), undefined);
  t.is(showCommand('ipfw', ['pipe', 'show', 'x']), undefined);
});
