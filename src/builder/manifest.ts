// What went into an image and what came out: images/<name>.manifest.json and images/SHA256SUMS.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { FetchedInputs } from './fetch/index.ts';
import type { Recipe } from './recipe.ts';
import type { Rootfs } from './rootfs.ts';
import { moduleName } from './kmods.ts';
import type { Built } from './types.ts';

/** The SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Writes the manifest of one build and refreshes SHA256SUMS over every output in outDir. */
export async function writeManifest(b: {
  recipe: Recipe;
  fetched: FetchedInputs;
  rootfs: Rootfs;
  /** files compiled from upstream sources (netmap.ko, pkt-gen, ...) */
  built: Built[];
  parts: { name: string; bytes: number }[];
  outputs: string[];
  outDir: string;
  epoch: number;
  version: string;
}): Promise<void> {
  const outputs = await Promise.all(
    b.outputs.map(async (file) => ({ file: relative(b.outDir, file), bytes: (await stat(file)).size, sha256: await sha256File(file) })),
  );
  const manifest = {
    picowire: b.version,
    recipe: b.recipe.name,
    sourceDateEpoch: b.epoch,
    kernel: b.rootfs.kernelVersion,
    inputs: b.fetched.inputs.map(({ name, version, url, integrity, verifiedBy }) => ({ name, version, url, integrity, verifiedBy })),
    // a built module the features leave out (a patched driver for NICs the recipe does not carry) is not in the image
    built: b.built.filter((x) => !x.name.endsWith('.ko') || b.rootfs.moduleOrder.includes(moduleName(x.name))),
    modules: b.rootfs.moduleOrder,
    initramfs: b.parts.map(({ name, bytes }) => ({ name, bytes })),
    outputs,
  };
  await writeFile(join(b.outDir, `${b.recipe.name}.manifest.json`), JSON.stringify(manifest, null, 2) + '\n');
  await writeSums(b.outDir, new Map(outputs.map((o) => [o.file, o.sha256])));
}

/** SHA256SUMS in the format `sha256sum -c` reads, over every image file in outDir (manifests included);
 * `known` holds the hashes this build computed already, so they are not read twice. */
async function writeSums(outDir: string, known: Map<string, string>): Promise<void> {
  const files: string[] = [];
  for (const entry of await readdir(outDir, { withFileTypes: true, recursive: true })) {
    const full = join(entry.parentPath, entry.name);
    if (entry.isFile() && entry.name !== 'SHA256SUMS') files.push(relative(outDir, full));
  }
  files.sort();
  const lines = await Promise.all(files.map(async (f) => `${known.get(f) ?? (await sha256File(join(outDir, f)))}  ${f}\n`));
  await writeFile(join(outDir, 'SHA256SUMS'), lines.join(''));
}
