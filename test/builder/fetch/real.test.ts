// INTEGRATION TEST — real network: resolves the default recipe against deb.debian.org and the npm
// registry, downloads everything (about 140 MB into the default cache, ~15 s cold on these
// machines; seconds when warm) and unpacks it. It runs in CI like any other test: the machines
// reach both hosts. Its lock goes to a temp file; recipes/default.lock.json is only checked.
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { defaultCacheDir } from '../../../src/builder/cache.ts';
import { fetchInputs, updateLock } from '../../../src/builder/fetch/index.ts';
import { readLock, requestChanges, requestOf } from '../../../src/builder/fetch/lock.ts';
import { checkRecipe, type Recipe } from '../../../src/builder/recipe.ts';
import { recordingLog } from './server.ts';

const REPO = join(import.meta.dirname, '../../..');

let recipe: Recipe;
let dir: string;
test.before(async () => {
  const checked = checkRecipe((await import('../../../recipes/default.ts')).default);
  if (!checked.ok) throw new Error(checked.errors.join('\n'));
  recipe = checked.value;
  dir = await mkdtemp(join(tmpdir(), 'picowire-real-fetch-'));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

const options = () => ({ cacheDir: defaultCacheDir(), lockFile: join(dir, 'default.lock.json'), log: recordingLog() });

test.serial('integration: the default recipe resolves against the signed bookworm index and the npm registry', async (t) => {
  const opts = options();
  await updateLock(recipe, opts);
  const lock = (await readLock(opts.lockFile))!;
  t.regex(lock.kernel.name, /^linux-image-6\.1\.0-\d+-amd64$/);
  t.deepEqual(lock.packages.map((p) => p.name), ['busybox-static', 'iproute2', 'nftables', 'ethtool', 'dropbear-bin']);
  const libraries = lock.libraries.map((p) => p.name);
  for (const lib of ['libc6', 'libmnl0', 'libnftables1', 'libnftnl11', 'libelf1', 'zlib1g', 'libtomcrypt1']) t.true(libraries.includes(lib), `${lib} is among the libraries`);
  t.false(libraries.includes('debconf'));
  t.regex(lock.node.version, /^22\.\d+\.\d+$/);
});

test.serial('integration: the default recipe downloads, verifies and unpacks into the cache', async (t) => {
  const got = await fetchInputs(recipe, options());
  const boot = await readdir(join(got.kernel.root, 'boot'));
  t.true(boot.some((f) => f.startsWith('vmlinuz-6.1.0-')), boot.join(' '));
  await t.notThrowsAsync(access(join(got.kernel.root, 'lib/modules')));
  const root = (name: string) => got.packages.find((p) => p.package === name)!.root;
  await t.notThrowsAsync(access(join(root('iproute2'), 'bin/ip')));
  await t.notThrowsAsync(access(join(root('nftables'), 'usr/sbin/nft')));
  await t.notThrowsAsync(access(join(root('busybox-static'), 'bin/busybox')));
  t.regex((await execa(got.node.binary, ['--version'])).stdout, /^v22\./);
  // the kernel's headers, common headers and kbuild, and the netmap and netmap-ipfw archives, for the netmap feature
  t.deepEqual(got.headers.map((h) => h.package.replace(/-6\.1\.0-\d+-/, '-<abi>-')), ['linux-headers-<abi>-amd64', 'linux-headers-<abi>-common', 'linux-kbuild-6.1']);
  t.deepEqual([...got.sources.keys()], ['netmap', 'netmap-ipfw']);
  t.is(got.inputs.length, 1 + got.packages.length + got.libraries.length + got.headers.length + got.sources.size + 1);
});

test.serial('integration: with the lock and a warm cache, fetching again needs no network at all', async (t) => {
  const realFetch = globalThis.fetch;
  globalThis.fetch = () => Promise.reject(new Error('network used by a build that should need none'));
  try {
    const got = await fetchInputs(recipe, options());
    t.regex(got.kernel.package, /^linux-image-6\.1\.0-\d+-amd64$/);
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('the committed recipes/default.lock.json was made for the default recipe as it is now', async (t) => {
  const lock = await readLock(join(REPO, 'recipes/default.lock.json'));
  t.truthy(lock, 'recipes/default.lock.json exists (run `make lock`)');
  t.deepEqual(requestChanges(lock!.request, requestOf(recipe)), []);
});
