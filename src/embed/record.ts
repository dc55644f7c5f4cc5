// What was embedded, noted where the build noted its outputs: the output's line in SHA256SUMS and an
// `embedded` entry in the recipe's manifest, when the written file sits in a build's output folder.
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { sha256File } from '../builder/manifest.ts';
import type { Setting } from './settings.ts';
import { sha256 } from './hash.ts';

interface Manifest {
  outputs?: { file: string }[];
  embedded?: { file: string; from: string; settings: { name: string; bytes: number; sha256?: string }[] }[];
}

/** The build's output folder a file is in (images/, or images/ for images/default-pxe/initrd.img). */
function outputRoot(file: string): string | undefined {
  for (const dir of [dirname(file), dirname(dirname(file))]) if (existsSync(join(dir, 'SHA256SUMS'))) return dir;
  return undefined;
}

/** Sets (or adds) the lines of these files in root/SHA256SUMS, kept in order. */
async function updateSums(root: string, hashes: Map<string, string>): Promise<void> {
  const sums = join(root, 'SHA256SUMS');
  const lines = new Map<string, string>();
  for (const line of (await readFile(sums, 'utf8')).split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m) lines.set(m[2]!, m[1]!);
  }
  for (const [file, hash] of hashes) lines.set(file, hash);
  const files = [...lines.keys()].sort();
  await writeFile(sums, files.map((f) => `${lines.get(f)}  ${f}\n`).join(''));
}

/** Notes the embedding of `settings` from `source` into each written file, where a build's records are. */
export async function recordEmbedding(source: string, written: string[], settings: Setting[]): Promise<void> {
  for (const file of written.map((f) => resolve(f))) {
    const root = outputRoot(file);
    if (!root) continue;
    const rel = relative(root, file);
    const hashes = new Map([[rel, await sha256File(file)]]);
    const from = relative(root, resolve(source));
    for (const name of (await readdir(root)).filter((n) => n.endsWith('.manifest.json')).sort()) {
      const path = join(root, name);
      const manifest = JSON.parse(await readFile(path, 'utf8')) as Manifest;
      // the manifest of the build that made the source (a PXE directory's outputs are its files)
      if (!manifest.outputs?.some((o) => o.file === from || o.file.startsWith(from + '/') || o.file === rel)) continue;
      const entry = {
        file: rel,
        from,
        // no hash of a secret: a short token could be found from it
        settings: settings.map((s) => ({ name: s.name, bytes: s.data.length, ...(s.name === 'token' || s.name === 'tls_key' ? {} : { sha256: sha256(s.data) }) })),
      };
      manifest.embedded = [...(manifest.embedded ?? []).filter((e) => e.file !== rel), entry].sort((a, b) => (a.file < b.file ? -1 : 1));
      await writeFile(path, JSON.stringify(manifest, null, 2) + '\n');
      hashes.set(relative(root, path), await sha256File(path));
    }
    await updateSums(root, hashes);
  }
}
