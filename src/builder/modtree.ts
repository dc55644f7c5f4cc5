// The kernel's module tree with modules built here added: Debian's modules stay where the kernel
// package put them (linked, not copied), the built ones go under extra/, and depmod indexes them
// all, so dependencies, aliases and the load order treat a built module like one of Debian's.
// Made once per kernel and set of built modules, in the cache.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { exists, settleInCache } from './cache.ts';
import { runTool } from './fetch/host-tool.ts';

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
    await symlink(join(from, 'kernel'), join(to, 'kernel'));
    for (const f of DEPMOD_INPUTS) if (await exists(join(from, f))) await copyFile(join(from, f), join(to, f));
    for (const ko of extra) await copyFile(ko, join(to, 'extra', basename(ko)));
    await runTool('depmod', ['-b', temp, release], 'kmod', `index the modules of ${release} with ${extra.map((k) => basename(k)).join(', ')}`);
    await settleInCache(temp, root);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  return dir;
}
