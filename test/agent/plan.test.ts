import test from 'ava';
import { stateAfter } from '../../src/agent/apply.ts';
import { alreadyApplied, delayLinePackets, plan, queuePackets, type KernelState } from '../../src/agent/plan.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { validateProfile } from '../../src/profile/validate.ts';
import { resolvePipe } from '../../src/profile/resolve.ts';

/** A profile through validation, as the agent gives it to the planner. */
const profile = (value: unknown): Profile => {
  const r = validateProfile(value);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.value;
};

const wanAsym = profile({
  name: 'wan-asym',
  pipes: { up: { bw: '256Kbit/s', delay: '20ms' }, down: { bw: '4Mbit/s', delay: '5ms', plr: 0.01, queue: 50 } },
  rules: [
    { from: 'a', pipe: 'up' },
    { from: 'b', pipe: 'down' },
  ],
});

// what the ports have right after boot: the kernel's default root qdiscs
const fresh: KernelState = {
  qdiscs: [
    { dev: 'a', kind: 'pfifo_fast', handle: '0:', root: true },
    { dev: 'b', kind: 'pfifo_fast', handle: '0:', root: true },
  ],
};

/** The qdiscs the kernel would hold after running a plan's tc lines (the agent's own model, which it plans runtime changes over). */
const after = (state: KernelState, lines: string[]): KernelState => stateAfter(state, { dists: {}, tc: lines, nft: '', cleanup: [], objects: { chains: [], maps: [] } });

test('the example profile: delay line then bottleneck on the egress port of each direction, and nft marks by ingress port', (t) => {
  const p = plan(wanAsym, fresh);
  t.snapshot(p.tc.join('\n'), 'tc -batch');
  t.snapshot(p.nft, 'nft -f');
  t.deepEqual(p.cleanup, []);
});

test('traffic from a is shaped on b\'s egress by the pipe its rule names', (t) => {
  const p = plan(wanAsym, fresh);
  // the bottleneck first (queue and transmission time), then the delay line with the random loss
  t.true(p.tc.includes('qdisc replace dev b parent 1:10 handle 10: netem rate 256000bit limit 43'));
  t.true(p.tc.includes('qdisc replace dev b parent 10:1 handle 4000: netem delay 20000us limit 16513'));
  t.true(p.tc.includes('qdisc replace dev a parent 1:11 handle 11: netem rate 4000000bit limit 50'));
  t.true(p.tc.includes('qdisc replace dev a parent 11:1 handle 4001: netem delay 5000us loss random 1% limit 4129'));
  t.false(p.tc.some((l) => l.startsWith('class replace dev a parent 1: classid 1:10 ')), 'the up pipe is not on a');
  // IP packets only, as ipfw's rules: ARP crosses unshaped (a rule with l2 takes it)
  t.regex(p.nft, /iifname "a" meta protocol \{ ip, ip6 \} counter name "rule100_0" meta priority set 1:10 accept\n\t\tiifname "b" meta protocol \{ ip, ip6 \} counter name "rule200_1" meta priority set 1:11 accept/);
});

test('before any profile the bridge forwards nothing and the ports keep their own qdiscs', (t) => {
  const p = plan(null, fresh);
  t.deepEqual(p.tc, []);
  t.snapshot(p.nft, 'nft -f');
  t.regex(p.nft, /policy drop;\n\t}/);
});

test('a port no pipe leaves by keeps the device\'s own qdisc; ours goes from a port that no longer needs it, after nft stops marking', (t) => {
  const oneWay = plan(profile({ name: 'up', pipes: { up: { bw: '1Mbit/s' } }, rules: [{ from: 'a', pipe: 'up' }] }), fresh);
  t.false(oneWay.tc.some((l) => / dev a /.test(l)), 'traffic leaving by a is not shaped: no HTB there');
  t.true(oneWay.tc.includes('qdisc replace dev b root handle 1: htb default ffff'));
  const state = after(fresh, oneWay.tc);
  const open = plan(profile({ name: 'open' }), state);
  t.deepEqual(open.tc, []);
  t.deepEqual(open.cleanup, ['qdisc del dev b root handle 1:']);
  t.deepEqual(after(state, open.cleanup).qdiscs.filter((q) => q.dev === 'b'), [], 'the HTB root and everything under it');
});

