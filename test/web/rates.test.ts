// The page's pure parts on the host: rates from two counter readings, ΔT, the kept history, the
// event stream's parser and where an error's field is written.
import test from 'ava';
import type { PipeStatus, QueueStatus, Status } from '../../src/agent/status.ts';
import { resolve } from '../../src/profile/validate.ts';
import { History, KEEP_SECONDS } from '../../src/web/history.ts';
import { errorField, fieldOffsets, lineOf } from '../../src/web/jsonpos.ts';
import { addedDelayMs, DEFAULT_PACKET_BYTES, perSecond, queueDelayMs, samples } from '../../src/web/rates.ts';
import { parseEvents } from '../../src/web/sse.ts';

const profile = resolve({ name: 'wan', pipes: { up: { bw: '1Mbit/s', delay: '10ms' } }, rules: [{ from: 'a', pipe: 'up' }] });
const pipe = (bytes: number, packets: number, extra: Partial<PipeStatus> = {}): PipeStatus => ({ pipe: 'up', instance: 0, port: 'b', packets, bytes, randomDrops: 0, overflowDrops: 0, backlog: { packets: 0, bytes: 0 }, queues: [], ...extra });
const status = (pipes: PipeStatus[], name = 'wan'): Status => ({ profile: name, pipes, rules: [] });

test('a rate is the counter difference over the time between readings, and unknown when the counter went back or no time passed', (t) => {
  t.is(perSecond(1000, 126_000, 1), 125_000);
  t.is(perSecond(0, 250_000, 2), 125_000);
  t.is(perSecond(5000, 10, 1), null);
  t.is(perSecond(0, 10, 0), null);
});

test('ΔT = (Q + L)/B + t_PD: 10 KB queued and a full frame at 1 Mbit/s behind 10 ms is 102.1 ms; without bw only the delay', (t) => {
  t.is(addedDelayMs(10_000, 1514, 1e6, 10_000).toFixed(1), '102.1');
  t.is(addedDelayMs(0, 1514, 1e6, 0).toFixed(3), '12.112');
  t.is(addedDelayMs(50_000, 1514, undefined, 20_000), 20);
});

test('samples give bit/s, drops by cause and ΔT per pipe instance from two readings of the counters', (t) => {
  const before = status([pipe(1000, 10, { randomDrops: 1, overflowDrops: 2 })]);
  const after = status([pipe(1000 + 250_000, 10 + 200, { randomDrops: 5, overflowDrops: 12, backlog: { packets: 4, bytes: 5000 } })]);
  const [s] = samples(before, after, 2, profile);
  t.is(s!.key, 'b/up#0');
  t.is(s!.bitsPerS, 1e6);
  t.is(s!.packetsPerS, 100);
  t.is(s!.randomDropsPerS, 2);
  t.is(s!.overflowDropsPerS, 5);
  t.is(s!.queueBytes, 5000);
  // L is the interval's mean packet: 125000 B / 100 packets
  t.is(s!.delayMs!.toFixed(3), addedDelayMs(5000, 1250, 1e6, 10_000).toFixed(3));
});

test('the first reading, and the first after another profile, have no rate but still a queue and ΔT with a full frame', (t) => {
  const [first] = samples(null, status([pipe(5000, 5)]), 1, profile);
  t.is(first!.bitsPerS, null);
  t.is(first!.delayMs!.toFixed(3), addedDelayMs(0, DEFAULT_PACKET_BYTES, 1e6, 10_000).toFixed(3));
  const [changed] = samples(status([pipe(1000, 1)], 'old'), status([pipe(9000, 9)]), 1, profile);
  t.is(changed!.bitsPerS, null);
});

test('queues of a scheduled pipe get samples of their own under the pipe instance, but not instances that never carried a packet', (t) => {
  const q = { queue: 'ssh', instance: 3, packets: 1, bytes: 0, overflowDrops: 0, backlog: { packets: 0, bytes: 0 } };
  const idle = { ...q, instance: 4, packets: 0 };
  const out = samples(status([pipe(0, 0, { queues: [q, idle] })]), status([pipe(0, 0, { queues: [{ ...q, bytes: 1000, overflowDrops: 1 }, idle] })]), 1, profile);
  t.deepEqual(out.map((s) => s.key), ['b/up#0', 'b/up#0/ssh#3']);
  t.is(out[1]!.bitsPerS, 8000);
  t.is(out[1]!.overflowDropsPerS, 1);
  // the only queue with traffic gets the whole 1 Mbit/s (no weights here: 1 each), behind the pipe's 10 ms
  t.is(out[1]!.delayMs!.toFixed(3), addedDelayMs(0, DEFAULT_PACKET_BYTES, 1e6, 10_000).toFixed(3));
});

