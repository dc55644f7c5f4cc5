import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { UserError } from '../../src/common/errors.ts';
import { unpackDeb } from '../../src/builder/unpack.ts';

let dir: string;
let deb: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'picowire-unpack-test-'));
  const root = join(dir, 'pkg');
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  await mkdir(join(root, 'usr/sbin'), { recursive: true });
  await writeFile(join(root, 'DEBIAN/control'), 'Package: tool\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@picowire.invalid>\nDescription: t\n');
  await writeFile(join(root, 'usr/sbin/tool'), '#!/bin/sh\n', { mode: 0o755 });
  deb = join(dir, 'tool.deb');
  await execa('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, deb]);
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

test('a .deb is unpacked under unpacked/<sha256>/ with its modes, and no temp directory is left', async (t) => {
  const cacheDir = join(dir, 'cache1');
  const root = await unpackDeb(deb, 'f'.repeat(64), cacheDir);
  t.is(root, join(cacheDir, 'unpacked', 'f'.repeat(64)));
  t.is(await readFile(join(root, 'usr/sbin/tool'), 'utf8'), '#!/bin/sh\n');
  t.is((await stat(join(root, 'usr/sbin/tool'))).mode & 0o777, 0o755);
  t.deepEqual(await readdir(join(cacheDir, 'unpacked')), ['f'.repeat(64)]);
});

test('an unpacked tree already in the cache is reused without running dpkg-deb', async (t) => {
  const cacheDir = join(dir, 'cache2');
  const root = await unpackDeb(deb, 'e'.repeat(64), cacheDir);
  await writeFile(join(root, 'marker'), 'kept');
  // a path that is not a .deb: dpkg-deb would fail if it ran
  t.is(await unpackDeb(join(dir, 'missing.deb'), 'e'.repeat(64), cacheDir), root);
  t.is(await readFile(join(root, 'marker'), 'utf8'), 'kept');
});

test('a file that is not a .deb fails with dpkg-deb\'s complaint and leaves nothing behind', async (t) => {
  const cacheDir = join(dir, 'cache3');
  const bad = join(dir, 'bad.deb');
  await writeFile(bad, 'not an archive');
  const error = await t.throwsAsync(unpackDeb(bad, 'd'.repeat(64), cacheDir), { instanceOf: UserError });
  t.regex(error!.message, /^dpkg-deb failed to unpack .*bad\.deb \(exit 2\): .*dpkg-deb: error: .*bad\.deb/s);
  t.deepEqual(await readdir(join(cacheDir, 'unpacked')), []);
});
