// Patches picowire applies to an upstream source before building it: patches/<source>/*.patch in
// picowire's own folder, applied in name order with `patch -p1`. Upstream code is never kept in
// this repository; only these diffs are. Each patch's name and sha256 go into the build's cache key
// and the image's manifest.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../common/root.ts';
import { runTool } from './fetch/host-tool.ts';

export interface Patch {
  /** patches/<source>/<name> */
  name: string;
  file: string;
  sha256: string;
}

/** The patches for one source, in the order they apply (none if the folder does not exist). */
export async function patchesFor(source: string, dir = join(PACKAGE_ROOT, 'patches', source)): Promise<Patch[]> {
  const names = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw e;
  });
  return Promise.all(
    names
      .filter((n) => n.endsWith('.patch'))
      .sort()
      .map(async (n) => ({ name: `patches/${source}/${n}`, file: join(dir, n), sha256: createHash('sha256').update(await readFile(join(dir, n))).digest('hex') })),
  );
}

/** Applies the patches to the unpacked source tree at `srcDir`; a patch that does not apply fails naming it. */
export async function applyPatches(patches: Patch[], srcDir: string): Promise<void> {
  for (const p of patches) await runTool('patch', ['-p1', '--batch', '--forward', '--no-backup-if-mismatch', '-d', srcDir, '-i', p.file], 'patch', `apply ${p.name} to ${srcDir}`);
}
