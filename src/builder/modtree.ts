// The kernel's module tree with modules built here added: Debian's modules stay where the kernel
// package put them (linked, not copied), the built ones go under extra/, and depmod indexes them
// all, so dependencies, aliases and the load order treat a built module like one of Debian's. A built
// module with the name of one of the kernel's (netmap's patched drivers) goes under updates/, which
// depmod is told to search first: it replaces the kernel's, whose file then leaves the closure.
// Made once per kernel and set of built modules, in the cache.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { exists, settleInCache } from './cache.ts';
import { runTool } from './fetch/host-tool.ts';
import { moduleName } from './kmods.ts';

// what depmod reads besides the modules themselves
const DEPMOD_INPUTS = ['modules.order', 'modules.builtin', 'modules.builtin.modinfo'];

/** lib/modules/<release> of a tree holding the kernel package's modules plus `extra` (.ko files); made if needed. */
export async function moduleTree(kernelRoot: string, release: string, extra: string[], cacheDir: string): Promise<string> {
  const hash = createHash('sha256').update(`${kernelRoot}\n${release}\n`);
  for (const ko of [...extra].sort()) hash.update(`${basename(ko)}\n`).update(await readFile(ko));
  const root = join(cacheDir, 'modtree', hash.digest('hex').slice(0, 24));
  const dir = join(root, 'lib/modules', release);
  if (await exists(root)) return dir;
  await mkdir(join(cacheDir, 'modtree'), { recursive: true });
  const temp = await mkdtemp(`${root}.tmp-`);
  try {
    const from = join(kernelRoot, 'lib/modules', release);
    const to = join(temp, 'lib/modules', release);
    await mkdir(join(to, 'extra'), { recursive: true });
    await mkdir(join(to, 'updates'), { recursive: true });
    await symlink(join(from, 'kernel'), join(to, 'kernel'));
    for (const f of DEPMOD_INPUTS) if (await exists(join(from, f))) await copyFile(join(from, f), join(to, f));
    const kernels = new Set((await readFile(join(from, 'modules.dep'), 'utf8')).split('\n').map((l) => moduleName(l.split(':')[0]!)));
    for (const ko of extra) await copyFile(ko, join(to, kernels.has(moduleName(ko)) ? 'updates' : 'extra', basename(ko)));
    // the search order stated, not left to the build machine's /etc/depmod.d
    const config = join(temp, 'depmod.conf');
    await writeFile(config, 'search updates extra built-in\n');
    await runTool('depmod', ['-C', config, '-b', temp, release], 'kmod', `index the modules of ${release} with ${extra.map((k) => basename(k)).join(', ')}`);
    await settleInCache(temp, root);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  return dir;
}
