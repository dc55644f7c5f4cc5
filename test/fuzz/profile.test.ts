// Fuzz test of the profile validator and the planner (issue 4): thousands of generated profiles,
// mostly valid (pipes with random subsets of fields in range, queues and rules referring to them),
// then the same with random mutations (keys deleted, values replaced by random JSON, unknown keys,
// types swapped, numbers at and beyond the limits, NaN-ish strings, huge arrays), then totally
// random values. What must hold: validateProfile never throws; a rejection has one or more
// messages, each starting with its path ("profile..."); an accepted profile plans (tc lines are
// qdisc/class/filter, the nft script has the bridge table) and formats to ipfw text that
// parseIpfw reads or refuses with a UserError; no call takes more than CALL_LIMIT_MS of CPU time (a hang or a
// ReDoS shows there).
//
// Reproducible: every property runs with a fixed seed (SEED below). To replay a failure, fast-check
// prints `{ seed, path }`: add `path: '...'` next to `seed` in that property's runProperty options
// (test/fuzz/helpers.ts), or change SEED to explore other inputs. Run: npx ava test/fuzz/profile.test.ts
import test from 'ava';
import fc from 'fast-check';
import { validateProfile } from '../../src/profile/validate.ts';
import { brief, checkAccepted, checkedValidate, mutate, mutationArb, runProperty, timed } from './helpers.ts';
import { objectName, profileArb } from './profile-arbs.ts';

const SEED = 20240604;
/** Cases per property. */
const RUNS = { generated: 2500, mutated: 2000, json: 2000, anything: 1000 };

/** The whole check of one input. */
function check(value: unknown): void {
  const r = checkedValidate(value);
  if (r.ok) checkAccepted(r.value);
}

test('generated profiles: validated without a throw; accepted ones plan and format; rejections say where', (t) => {
  let accepted = 0;
  let total = 0;
  const property = fc.property(profileArb, (value) => {
    total++;
    const r = checkedValidate(value);
    if (r.ok) {
      accepted++;
      checkAccepted(r.value);
    }
  });
  runProperty(t, 'generated profiles', property, { seed: SEED, numRuns: RUNS.generated });
  t.log(`${accepted} of ${total} generated profiles accepted`);
  // the generator must mostly make valid profiles, or this test says little about the planner
  t.true(accepted > total / 3, `${accepted} of ${total} accepted`);
});

test('mutated profiles: never a throw, every rejection has messages', (t) => {
  let accepted = 0;
  let total = 0;
  const property = fc.property(profileArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (value, mutations) => {
    total++;
    const r = checkedValidate(mutate(value, mutations));
    if (r.ok) {
      accepted++;
      checkAccepted(r.value);
    }
  });
  runProperty(t, 'mutated profiles', property, { seed: SEED + 1, numRuns: RUNS.mutated });
  t.log(`${accepted} of ${total} mutated profiles accepted`);
  t.pass();
});

test('random JSON values: never a throw, every rejection has messages', (t) => {
  runProperty(t, 'fc.jsonValue()', fc.property(fc.jsonValue(), check), { seed: SEED + 2, numRuns: RUNS.json });
  // random objects that at least have the top-level keys, so the checks go deeper than "not an object"
  const shaped = fc.record(
    { name: fc.oneof(fc.constant('x'), fc.jsonValue()), pipes: fc.jsonValue(), queues: fc.jsonValue(), rules: fc.jsonValue(), default: fc.jsonValue() },
    { requiredKeys: [] },
  );
  runProperty(t, 'profile-shaped JSON', fc.property(shaped, check), { seed: SEED + 3, numRuns: RUNS.json });
  t.pass();
});

