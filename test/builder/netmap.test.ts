// netmap.ko (and with the netmap-drivers feature its native drivers) as the build stage makes them,
// for the kernel the default recipe pins: their vermagic must be the kernel package's own modules' (else the kernel refuses them), and
// the stage says where each file came from. Uses the real cache, which `make` fills; the first run compiles netmap (about a minute).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { defaultCacheDir } from '../../src/builder/cache.ts';
import { fetchInputs } from '../../src/builder/fetch/index.ts';
import type { Lock } from '../../src/builder/fetch/lock.ts';
import { kernelRelease } from '../../src/builder/kmods.ts';
import { loadRecipe } from '../../src/builder/load.ts';
import { sha256File } from '../../src/builder/manifest.ts';
import { buildDummynet } from '../../src/builder/dummynet.ts';
import { buildNetmap } from '../../src/builder/netmap.ts';
import { patchesFor } from '../../src/builder/patches.ts';
import { REPO, testNeeding } from '../helpers/env.ts';

const quiet = { info: () => {}, warn: () => {} };
// Debian's kernel source of the default recipe's kernel, as `make lock` pins it for a recipe with netmap-drivers
const LINUX_SOURCE = {
  name: 'linux-source-6.1',
  version: '6.1.176-1',
  filename: 'pool/main/l/linux/linux-source-6.1_6.1.176-1_all.deb',
  sha256: '9305d1a151b8e83dcb88aa11361e7b9513f0c252bdf7f5647e4542762d99c094',
  size: 139131140,
};
const vermagic = async (ko: string) => (await execa('modinfo', ['-F', 'vermagic', ko])).stdout.trim();

testNeeding(['image'], 'netmap.ko is built for the pinned kernel: its vermagic is that of the kernel package\'s own modules', async (t) => {
  const { recipe, lockFile } = await loadRecipe(join(REPO, 'recipes/default.ts'));
  const cacheDir = defaultCacheDir();
  const fetched = await fetchInputs(recipe, { cacheDir, lockFile, log: quiet });
  const release = await kernelRelease(fetched.kernel.root);
  const netmap = await buildNetmap(fetched, { cacheDir, kernelRelease: release, drivers: false, log: quiet });

  const debian = await vermagic(join(fetched.kernel.root, 'lib/modules', release, 'kernel/net/bridge/bridge.ko'));
  t.true(debian.startsWith(`${release} SMP `), debian);
  t.is(await vermagic(netmap.modules[0]!), debian);
  t.is((await execa('modinfo', ['-F', 'name', netmap.modules[0]!])).stdout.trim(), 'netmap');

  const source = fetched.sources.get('netmap')!;
  t.deepEqual(netmap.built.map((b) => b.path), [`/lib/modules/${release}/extra/netmap.ko`, '/usr/local/bin/pkt-gen', '/usr/local/bin/bridge']);
  for (const b of netmap.built) {
    t.is(b.commit, source.version);
    t.is(`sha256-${b.archiveSha256}`, source.integrity);
  }
  t.is(netmap.built[0]!.sha256, await sha256File(netmap.modules[0]!));
});

