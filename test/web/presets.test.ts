// Every preset the page offers is one the box takes: the profiles validate, and the seed's ipfw
// texts read as `picowire ipfw -f` reads them into a valid profile.
import test from 'ava';
import { amendProfile } from '../../src/ipfw/index.ts';
import { resolve, validateProfile } from '../../src/profile/validate.ts';
import { PRESETS } from '../../src/web/presets.ts';

for (const preset of PRESETS) {
  test(`the preset "${preset.name}" is a profile the box takes`, (t) => {
    const profile = preset.profile ?? amendProfile(null, preset.ipfw!);
    const checked = validateProfile(profile);
    t.deepEqual(checked.ok ? [] : checked.errors, []);
  });
}

test('the link presets have the rates their summaries give, up then down', (t) => {
  const rates = Object.fromEntries(PRESETS.filter((p) => p.profile).map((p) => [p.name, Object.values(resolve(p.profile!).pipes).map((pipe) => pipe.bw)]));
  t.deepEqual(rates, { DSL: [384e3, 1.5e6], '3G': [768e3, 1.6e6], LTE: [12e6, 12e6], satellite: [3e6, 25e6], 'lossy Wi-Fi': [10e6, 10e6] });
});