test('a profile without rules forwards everything unshaped, with no chain hooking the packets; one with rules brings the chain back', (t) => {
  const p = plan(profile({ name: 'passthrough' }), fresh);
  t.regex(p.nft, /\nflush chain bridge picowire forward\ndelete chain bridge picowire forward\n/, 'declared first, so deleting it works whether or not it was there');
  t.deepEqual(p.tc, []);
  const allowOnly = plan(profile({ name: 'allow', rules: [{ action: 'allow', proto: 'tcp' }] }), fresh);
  t.regex(allowOnly.nft, /chain forward \{\n\t\ttype filter hook forward priority 0; policy accept;\n\t\tmeta l4proto 6 counter name "rule100_0" accept\n/);
  t.notRegex(plan(profile({ name: 'closed', default: 'deny' }), fresh).nft, /delete chain/, 'a default of deny needs the chain');
});

test('planning over the state a plan produced changes qdiscs only in place: no new root, nothing deleted', (t) => {
  const once = plan(wanAsym, fresh);
  const state = after(fresh, once.tc);
  const twice = plan(wanAsym, state);
  t.false(twice.tc.some((l) => / root /.test(l) || l.startsWith('qdisc del')), twice.tc.join('\n'));
  t.deepEqual(twice.cleanup, []);
  t.true(twice.tc.every((l) => l.includes(' replace ')));
  t.true(alreadyApplied(twice, state));
  t.false(alreadyApplied(once, fresh));
});

test('a pipe no rule uses any more is removed after nft stops marking for it, and a pipe that lost its bw loses its bottleneck', (t) => {
  const before = profile({
    name: 'three',
    pipes: { up: { bw: '1Mbit/s', delay: 10 }, down: { bw: '2Mbit/s' }, spare: { delay: 1 } },
    rules: [
      { from: 'a', pipe: 'up' },
      { from: 'b', pipe: 'down' },
      { from: 'b', pipe: 'spare' },
    ],
  });
  const now = profile({ name: 'two', pipes: { up: { delay: 10 }, down: { bw: '2Mbit/s' } }, rules: [{ from: 'a', pipe: 'up' }, { from: 'b', pipe: 'down' }] });
  const state = after(fresh, plan(before, fresh).tc);
  const p = plan(now, state);
  t.snapshot(p, 'changing three pipes to two');
  t.true(p.tc.includes('qdisc del dev b parent 10:1 handle 4000:'));
  t.deepEqual(p.cleanup, ['class del dev a classid 1:12'], 'spare, no longer used');
  t.false(alreadyApplied(p, state));
});

test('a root qdisc of another kind with our handle is deleted first, since the kernel cannot change a qdisc\'s kind', (t) => {
  const p = plan(profile({ name: 'down', pipes: { down: { delay: '5ms' } }, rules: [{ from: 'b', pipe: 'down' }] }), { qdiscs: [{ dev: 'a', kind: 'prio', handle: '1:', root: true }] });
  t.deepEqual(p.tc.slice(0, 2), ['qdisc del dev a root', 'qdisc replace dev a root handle 1: htb default ffff']);
});

test('a pipe both directions use gets a class on each port', (t) => {
  const p = plan(profile({ name: 'both', pipes: { lan: { bw: '100Mbit/s', delay: '1ms' } }, rules: [{ from: 'a', pipe: 'lan' }, { from: 'b', pipe: 'lan' }] }), fresh);
  t.true(p.tc.includes('class replace dev a parent 1: classid 1:10 htb rate 100gbit burst 64k cburst 64k quantum 1514'));
  t.true(p.tc.includes('class replace dev b parent 1: classid 1:10 htb rate 100gbit burst 64k cburst 64k quantum 1514'));
});

test('a delay-only pipe is one netem with its loss and no bottleneck', (t) => {
  const p = plan(profile({ name: 'lossy', pipes: { sat: { delay: '300ms', plr: 0.07 } }, rules: [{ from: 'a', pipe: 'sat' }] }), fresh);
  t.snapshot(p.tc.filter((l) => l.includes('netem')), 'netem lines');
  t.true(p.tc.includes('qdisc replace dev b parent 1:10 handle 10: netem delay 300000us loss random 7% limit 247689'));
});

test('the default queue is two bandwidth-delay products, at least 64 KiB, in full-size frames', (t) => {
  t.is(queuePackets(resolvePipe({ bw: 256_000, delay: 20 })), 43); // 1280 bytes → the 64 KiB floor
  t.is(queuePackets(resolvePipe({ bw: 100e6, delay: 50 })), 825); // 2 × 625000 bytes / 1514
  t.is(queuePackets(resolvePipe({ bw: 1e6, queue: '64KB' })), 43);
  t.is(queuePackets(resolvePipe({ bw: 1e6, queue: 7 })), 7);
});

test('the delay line holds everything a 10 Gbit/s port can deliver during the delay, and never fewer than 1000 packets', (t) => {
  t.is(delayLinePackets(0), 1000);
  t.is(delayLinePackets(1000), 1000);
  t.is(delayLinePackets(20_000), 16513);
});
