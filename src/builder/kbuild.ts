// A kernel build tree for out-of-tree modules, made from Debian's headers packages without root:
// linux-headers-<release>, linux-headers-<abi>-common and linux-kbuild-<ver> refer to each other
// by relative symlinks under /usr/src and /usr/lib, so they are laid side by side in one tree
// (hard links to the unpacked packages in the cache: no copy, nothing written into them), and the
// headers' Makefile, which includes the common tree by its absolute /usr/src path, is pointed at
// the tree's own copy. Made once per set of packages and reused.
import { readFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { UserError } from '../common/errors.ts';
import { exists, settleInCache } from './cache.ts';
import type { Unpacked } from './fetch/index.ts';
import { runTool } from './fetch/host-tool.ts';

export interface KernelBuildTree {
  /** the tree standing for / (its usr/src and usr/lib hold the packages' files) */
  root: string;
  /** the configured kernel directory modules build against: <root>/usr/src/linux-headers-<release> */
  dir: string;
  /** the compiler the kernel was built with, as its headers name it (gcc-12) */
  compiler: string;
}

/** Returns the build tree for `release` (6.1.0-50-amd64) from the unpacked headers packages, making it if needed. */
export async function kernelBuildTree(fetchedHeaders: Unpacked[], release: string, cacheDir: string): Promise<KernelBuildTree> {
  // the kernel's source package rides with the headers but is no part of the tree (src/builder/kernel-source.ts)
  const headers = fetchedHeaders.filter((h) => !isKernelSource(h));
  if (headers.length === 0) throw new UserError(`no kernel headers were fetched for ${release}; the lock must pin them (run \`make lock\`)`);
  const key = createHash('sha256').update(headers.map((h) => h.input.integrity).sort().join('\n')).digest('hex').slice(0, 24);
  const root = join(cacheDir, 'kbuild', key);
  const dir = join(root, 'usr/src', `linux-headers-${release}`);
  if (!(await exists(root))) await assemble(headers, root, dir, release);
  return { root, dir, compiler: await kernelCompiler(dir) };
}

/** Whether an unpacked package is the kernel's source (linux-source-6.1), not headers or kbuild. */
export function isKernelSource(p: Unpacked): boolean {
  return p.package.startsWith('linux-source-');
}

/** Links the packages' trees into one beside `root`, repoints the Makefile, then renames it into place. */
async function assemble(headers: Unpacked[], root: string, dir: string, release: string): Promise<void> {
  await mkdir(join(root, '..'), { recursive: true });
  const temp = await mkdtemp(`${root}.tmp-`);
  try {
    for (const h of headers) await runTool('cp', ['-al', `${h.root}/.`, `${temp}/`], 'coreutils', `link ${h.package} into a kernel build tree`);
    const makefile = join(temp, 'usr/src', `linux-headers-${release}`, 'Makefile');
    if (!(await exists(makefile))) {
      throw new UserError(`the headers packages (${headers.map((h) => h.package).join(', ')}) have no usr/src/linux-headers-${release}/Makefile; is the lock's kernel ${release}?`);
    }
    const text = await readFile(makefile, 'utf8');
    // a hard link to the cached package: replace the file, never write through it
    await rm(makefile);
    await writeFile(makefile, text.replace(/^include \/usr\/src\//m, `include ${root}/usr/src/`));
    await settleInCache(temp, root);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  if (!(await exists(dir))) throw new UserError(`kernel build tree ${root} has no ${dir}`);
}

/** The compiler command Debian's headers name in .kernelvariables (CC = ... gcc-12). */
async function kernelCompiler(dir: string): Promise<string> {
  const vars = await readFile(join(dir, '.kernelvariables'), 'utf8').catch(() => '');
  const cc = /^CC\s*=.*?\b(gcc-\d+)\s*$/m.exec(vars)?.[1];
  if (!cc) throw new UserError(`${join(dir, '.kernelvariables')} names no gcc-<version> as CC; cannot tell which compiler the kernel was built with`);
  return cc;
}
