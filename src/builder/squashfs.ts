// The Node runtime travels as a compressed squashfs inside the initramfs rather than as a file in
// it: the kernel then only copies it at boot instead of decompressing 107 MB up front, and the
// pages node touches are decompressed on demand (measured in bench/: unpack time dominated boot).
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Recipe } from './recipe.ts';

const OPTIONS: Record<Recipe['compression'], string[]> = {
  xz: ['-comp', 'xz', '-Xbcj', 'x86'],
  zstd: ['-comp', 'zstd', '-Xcompression-level', '19'],
  gzip: ['-comp', 'gzip', '-Xcompression-level', '9'],
};

/** A squashfs holding `bin/node`, made once per binary and compression, cached beside the binary. Its
 * timestamps are 0, not SOURCE_DATE_EPOCH: its content is a pinned input, and so it stays cached across commits. */
export async function nodeSquashfs(binary: string, compression: Recipe['compression']): Promise<string> {
  const epoch = 0;
  const out = `${binary}.${compression}.squashfs`;
  if (existsSync(out)) return out;
  const dir = await mkdtemp(join(tmpdir(), 'picowire-node-'));
  try {
    await mkdir(join(dir, 'bin'));
    await copyFile(binary, join(dir, 'bin/node'));
    for (const p of [join(dir, 'bin/node'), join(dir, 'bin'), dir]) await utimes(p, epoch, epoch);
    const tmp = `${out}.tmp-${process.pid}`;
    await execa('mksquashfs', [dir, tmp, '-noappend', '-quiet', '-no-progress', '-b', '1M', '-all-root', '-no-xattrs',
      '-mkfs-time', String(epoch), '-all-time', String(epoch), ...OPTIONS[compression]]);
    await rename(tmp, out);
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