test('random JavaScript values (fc.anything): never a throw, every rejection has messages', (t) => {
  runProperty(t, 'fc.anything()', fc.property(fc.anything(), check), { seed: SEED + 4, numRuns: RUNS.anything });
  // boxed values, maps, sets, dates, typed arrays, sparse arrays, objects without a prototype
  const exotic = fc.anything({ withBoxedValues: true, withMap: true, withSet: true, withNullPrototype: true, withDate: true, withTypedArray: true, withSparseArray: true });
  runProperty(t, 'exotic fc.anything()', fc.property(exotic, check), { seed: SEED + 5, numRuns: RUNS.anything });
  const shaped = fc.record({ name: fc.constant('x'), pipes: fc.dictionary(objectName, exotic, { maxKeys: 3 }), rules: fc.array(exotic, { maxLength: 3 }) });
  runProperty(t, 'profile-shaped exotic values', fc.property(shaped, check), { seed: SEED + 6, numRuns: RUNS.anything });
  t.pass();
});

test('JavaScript values beyond JSON (BigInt, functions, symbols): rejected with messages, not thrown', (t) => {
  // a profile read from JSON never holds these, but validateProfile takes any value (its type is unknown)
  for (const value of [{ name: 'x', pipes: { p: { bw: 10n } } }, { name: 10n, pipes: {} }, { name: 'x', pipes: { p: { bw: () => 1 } } }, { name: 'x', pipes: { p: { bw: Symbol('s') } } }]) {
    try {
      check(value);
    } catch (e) {
      t.fail(`${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)} on ${brief(value)}`);
    }
  }
  const withBigInt = fc.record({ name: fc.constant('x'), pipes: fc.dictionary(objectName, fc.anything({ withBigInt: true }), { maxKeys: 3 }) });
  runProperty(t, 'fc.anything({ withBigInt })', fc.property(withBigInt, check), { seed: SEED + 7, numRuns: RUNS.anything });
  t.pass();
});

test('long inputs: 10k-character strings and 1000-element lists are judged quickly', (t) => {
  const long = (n: number) => [
    'x'.repeat(n),
    '1'.repeat(n),
    ` ${' '.repeat(n)}x`,
    `1x${' '.repeat(n)}y`,
    `1${' '.repeat(n)}Mbit/s${' '.repeat(n)}x`,
    `${'1'.repeat(n)}.${'1'.repeat(n)}e${'9'.repeat(20)}Mbit/s`,
    `${'9'.repeat(n)}ms`,
    `0x${'f'.repeat(n)}`,
    `/${'1'.repeat(n)}`,
    `${'1.'.repeat(n)}1`,
    `${'1:'.repeat(n)}1`,
    `${'22,'.repeat(n / 3)}22`,
    `${'198.18.0.1,'.repeat(n / 11)}198.18.0.1`,
    `${'a'.repeat(n)}!`,
    '\\'.repeat(n),
  ];
  const n = 10_000;
  const values: unknown[] = [];
  for (const s of long(n)) {
    values.push({ name: s, pipes: {} });
    values.push({ name: 'x', pipes: { [s]: {} } });
    for (const key of ['bw', 'delay', 'jitter', 'queue', 'burst']) values.push({ name: 'x', pipes: { p: { bw: '1Mbit/s', [key]: s } } });
    values.push({ name: 'x', pipes: { p: { bw: '1Mbit/s', mask: { srcIp: s, srcPort: s, proto: s } } } });
    values.push({ name: 'x', pipes: { p: {} }, rules: [{ pipe: 'p', src: s, dst: { not: s }, srcPort: s, dstPort: [s], proto: s }] });
  }
  const pipes1000 = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`p${i}`, { bw: '1Mbit/s', delay: `${i % 100}ms` }]));
  const rules1000 = Array.from({ length: 1000 }, (_, i) => ({ pipe: `p${i}`, from: i % 2 ? 'a' : 'b', dstPort: i, proto: 'tcp' }));
  values.push({ name: 'x', pipes: pipes1000, rules: rules1000 });
  values.push({ name: 'x', pipes: { p: { bw: '1Mbit/s' } }, rules: [{ pipe: 'p', src: Array.from({ length: 1000 }, (_, i) => `10.${i >> 8}.${i & 255}.1`), dstPort: Array.from({ length: 1000 }, (_, i) => i) }] });
  values.push({ name: 'x', pipes: { p: { bw: '1Mbit/s' } }, rules: Array.from({ length: 1000 }, (_, r) => ({ pipe: 'p', src: Array.from({ length: 10 }, (_, i) => `10.${r >> 8}.${r & 255}.${i}`) })) });
  values.push({ name: 'x', pipes: {}, rules: Array.from({ length: 1000 }, () => ({ pipe: 'nowhere', from: 'c', proto: 'nope' })) });
  values.push({
    name: 'x',
    pipes: { p: { delay: '1ms', delayProfile: { samples: Array.from({ length: 1024 }, (_, i) => ({ prob: i / 1023, delay: i })) } } },
    rules: [{ pipe: 'p' }],
  });
  values.push({
    name: 'x',
    pipes: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`p${i}`, { bw: '1Mbit/s', delayProfile: { samples: [{ prob: 0, delay: 0 }, { prob: 1, delay: i }] } }])),
    rules: [],
  });
  values.push({ name: 'x', pipes: { p: { bw: '1Mbit/s' } }, queues: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`q${i}`, { pipe: 'p', weight: (i % 100) + 1 }])), rules: [{ queue: 'q0' }] });
  values.push(Array.from({ length: 1000 }, (_, i) => i));
  values.push({ name: 'x', pipes: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`p${i}`, { mask: { srcIp: '/24' }, buckets: 256 }])), rules: [] });
  for (const v of values) {
    try {
      check(v);
    } catch (e) {
      t.fail(`${(e as Error).message}\ninput: ${brief(v)}`);
      break; // one is enough to report; the others would only add their time
    }
  }
  t.pass();
});

