import test from 'ava';
import { validateProfile } from '../../src/profile/validate.ts';
import { resolvePipe } from '../../src/profile/resolve.ts';

const example = {
  name: 'wan-asym',
  pipes: { up: { bw: '256Kbit/s', delay: '20ms' }, down: { bw: '4Mbit/s', delay: '5ms', plr: 0.01, queue: 50 } },
  rules: [
    { from: 'a', pipe: 'up' },
    { from: 'b', pipe: 'down' },
  ],
};

/** The errors of a profile that must be rejected. */
const errorsOf = (value: unknown): string[] => {
  const r = validateProfile(value);
  if (r.ok) throw new Error('expected the profile to be rejected');
  return r.errors;
};

test('the issue\'s example profile is accepted as written', (t) => {
  const r = validateProfile(example);
  t.true(r.ok);
  if (r.ok) t.deepEqual(r.value, example);
});

test('a profile with only a name is a plain wire: no pipes, no rules', (t) => {
  t.deepEqual(validateProfile({ name: 'passthrough' }), { ok: true, value: { name: 'passthrough', pipes: {}, rules: [] } });
});

test('validation fills defaults in a copy and leaves the caller\'s object alone', (t) => {
  const input = { name: 'x' };
  validateProfile(input);
  t.deepEqual(input, { name: 'x' });
});

test('every error of a profile is reported at once, structural and semantic together', (t) => {
  const errors = errorsOf({
    name: 'bad name',
    extra: 1,
    pipes: { up: { bw: '4 furlongs', delay: true, plr: 2, colour: 'red' }, 'has space': {} },
    rules: [{ from: 'c', pipe: 'upp' }],
  });
  t.deepEqual(errors, [
    'profile: unknown key "extra"; allowed keys: $schema, name, description, pipes, queues, rules, default, engine',
    'profile.name: "bad name" must match pattern "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"; allowed: up to 64 letters, digits, ".", "_" and "-"',
    'profile.pipes.up: unknown key "colour"; allowed keys: bw, delay, jitter, delayProfile, plr, loss, duplicate, corrupt, reorder, queue, overhead, burst, scheduler, mask, buckets, schedule, trace, aqm, fq',
    'profile.pipes.up.delay: true is not allowed; allowed: a duration: a number of milliseconds, or text such as "20ms" (us, ms, s; a bare number is milliseconds)',
    'profile.pipes.up.plr: 2 must be <= 1; allowed: packet loss rate: a probability from 0 to 1, such as 0.01',
    'profile.rules[0].from: "c" is not allowed; allowed: "a", "b"',
    'profile.pipes.up.bw: "4 furlongs": unknown bandwidth unit "furlongs"; allowed: bit/s, Kbit/s, Mbit/s, Gbit/s, Byte/s, KByte/s, MByte/s, GByte/s; also bps, Kbps, Mbps, Gbps; B is a byte, b a bit',
    'profile.pipes["has space"]: "has space" is not a pipe name; allowed: up to 32 letters, digits, ".", "_" and "-", starting with a letter or digit',
    'profile.rules[0].pipe: "upp" is not a pipe of this profile; pipes: up, has space',
  ]);
});

const outOfRange: [string, Record<string, unknown>, RegExp][] = [
  ['a bandwidth below 8 bit/s', { bw: 4 }, /^profile\.pipes\.p\.bw: 4 is too small \(4 bit\/s\); allowed: from 8 bit\/s/],
  ['a bandwidth above 100 Gbit/s', { bw: '200Gbit/s' }, /^profile\.pipes\.p\.bw: "200Gbit\/s" is too large/],
  ['a negative delay', { delay: -1 }, /^profile\.pipes\.p\.delay: -1 is too small \(-1000 µs\); allowed: from 0 to 10 s/],
  ['a delay above 10 s', { delay: '11s' }, /^profile\.pipes\.p\.delay: "11s" is too large/],
  ['a queue of 0 packets', { bw: '1Mbit/s', queue: 0 }, /^profile\.pipes\.p\.queue: 0 is too small \(0 packets\)/],
  ['a queue smaller than one frame', { bw: '1Mbit/s', queue: '1000B' }, /^profile\.pipes\.p\.queue: "1000B" is too small \(1000 bytes\); allowed: from 1514 bytes/],
  ['a fractional queue', { bw: '1Mbit/s', queue: 1.5 }, /^profile\.pipes\.p\.queue: 1\.5 is not allowed; allowed: a queue: a number of packets/],
  ['a queue without a bandwidth', { queue: 50 }, /^profile\.pipes\.p\.queue: a queue needs a bottleneck: add "bw"/],
  ['a loss probability below 0', { plr: -0.1 }, /^profile\.pipes\.p\.plr: -0\.1 must be >= 0/],
];
for (const [what, pipe, message] of outOfRange) {
  test(`${what} is rejected with the allowed range`, (t) => {
    const errors = errorsOf({ name: 'x', pipes: { p: pipe } });
    t.is(errors.length, 1, errors.join('\n'));
    t.regex(errors[0]!, message);
  });
}

test('a rule naming a pipe in a profile without pipes says where to add it', (t) => {
  t.deepEqual(errorsOf({ name: 'x', rules: [{ from: 'a', pipe: 'up' }] }), [
    'profile.rules[0].pipe: "up" is not a pipe of this profile; pipes: none (add it under "pipes")',
  ]);
});

test('something that is not an object is rejected with one line', (t) => {
  t.deepEqual(errorsOf(null), ['profile: null must be object']);
  t.deepEqual(errorsOf([]), ['profile: [] must be object']);
});

test('a validated pipe resolves to bit/s, µs, a probability and its queue', (t) => {
  const none = { duplicate: 0, corrupt: 0, overhead: 0, buckets: 1 };
  t.deepEqual(resolvePipe(example.pipes.down), { bw: 4_000_000, delay: 5000, plr: 0.01, queue: { packets: 50 }, ...none });
  t.deepEqual(resolvePipe({ delay: 1.5 }), { delay: 1500, plr: 0, ...none });
  t.deepEqual(resolvePipe({ bw: '1.5Kbit/s', queue: '64KB' }), { bw: 1500, delay: 0, plr: 0, queue: { bytes: 65536 }, ...none });
});
