// The module tree with built modules added, on the default recipe's real kernel (from the cache `make`
// fills): a built module with one of the kernel's module names (netmap's patched drivers) goes under
// updates/ and is the one modules.dep names, so it replaces the kernel's; another goes under extra/.
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir } from '../../src/builder/cache.ts';
import { fetchInputs } from '../../src/builder/fetch/index.ts';
import { kernelRelease, moduleClosure } from '../../src/builder/kmods.ts';
import { loadRecipe } from '../../src/builder/load.ts';
import { moduleTree } from '../../src/builder/modtree.ts';
import { REPO, testNeeding } from '../helpers/env.ts';

const quiet = { info: () => {}, warn: () => {} };

testNeeding(['image'], 'a built module named like one of the kernel\'s goes under updates/ and replaces it; another goes under extra/', async (t) => {
  const { recipe, lockFile } = await loadRecipe(join(REPO, 'recipes/default.ts'));
  const cacheDir = defaultCacheDir();
  const fetched = await fetchInputs(recipe, { cacheDir, lockFile, log: quiet });
  const release = await kernelRelease(fetched.kernel.root);
  const kernel = join(fetched.kernel.root, 'lib/modules', release, 'kernel');
  const dir = await mkdtemp(join(tmpdir(), 'picowire-modtree-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // stand-ins: the kernel's own virtio_net.ko (a replacement has its name) and dummy.ko as a module of a new name
  await copyFile(join(kernel, 'drivers/net/virtio_net.ko'), join(dir, 'virtio_net.ko'));
  await copyFile(join(kernel, 'drivers/net/dummy.ko'), join(dir, 'picowire_test_dummy.ko'));
  // a fresh cache folder: the tree is made here, not found
  const treeCache = join(dir, 'cache');
  const modules = await moduleTree(fetched.kernel.root, release, [join(dir, 'virtio_net.ko'), join(dir, 'picowire_test_dummy.ko')], treeCache);

  const dep = await readFile(join(modules, 'modules.dep'), 'utf8');
  t.regex(dep, /^updates\/virtio_net\.ko:/m);
  t.notRegex(dep, /^kernel\/drivers\/net\/virtio_net\.ko:/m, 'the kernel\'s virtio_net is shadowed');
  t.regex(dep, /^extra\/picowire_test_dummy\.ko:/m);
  const closure = await moduleClosure(modules, ['virtio_net']);
  t.true(closure.files.includes('updates/virtio_net.ko'), closure.files.join(' '));
});
