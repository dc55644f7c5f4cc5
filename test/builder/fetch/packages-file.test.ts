import test from 'ava';
import { buildIndex, parsePackages, parseRelations } from '../../../src/builder/fetch/packages-file.ts';

const SNIPPET = `Package: iproute2
Version: 6.1.0-3
Installed-Size: 3456
Maintainer: Debian iproute2 Maintainers <team+iproute2@tracker.debian.org>
Architecture: amd64
Provides: arpd
Pre-Depends: libc6 (>= 2.34)
Depends: debconf (>= 0.5) | debconf-2.0, libbpf1 (>= 1:0.6.0), libcap2-bin:any, libmnl0 (>= 1.0.3-4~) [amd64]
Description: networking and traffic control tools
 The iproute2 suite is a collection of utilities
 Package: not-a-package-this-is-a-continuation-line
Section: net
Filename: pool/main/i/iproute2/iproute2_6.1.0-3_amd64.deb
Size: 1045828
SHA256: 8D2C2F1A4D5C36B8F6BA8D3C3E9E7E0A6F7C4C0E50D4C0A6B8F0E1D2C3B4A596

Package: zlib1g
Version: 1:1.2.13.dfsg-1
Provides: libz1 (= 1:1.2.13.dfsg-1)
Section: libs
Filename: pool/main/z/zlib/zlib1g_1.2.13.dfsg-1_amd64.deb
Size: 87000
SHA256: 1111111111111111111111111111111111111111111111111111111111111111
`;

test('a Packages stanza yields name, version, pool file, hash, size, section, dependencies and provides', (t) => {
  const [iproute2, zlib] = parsePackages(SNIPPET);
  t.deepEqual(iproute2, {
    name: 'iproute2',
    version: '6.1.0-3',
    filename: 'pool/main/i/iproute2/iproute2_6.1.0-3_amd64.deb',
    sha256: '8d2c2f1a4d5c36b8f6ba8d3c3e9e7e0a6f7c4c0e50d4c0a6b8f0e1d2c3b4a596',
    size: 1045828,
    section: 'net',
    depends: [['libc6'], ['debconf', 'debconf-2.0'], ['libbpf1'], ['libcap2-bin'], ['libmnl0']],
    provides: ['arpd'],
  });
  t.is(zlib!.name, 'zlib1g');
  t.deepEqual(zlib!.provides, ['libz1']);
  t.is(zlib!.section, 'libs');
});

test('continuation lines of other fields never start a stanza or a field', (t) => {
  t.deepEqual(parsePackages(SNIPPET).map((p) => p.name), ['iproute2', 'zlib1g']);
});

test('relations drop versions, architecture qualifiers and restrictions but keep alternatives in order', (t) => {
  t.deepEqual(parseRelations('a (>= 1) | b:any, c [amd64] <!nocheck>, d:amd64'), [['a', 'b'], ['c'], ['d']]);
  t.deepEqual(parseRelations(''), []);
});

test('an index keeps the newest of two stanzas with one name and maps virtual names to their providers', (t) => {
  const stanza = (name: string, version: string, provides = '') =>
    `Package: ${name}\nVersion: ${version}\n${provides ? `Provides: ${provides}\n` : ''}Filename: pool/${name}_${version}.deb\nSize: 1\nSHA256: ${'0'.repeat(64)}\n`;
  const text = [stanza('linux-doc', '6.1.170-1'), stanza('linux-doc', '6.1.176-1'), stanza('linux-doc', '6.1.99-1'), stanza('mawk', '1.3', 'awk'), stanza('gawk', '5.2', 'awk')].join('\n');
  const index = buildIndex(parsePackages(text), 'test index');
  t.is(index.packages.get('linux-doc')!.version, '6.1.176-1');
  t.deepEqual(index.providers.get('awk'), ['gawk', 'mawk']);
});