testNeeding(['image'], 'with netmap-drivers, netmap.ko and the patched virtio_net, e1000e, igb, ixgbe and i40e are built for the pinned kernel: their vermagic is that of the kernel package\'s own modules', async (t) => {
  // the first run compiles netmap with its drivers and configure's test builds of them: minutes on busy cores
  t.timeout(30 * 60_000);
  // the default recipe with the feature, and its lock with the kernel's source package pinned too
  const { recipe, lockFile } = await loadRecipe(join(REPO, 'recipes/default.ts'));
  const lock = JSON.parse(await readFile(lockFile, 'utf8')) as Lock;
  const withDrivers = { ...lock, request: { ...lock.request, kernelSource: true }, headers: [...lock.headers, LINUX_SOURCE] };
  const dir = await mkdtemp(join(tmpdir(), 'picowire-netmap-drivers-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'lock.json'), JSON.stringify(withDrivers));
  const cacheDir = defaultCacheDir();
  const fetched = await fetchInputs({ ...recipe, features: [...recipe.features, 'netmap-drivers'] }, { cacheDir, lockFile: join(dir, 'lock.json'), log: quiet });
  const release = await kernelRelease(fetched.kernel.root);
  const netmap = await buildNetmap(fetched, { cacheDir, kernelRelease: release, drivers: true, log: quiet });

  const debian = await vermagic(join(fetched.kernel.root, 'lib/modules', release, 'kernel/net/bridge/bridge.ko'));
  t.true(debian.startsWith(`${release} SMP `), debian);
  t.is(await vermagic(netmap.modules[0]!), debian);
  t.is((await execa('modinfo', ['-F', 'name', netmap.modules[0]!])).stdout.trim(), 'netmap');

  const source = fetched.sources.get('netmap')!;
  const drivers = ['virtio_net', 'e1000e', 'igb', 'ixgbe', 'i40e'];
  t.deepEqual(netmap.built.map((b) => b.path), [
    `/lib/modules/${release}/extra/netmap.ko`,
    ...drivers.map((d) => `/lib/modules/${release}/updates/${d}.ko`),
    '/usr/local/bin/pkt-gen',
    '/usr/local/bin/bridge',
  ]);
  for (const b of netmap.built) {
    t.is(b.commit, source.version);
    t.is(`sha256-${b.archiveSha256}`, source.integrity);
  }
  for (const [i, ko] of netmap.modules.entries()) t.is(netmap.built[i]!.sha256, await sha256File(ko));
  // the native drivers: the kernel's own (same vermagic, same name), patched to call into netmap.ko,
  // from the locked linux-source package with the netmap patch the manifest names
  const linuxSource = fetched.headers.find((h) => h.package === 'linux-source-6.1')!;
  for (const [i, d] of drivers.entries()) {
    const ko = netmap.modules[i + 1]!;
    t.is(await vermagic(ko), debian);
    t.is((await execa('modinfo', ['-F', 'name', ko])).stdout.trim(), d);
    t.true((await execa('modinfo', ['-F', 'depends', ko])).stdout.trim().split(',').includes('netmap'), `${d}.ko depends on netmap`);
    t.deepEqual(netmap.built[i + 1]!.kernelSource, { name: 'linux-source-6.1', version: linuxSource.input.version, sha256: linuxSource.input.integrity.slice('sha256-'.length) });
    t.regex(netmap.built[i + 1]!.netmapPatch ?? '', new RegExp(`^LINUX/final-patches/vanilla--${d === 'virtio_net' ? 'virtio_net\\.c' : d}--`));
  }
  t.is(netmap.built[1]!.netmapPatch, 'LINUX/final-patches/vanilla--virtio_net.c--60500--60800');
});

testNeeding(['image'], 'kipfw and ipfw are built from the pinned netmap-ipfw with its patches, and the manifest names where each came from', async (t) => {
  const { recipe, lockFile } = await loadRecipe(join(REPO, 'recipes/default.ts'));
  const cacheDir = defaultCacheDir();
  const fetched = await fetchInputs(recipe, { cacheDir, lockFile, log: quiet });
  const release = await kernelRelease(fetched.kernel.root);
  const dummynet = await buildDummynet(fetched, { cacheDir, kernelRelease: release, log: quiet });

  const source = fetched.sources.get('netmap-ipfw')!;
  t.deepEqual(dummynet.built.map((b) => b.path), ['/usr/local/bin/kipfw', '/usr/local/bin/ipfw']);
  t.deepEqual(dummynet.modules, []);
  const patches = await patchesFor('netmap-ipfw');
  t.true(patches.some((p) => p.name === 'patches/netmap-ipfw/0001-closed-by-default.patch'));
  for (const [i, b] of dummynet.built.entries()) {
    t.is(b.commit, source.version);
    t.is(`sha256-${b.archiveSha256}`, source.integrity);
    t.deepEqual(b.patches, patches.map(({ name, sha256 }) => ({ name, sha256 })));
    const file = (dummynet.files[i] as { source: string }).source;
    t.is(b.sha256, await sha256File(file));
    // stripped, dynamically linked x86-64 programs (libc only, which the image has)
    const info = (await execa('file', ['-b', file])).stdout;
    t.regex(info, /ELF 64-bit LSB pie executable, x86-64.*dynamically linked.*stripped/, info);
    t.notRegex((await execa('objdump', ['-p', file])).stdout, /NEEDED\s+(?!libc\.so\.6\s)\S/, 'needs no library but libc');
  }
  // patch 0007: kipfw seeds random() from the kernel's generator as it starts (plr draws differ per boot)
  const kipfwSymbols = (await execa('objdump', ['-T', (dummynet.files[0] as { source: string }).source])).stdout;
  t.regex(kipfwSymbols, /\bgetrandom\b/);
  t.regex(kipfwSymbols, /\bsrandom\b/);
});
