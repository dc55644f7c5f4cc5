// Upstream source archives: pinned from a sources directory or a download, and refused whenever
// their bytes are not the pinned ones.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { UserError } from '../../../src/common/errors.ts';
import type { LockedSource, LockRequest } from '../../../src/builder/fetch/lock.ts';
import { fetchSource, resolveSources, sourceArchive, type SourceOptions } from '../../../src/builder/fetch/sources.ts';
import { recordingLog, startServer, type TestServer } from './server.ts';

const COMMIT = '89607e1406c1fa5ac2106bd2ff33417f090c0d60';
const FILE = `netmap-${COMMIT}.tar.gz`;
const BYTES = Buffer.from('an archive of netmap at one commit');
const SHA = createHash('sha256').update(BYTES).digest('hex');

let server: TestServer;
const tempDirs: string[] = [];
test.before(async () => void (server = await startServer()));
test.after.always(async () => {
  await server?.close();
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Options with a fresh cache and sources directory (holding `files`), a recording log and one quick retry. */
async function options(files: Record<string, Buffer | string> = {}): Promise<SourceOptions & { log: ReturnType<typeof recordingLog> }> {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-sources-test-'));
  tempDirs.push(dir);
  const sourcesDir = join(dir, 'sources');
  await mkdir(sourcesDir);
  for (const [name, data] of Object.entries(files)) await writeFile(join(sourcesDir, name), data);
  return { cacheDir: join(dir, 'cache'), sourcesDir, log: recordingLog(), retry: { retries: 0, minTimeout: 1 } };
}

/** The lock entry of the test archive, served from `repo` (the test server unless said otherwise). */
function locked(repo = `${server.url}/luigirizzo/netmap`, sha256 = SHA): LockedSource {
  return { ...sourceArchive('netmap', `${repo}@${COMMIT}`), sha256, size: BYTES.length };
}

const request = (repo: string): LockRequest => ({
  mirror: 'https://deb.debian.org/debian', suite: 'bookworm', arch: 'amd64', kernel: 'linux-image-amd64', packages: [], libraries: [], node: '22.x', headers: false, kernelSource: false,
  sources: { netmap: `${repo}@${COMMIT}` },
});

test('a source is named <name>-<commit>.tar.gz and downloaded from GitHub\'s archive of the commit', (t) => {
  const archive = sourceArchive('netmap', `https://github.com/luigirizzo/netmap@${COMMIT}`);
  t.deepEqual(archive, { name: 'netmap', repo: 'https://github.com/luigirizzo/netmap', commit: COMMIT, url: `https://github.com/luigirizzo/netmap/archive/${COMMIT}.tar.gz`, file: FILE });
});

test.serial('pinning takes the archive from the sources directory, with no network, and keeps it in the cache', async (t) => {
  const opts = await options({ [FILE]: BYTES, SHA256SUMS: `${SHA}  ${FILE}\n` });
  const before = server.requests.length;
  const [pin] = await resolveSources(request(`${server.url}/luigirizzo/netmap`), opts);
  t.deepEqual(pin, locked());
  t.is(server.requests.length, before);
  t.deepEqual(await readFile(join(opts.cacheDir, 'files/sha256', SHA)), BYTES);
});

test.serial('pinning refuses an archive its directory\'s SHA256SUMS disagrees with', async (t) => {
  const opts = await options({ [FILE]: BYTES, SHA256SUMS: `${'0'.repeat(64)}  ${FILE}\n` });
  const error = await t.throwsAsync(resolveSources(request(server.url), opts), { instanceOf: UserError });
  t.is(error!.message.split(';')[0], `${join(opts.sourcesDir, FILE)} does not match its pinned checksum: ${join(opts.sourcesDir, 'SHA256SUMS')} lists sha256 ${'0'.repeat(64)}, the file has sha256 ${SHA}`);
});

test.serial('pinning downloads upstream\'s archive when the sources directory lacks it', async (t) => {
  server.files.set(`/luigirizzo/netmap/archive/${COMMIT}.tar.gz`, BYTES);
  const opts = await options();
  const [pin] = await resolveSources(request(`${server.url}/luigirizzo/netmap`), opts);
  t.is(pin!.sha256, SHA);
  t.true(opts.log.infos.some((l) => l === `${FILE} is not in ${opts.sourcesDir}: downloading ${pin!.url}`));
});

test.serial('a locked archive is taken from the sources directory when it matches, then from the cache', async (t) => {
  const opts = await options({ [FILE]: BYTES });
  const before = server.requests.length;
  const input = await fetchSource(locked(), { ...opts, verifiedBy: 'test.lock.json' });
  t.deepEqual(await readFile(input.path), BYTES);
  t.deepEqual([input.name, input.version, input.integrity], ['netmap', COMMIT, `sha256-${SHA}`]);
  await rm(join(opts.sourcesDir, FILE));
  t.is((await fetchSource(locked(), { ...opts, verifiedBy: 'test.lock.json' })).path, input.path);
  t.is(server.requests.length, before);
});

test.serial('an archive in the sources directory with a wrong checksum is refused, naming the file, the expected and the actual hash', async (t) => {
  const opts = await options({ [FILE]: 'tampered' });
  const actual = createHash('sha256').update('tampered').digest('hex');
  const error = await t.throwsAsync(fetchSource(locked(), { ...opts, verifiedBy: 'x' }), { instanceOf: UserError });
  t.is(error!.message.split(';')[0], `${join(opts.sourcesDir, FILE)} does not match its pinned checksum: the lock pins sha256 ${SHA}, the file has sha256 ${actual}`);
});

test.serial('without the archive in the sources directory it is downloaded and verified', async (t) => {
  server.files.set(`/luigirizzo/netmap/archive/${COMMIT}.tar.gz`, BYTES);
  const opts = await options();
  const input = await fetchSource(locked(), { ...opts, verifiedBy: 'x' });
  t.deepEqual(await readFile(input.path), BYTES);
  t.true(server.requests.includes(`/luigirizzo/netmap/archive/${COMMIT}.tar.gz`));
});

test.serial('a download whose bytes are not the pinned ones is refused with both hashes', async (t) => {
  server.files.set(`/luigirizzo/netmap/archive/${COMMIT}.tar.gz`, Buffer.from('something else'));
  const opts = await options();
  const error = await t.throwsAsync(fetchSource(locked(), { ...opts, verifiedBy: 'x' }), { instanceOf: UserError });
  const actual = createHash('sha256').update('something else').digest('hex');
  t.true(error!.message.startsWith(`${FILE} downloaded from ${locked().url} does not match its expected hash: expected sha256-${SHA}, got sha256-${actual}`), error!.message);
});

test.serial('offline and without the sources directory, the error names the directory, the URL and the way out', async (t) => {
  const opts = await options();
  const missingDir = join(opts.sourcesDir, 'absent');
  // a loopback port nothing listens on any more, as when GitHub cannot be reached
  const closed = await startServer();
  await closed.close();
  const pin = locked(`${closed.url}/luigirizzo/netmap`);
  const error = await t.throwsAsync(fetchSource(pin, { ...opts, sourcesDir: missingDir, verifiedBy: 'x' }), { instanceOf: UserError });
  t.regex(error!.message, new RegExp(`^${FILE} is not in the sources directory ${missingDir} and could not be downloaded: could not download ${FILE} from ${pin.url.replace(/[.]/g, '\\.')} after 1 attempts: .*ECONNREFUSED`));
  t.regex(error!.message, /PICOWIRE_SOURCES names another directory/);
});