test('the history keeps five minutes of the instances the box reports, and averages the last seconds by time, skipping unknowns', (t) => {
  const h = new History();
  const at = (time: number, bits: number | null) => h.add(time, [{ key: 'k', bitsPerS: bits, packetsPerS: null, randomDropsPerS: null, overflowDropsPerS: null, queueBytes: 0, queuePackets: 0, delayMs: null }]);
  for (let i = 0; i < KEEP_SECONDS + 50; i++) at(i, i % 2 ? null : 100);
  t.is(h.series.get('k')!.time.length, KEEP_SECONDS);
  t.is(h.series.get('k')!.time[0], 50);
  at(1000, 400);
  t.is(h.recentMean('k', 'bitsPerS', 3), null, 'a point alone (the others fell off) has no interval to weigh it by');
  // weighted by time: 100 over 1 s then 400 over 3 s is 325, not 250
  at(1001, 100);
  at(1004, 400);
  t.is(h.recentMean('k', 'bitsPerS', 5), 325);
  t.is(h.recentMean('nothing', 'bitsPerS', 3), null);
  h.add(1005, []);
  t.false(h.series.has('k'), 'an instance the box no longer reports goes');
});

test('the event parser splits whole events, joins data lines and keeps an unfinished one for later', (t) => {
  const { events, rest } = parseEvents('retry: 2000\n\nevent: counters\ndata: {"a":\ndata: 1}\n\n: comment\n\nevent: profile\r\ndata: {"kind":"applied"}\r\n\r\nevent: coun');
  t.deepEqual(events, [{ event: 'counters', data: '{"a":\n1}' }, { event: 'profile', data: '{"kind":"applied"}' }]);
  t.is(rest, 'event: coun');
});

test('an error is placed at the line of the field it names, or of the nearest field above it', (t) => {
  const text = JSON.stringify({ name: 'x', pipes: { up: { bw: 'fast' }, 'a b': {} }, rules: [{ from: 'a', pipe: 'up' }] }, null, 2);
  const offsets = fieldOffsets(text);
  const line = (error: string) => lineOf(text, offsets.get(errorField(error, offsets))!);
  t.is(line('profile.pipes.up.bw: "fast" is not a bandwidth'), 5);
  t.is(line('profile.pipes["a b"]: "a b" is not a pipe name'), 7);
  t.is(line('profile.rules[0].pipe.extra: nothing there'), 12);
  t.is(errorField('profile.queues.q: no such key', offsets), 'profile');
  t.is(fieldOffsets('{"name": ').get('profile'), 0, 'broken JSON gives only the root');
});

test('ΔT in a queue: its own backlog at its weighted share of bw among the backlogged queues, or under PRIO everything of its weight or higher', (t) => {
  const queued = (queue: string, bytes: number): QueueStatus => ({ queue, instance: 0, packets: 1, bytes: 1, overflowDrops: 0, backlog: { packets: bytes ? 1 : 0, bytes } });
  const shaped = (scheduler: 'wf2q+' | 'prio') => resolve({ name: 'w', pipes: { p: { bw: '1Mbit/s', delay: '10ms', scheduler } }, queues: { hi: { pipe: 'p', weight: 3 }, lo: { pipe: 'p', weight: 1 }, idle: { pipe: 'p', weight: 4 } }, rules: [{ from: 'a', queue: 'hi' }] });
  const [hi, lo, idle] = [queued('hi', 9000), queued('lo', 3000), queued('idle', 0)];
  const all = [hi, lo, idle];
  const wf2q = shaped('wf2q+');
  // hi and lo have a backlog: hi gets 3/4 of 1 Mbit/s, lo 1/4; the idle queue takes no share until it has one
  t.is(queueDelayMs(hi, all, wf2q, wf2q.pipes.p!, 1000).toFixed(3), addedDelayMs(9000, 1000, 0.75e6, 10_000).toFixed(3));
  t.is(queueDelayMs(lo, all, wf2q, wf2q.pipes.p!, 1000).toFixed(3), addedDelayMs(3000, 1000, 0.25e6, 10_000).toFixed(3));
  // a packet arriving in the idle queue now shares with both: 4/8
  t.is(queueDelayMs(idle, all, wf2q, wf2q.pipes.p!, 1000).toFixed(3), addedDelayMs(0, 1000, 0.5e6, 10_000).toFixed(3));
  const prio = shaped('prio');
  // PRIO: lo (weight 1) waits behind hi's and idle's backlog too; hi only behind idle's (empty) and its own
  t.is(queueDelayMs(lo, all, prio, prio.pipes.p!, 1000).toFixed(3), addedDelayMs(12_000, 1000, 1e6, 10_000).toFixed(3));
  t.is(queueDelayMs(hi, all, prio, prio.pipes.p!, 1000).toFixed(3), addedDelayMs(9000, 1000, 1e6, 10_000).toFixed(3));
});
