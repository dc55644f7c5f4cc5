import { readFileSync } from 'node:fs';
import test from 'ava';
import { checker } from '../../src/common/schema.ts';
import { GENERATED, PUBLISHED, profileSchemaJson, profileValidatorSource } from '../../src/profile/compile.ts';
import { ProfileSchema } from '../../src/profile/schema.ts';
import { validateProfile } from '../../src/profile/validate.ts';

test('the committed profile validator is what the schema compiles to now (else run `npx tsx src/profile/compile.ts`)', (t) => {
  t.is(readFileSync(GENERATED, 'utf8'), profileValidatorSource());
});

test('the published schema/profile-v1.json is the profile schema now, with its $id', (t) => {
  t.is(readFileSync(PUBLISHED, 'utf8'), profileSchemaJson());
  t.is(JSON.parse(profileSchemaJson()).$id, ProfileSchema.$id);
});

// the agent uses the precompiled validator; its messages must be checker()'s, word for word
const samples: unknown[] = [
  { name: 'ok', pipes: { up: { bw: '1Mbit/s' } }, rules: [{ from: 'a', pipe: 'up' }] },
  { name: 'bad name', extra: true },
  { name: 'x', pipes: { up: { bw: false, delay: [], plr: 'high', queue: 1.5, x: 1 } } },
  { name: 'x', rules: [{ from: 'z' }, 7] },
  { pipes: [], rules: {} },
  'a string',
];
for (const [i, sample] of samples.entries()) {
  test(`the precompiled validator reports what checker() reports (sample ${i})`, (t) => {
    const expected = checker(ProfileSchema, 'profile')(sample);
    const actual = validateProfile(sample);
    if (expected.ok) t.deepEqual(actual, expected);
    else {
      t.false(actual.ok);
      if (!actual.ok) t.deepEqual(actual.errors.slice(0, expected.errors.length), expected.errors);
    }
  });
}
