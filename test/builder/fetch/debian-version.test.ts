import test from 'ava';
import { compareDebianVersions } from '../../../src/builder/fetch/debian-version.ts';

const sign = (n: number) => Math.sign(n);

const ordered: Array<[string, string]> = [
  ['6.1.99-1', '6.1.176-1'], // numbers compare as numbers, not as text
  ['1.0~rc1-1', '1.0-1'], // a tilde sorts before the release
  ['1.0-1', '1.0-1+deb12u1'], // a stable update is newer
  ['9.9-1', '1:0.1-1'], // the epoch wins over everything
  ['1.0-1', '1.0a-1'], // a letter after the end is newer
  ['1.0a-1', '1.0+-1'], // letters sort before other symbols
  ['1.0-1', '1.0-1.1'],
  ['3.0.20-1~deb12u1', '3.0.20-1~deb12u2'],
];

for (const [older, newer] of ordered) {
  test(`Debian version ${older} sorts before ${newer}`, (t) => {
    t.is(sign(compareDebianVersions(older, newer)), -1);
    t.is(sign(compareDebianVersions(newer, older)), 1);
  });
}

test('equal Debian versions compare as zero, leading zeros and an explicit zero epoch included', (t) => {
  t.is(compareDebianVersions('1.01-1', '1.1-1'), 0);
  t.is(compareDebianVersions('0:2.3-4', '2.3-4'), 0);
});
