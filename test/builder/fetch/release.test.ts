import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { UserError } from '../../../src/common/errors.ts';
import { fetchRelease, parseRelease, verifySigned } from '../../../src/builder/fetch/release.ts';
import { FakeArchive } from './archive.ts';
import { recordingLog, startServer, type TestServer } from './server.ts';

const RELEASE = `Origin: Debian
Suite: oldstable
Codename: bookworm
Acquire-By-Hash: yes
Valid-Until: Sat, 18 Jul 2026 10:16:37 UTC
MD5Sum:
 f230d61720e789abf5df55d6026230c6 50060337 main/binary-amd64/Packages
SHA256:
 515e692f2c4121c6fcec444ef100cc18f79a991910615f3a88c8b7becfc94d2f 50060337 main/binary-amd64/Packages
 9E0B5AABB2465B3D2E7A7FE27F9913846277833F7A2826E7767ACCCFF5B588C5  8790396 main/binary-amd64/Packages.xz
`;

let server: TestServer;
let archive: FakeArchive;
test.before(async () => {
  server = await startServer();
  archive = await FakeArchive.create(server);
  await archive.publish([{ name: 'hello', version: '1.0-1' }]);
});
test.after.always(async () => {
  await archive?.close();
  await server?.close();
});

const debian = (suite: string) => ({ mirror: archive.mirror, suite, arch: 'amd64' as const });

test('a Release file gives suite, codename, by-hash support, expiry and the SHA256 list only', (t) => {
  const r = parseRelease(RELEASE);
  t.is(r.suite, 'oldstable');
  t.is(r.codename, 'bookworm');
  t.true(r.acquireByHash);
  t.is(r.validUntil?.toISOString(), '2026-07-18T10:16:37.000Z');
  t.deepEqual([...r.files.keys()], ['main/binary-amd64/Packages', 'main/binary-amd64/Packages.xz']);
  t.deepEqual(r.files.get('main/binary-amd64/Packages.xz'), {
    path: 'main/binary-amd64/Packages.xz',
    sha256: '9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5',
    size: 8790396,
  });
});

test('a correctly signed InRelease is verified with gpgv and parsed', async (t) => {
  const r = await fetchRelease(debian('test'), { log: recordingLog(), keyring: archive.keyring });
  t.is(r.codename, 'test');
  t.true(r.files.has('main/binary-amd64/Packages.xz'));
});

test('an InRelease signed by a key outside the keyring is refused', async (t) => {
  const other = await FakeArchive.create(server, 'other');
  try {
    await other.publish([{ name: 'hello', version: '1.0-1' }]);
    const error = await t.throwsAsync(fetchRelease(debian('other'), { log: recordingLog(), keyring: archive.keyring }), { instanceOf: UserError });
    t.regex(error!.message, /^gpgv failed to verify the signature of .*\/dists\/other\/InRelease \(exit 2\): .*No public key/s);
  } finally {
    await other.close();
  }
});

test('an InRelease for another suite than the one asked for is refused', async (t) => {
  server.files.set('/debian/dists/sid/InRelease', server.files.get('/debian/dists/test/InRelease')!);
  const error = await t.throwsAsync(fetchRelease(debian('sid'), { log: recordingLog(), keyring: archive.keyring }), { instanceOf: UserError });
  t.regex(error!.message, /InRelease is signed for suite "test-stable" \(codename "test"\), not for debian.suite "sid"; check the mirror/);
});

test('an expired InRelease (Valid-Until in the past) is refused', async (t) => {
  const stale = await FakeArchive.create(server, 'stale');
  try {
    await stale.publish([{ name: 'hello', version: '1.0-1' }], { releaseFields: ['Valid-Until: Sat, 01 Jan 2000 00:00:00 UTC'] });
    const error = await t.throwsAsync(fetchRelease(debian('stale'), { log: recordingLog(), keyring: stale.keyring }), { instanceOf: UserError });
    t.regex(error!.message, /InRelease expired on 2000-01-01T00:00:00\.000Z \(Valid-Until\)/);
  } finally {
    await stale.close();
  }
});

test('a missing archive keyring is a UserError naming the Debian package that provides it', async (t) => {
  const error = await t.throwsAsync(verifySigned(Buffer.from('x'), 'http://mirror/InRelease', '/nonexistent/debian-archive-keyring.gpg'), { instanceOf: UserError });
  t.is(
    error!.message,
    'the Debian archive keyring /nonexistent/debian-archive-keyring.gpg is missing, so http://mirror/InRelease cannot be verified; install the Debian package debian-archive-keyring',
  );
});

// serial: it empties PATH for a moment, which no concurrent test may see
test.serial('a missing gpgv is a UserError naming the Debian package gpgv', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'picowire-empty-path-'));
  const saved = process.env.PATH;
  process.env.PATH = empty;
  try {
    const error = await t.throwsAsync(verifySigned(Buffer.from('x'), 'http://mirror/InRelease', archive.keyring), { instanceOf: UserError });
    t.is(error!.message, 'gpgv is needed to verify the signature of http://mirror/InRelease but is not installed; install the Debian package gpgv (apt-get install gpgv)');
  } finally {
    process.env.PATH = saved;
    await rm(empty, { recursive: true });
  }
});
