import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { cachePath, defaultCacheDir, formatIntegrity, getOrFetch, parseIntegrity } from '../../src/builder/cache.ts';
import { NotFoundError } from '../../src/builder/fetch/download.ts';
import { recordingLog, startServer, type TestServer } from './fetch/server.ts';

const FAST_RETRY = { retries: 3, minTimeout: 5 };
const content = Buffer.from('the contents of a package\n'.repeat(1000));
const sha256 = (b: Buffer) => `sha256-${createHash('sha256').update(b).digest('hex')}`;

let server: TestServer;
test.before(async () => {
  server = await startServer();
  server.files.set('/pool/pkg.deb', content);
  server.files.set('/broken', (_req, res) => void res.writeHead(500, 'Internal Server Error').end());
});
const tempDirs: string[] = [];
test.after.always(async () => {
  await server.close();
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

const tempCache = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-cache-test-'));
  tempDirs.push(dir);
  return dir;
};
// tests run concurrently against one server: each serves its own path and counts requests to it
const servePackage = (path: string) => {
  server.files.set(path, content);
  return { url: `${server.url}${path}`, count: () => server.requests.filter((p) => p === path).length };
};

test('a sha256 integrity maps to files/sha256/<hex> and a sha512 one to files/sha512/<hex of the digest>', (t) => {
  const hex = 'ab'.repeat(32);
  t.is(cachePath('/c', `sha256-${hex}`), `/c/files/sha256/${hex}`);
  const digest = createHash('sha512').update('x').digest();
  t.is(cachePath('/c', formatIntegrity('sha512', digest)), `/c/files/sha512/${digest.toString('hex')}`);
});

test('an integrity string that is neither sha256 hex nor sha512 base64 is refused with the allowed forms', (t) => {
  const error = t.throws(() => parseIntegrity('md5-abc'), { instanceOf: UserError });
  t.regex(error!.message, /"md5-abc".*sha256-<64 hex digits> or sha512-<base64/);
});

test('the cache directory is $PICOWIRE_CACHE when it is set', (t) => {
  const saved = process.env.PICOWIRE_CACHE;
  process.env.PICOWIRE_CACHE = '/somewhere/else';
  try {
    t.is(defaultCacheDir(), '/somewhere/else');
  } finally {
    if (saved === undefined) delete process.env.PICOWIRE_CACHE;
    else process.env.PICOWIRE_CACHE = saved;
  }
});

test('a file is downloaded once, verified, and then served from the cache without a request', async (t) => {
  const cacheDir = await tempCache();
  const served = servePackage('/pool/once.deb');
  const source = { name: 'pkg', url: served.url, integrity: sha256(content) };
  const path = await getOrFetch(source, { cacheDir, log: recordingLog() });
  t.deepEqual(await readFile(path), content);
  t.is(await getOrFetch(source, { cacheDir, log: recordingLog() }), path);
  t.is(served.count(), 1);
});

test('a corrupt cache entry is detected, deleted with a warning, and downloaded again', async (t) => {
  const cacheDir = await tempCache();
  const served = servePackage('/pool/rotten.deb');
  const source = { name: 'pkg', url: served.url, integrity: sha256(content) };
  const path = await getOrFetch(source, { cacheDir, log: recordingLog() });
  await writeFile(path, 'bit rot');
  const log = recordingLog();
  t.is(await getOrFetch(source, { cacheDir, log }), path);
  t.deepEqual(await readFile(path), content);
  t.is(served.count(), 2);
  t.is(log.warnings.length, 1);
  t.regex(log.warnings[0]!, /cache entry .* for pkg is corrupt .*deleting it and downloading again/);
});

test('a download that does not match its integrity fails naming the package, the URL and both hashes, and is not kept', async (t) => {
  const cacheDir = await tempCache();
  const wrong = sha256(Buffer.from('something else'));
  const source = { name: 'iproute2 6.1.0-3', url: `${server.url}/pool/pkg.deb`, integrity: wrong };
  const error = await t.throwsAsync(getOrFetch(source, { cacheDir, log: recordingLog(), retry: FAST_RETRY }), { instanceOf: UserError });
  t.true(error!.message.includes(`iproute2 6.1.0-3 downloaded from ${server.url}/pool/pkg.deb does not match its expected hash`));
  t.true(error!.message.includes(`expected ${wrong}, got ${sha256(content)}`));
  t.deepEqual(await readdir(join(cacheDir, 'files', 'sha256')), []); // neither the file nor a temp file is left
});

test('a failing server is retried three times, then the error names the package, the URL and the last failure', async (t) => {
  const cacheDir = await tempCache();
  const url = `${server.url}/broken`;
  const log = recordingLog();
  const error = await t.throwsAsync(getOrFetch({ name: 'nftables 1.0.6', url, integrity: sha256(content) }, { cacheDir, log, retry: FAST_RETRY }), { instanceOf: UserError });
  t.is(error!.message, `could not download nftables 1.0.6 from ${url} after 4 attempts: HTTP 500 Internal Server Error`);
  t.is(server.requests.filter((p) => p === '/broken').length, 4);
  t.is(log.warnings.length, 3);
  t.regex(log.warnings[0]!, /downloading nftables 1.0.6 from .*\/broken failed \(HTTP 500 Internal Server Error\); retrying \(attempt 2 of 4\)/);
});

test('a missing file (HTTP 404) is not retried and is reported as not found', async (t) => {
  const cacheDir = await tempCache();
  const url = `${server.url}/pool/gone.deb`;
  const error = await t.throwsAsync(getOrFetch({ name: 'gone 1.0', url, integrity: sha256(content) }, { cacheDir, log: recordingLog(), retry: FAST_RETRY }), { instanceOf: NotFoundError });
  t.is(error!.message, `gone 1.0 is not at ${url} (HTTP 404)`);
  t.is(server.requests.filter((p) => p === '/pool/gone.deb').length, 1);
});

test('an unreachable server is retried and then reported with the network error', async (t) => {
  const cacheDir = await tempCache();
  // a port that was just free: nothing listens there
  const closed = await startServer();
  await closed.close();
  const url = `${closed.url}/nothing-listens-here`;
  const error = await t.throwsAsync(getOrFetch({ name: 'busybox-static', url, integrity: sha256(content) }, { cacheDir, log: recordingLog(), retry: { retries: 1, minTimeout: 5 } }), { instanceOf: UserError });
  t.true(error!.message.startsWith(`could not download busybox-static from ${url} after 2 attempts: fetch failed: `));
  t.regex(error!.message, /ECONNREFUSED/);
});