test('no quadratic regex: a 60k-character quantity of spaces is judged quickly', (t) => {
  // units.ts reads "<number> <unit>" with a regex; spaces between a word and the end must not make it backtrack for seconds
  const spaces = ' '.repeat(60_000);
  for (const [key, text] of [
    ['bw', `1x${spaces}y`],
    ['delay', `1x${spaces}y`],
    ['queue', `1${spaces}x`],
  ] as const) {
    const value = { name: 'x', pipes: { p: { bw: '1Mbit/s', [key]: text } } };
    try {
      check(value);
    } catch (e) {
      t.fail(`pipes.p.${key}: ${(e as Error).message}`);
      break; // each such call takes seconds while the regex backtracks
    }
  }
  t.pass();
});

test('tc handles stay within 16 bits: 64 pipe instances × 257 scheduler classes', (t) => {
  // leaf qdiscs under a pipe's scheduler take handles c000: upwards, one per (instance, class) on a port; 0xffff - 0xc000 + 1 = 16384 of them
  const value = {
    name: 'handles',
    pipes: { p: { bw: '10Mbit/s', mask: { srcIp: '/24' }, buckets: 64 } },
    queues: { q: { pipe: 'p', mask: { dstIp: '/32' }, buckets: 256 } },
    rules: [{ queue: 'q' }],
  };
  const r = validateProfile(value);
  if (!r.ok) {
    t.pass(`rejected: ${r.errors.join('; ')}`); // a limit that refuses it is a fix too
    return;
  }
  t.notThrows(() => checkAccepted(r.value));
});

test('the largest profile the limits allow (256 instances × 769 classes) plans within the time limit', (t) => {
  const value = {
    name: 'largest',
    pipes: { p: { bw: '10Mbit/s', scheduler: 'qfq', mask: { srcIp: '/24' }, buckets: 256 } },
    queues: Object.fromEntries([0, 1, 2].map((i) => [`q${i}`, { pipe: 'p', weight: i + 1, mask: { dstIp: '0xffffffff' }, buckets: 256 }])),
    rules: [{ pipe: 'p' }, { queue: 'q0' }, { queue: 'q1' }, { queue: 'q2' }],
  };
  const r = timed('validateProfile', value, () => validateProfile(value));
  if (!r.ok) {
    t.pass(`rejected: ${r.errors.join('; ')}`);
    return;
  }
  t.notThrows(() => checkAccepted(r.value));
});
