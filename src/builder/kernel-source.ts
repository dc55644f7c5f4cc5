// The few files of the kernel's source a build needs, out of Debian's linux-source-<series> package
// (a 138 MB .tar.xz of the whole tree, pinned in the lock with the headers): netmap patches the
// kernel's own drivers, so only their folders are taken (about 5 MB of 1.3 GB). Made once per source
// package and set of paths, in the cache; the files are the archive's, so the result is the same
// on every machine.
import { createHash } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { exists, settleInCache, tempBeside } from './cache.ts';
import type { Unpacked } from './fetch/index.ts';
import { runTool } from './fetch/host-tool.ts';
import { isKernelSource } from './kbuild.ts';

/** The folder standing for the kernel's source tree, holding only `paths` (relative to its top: drivers/net/virtio_net.c). */
export async function kernelSourceFiles(fetchedHeaders: Unpacked[], paths: string[], cacheDir: string): Promise<string> {
  const source = fetchedHeaders.find(isKernelSource);
  if (!source) {
    throw new UserError(`the lock pins no linux-source-<series> package beside the kernel's headers (${fetchedHeaders.map((h) => h.package).join(', ') || 'none'}); netmap's native drivers are patched from it: run \`make lock\``);
  }
  const key = createHash('sha256').update(`${source.input.integrity}\n${[...paths].sort().join('\n')}`).digest('hex').slice(0, 24);
  const out = join(cacheDir, 'kernel-source', key);
  if (await exists(out)) return out;
  const tarball = await theTarball(source);
  const top = source.package; // linux-source-6.1.tar.xz unpacks to linux-source-6.1/
  await mkdir(join(cacheDir, 'kernel-source'), { recursive: true });
  const temp = tempBeside(out);
  await mkdir(temp);
  await runTool(
    'tar',
    ['-xJf', tarball, '-C', temp, '--no-same-owner', '--strip-components=1', ...paths.map((p) => `${top}/${p}`)],
    'tar',
    `take ${paths.join(', ')} from ${tarball}`,
  );
  for (const p of paths) if (!(await exists(join(temp, p)))) throw new UserError(`${tarball} has no ${top}/${p}`);
  await settleInCache(temp, out);
  return out;
}

/** usr/src/linux-source-<series>.tar.xz of the unpacked package. */
async function theTarball(source: Unpacked): Promise<string> {
  const dir = join(source.root, 'usr/src');
  const names = (await readdir(dir).catch(() => [])).filter((n) => n === `${source.package}.tar.xz`);
  if (names.length === 0) throw new UserError(`${source.package} ${source.input.version} has no usr/src/${source.package}.tar.xz; is it Debian's kernel source package?`);
  return join(dir, names[0]!);
}
