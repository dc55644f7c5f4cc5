// Two clean builds of one recipe with the same SOURCE_DATE_EPOCH give byte-identical ISO and disk
// images. "Clean": each build has a cache of its own holding only the verified downloads, so
// unpacking, stripping, the squashfs, the compressed initramfs parts and every output are made anew.
import { execa } from 'execa';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from '../../src/builder/build.ts';
import { sha256File } from '../../src/builder/manifest.ts';
import { REPO, testNeeding } from '../helpers/env.ts';

const downloads = join(process.env.PICOWIRE_CACHE ?? join(homedir(), '.cache/picowire'), 'files');

/** A build of the default recipe into a folder of its own, with a cache seeded only with the downloads. */
async function cleanBuild(dir: string): Promise<string> {
  const cache = join(dir, 'cache');
  await mkdir(cache, { recursive: true });
  await execa('cp', ['-al', downloads, join(cache, 'files')]); // hard links: no copying, same verified bytes
  const outDir = join(dir, 'images');
  await build(join(REPO, 'recipes/default.ts'), { outDir, cacheDir: cache, epoch: 1_700_000_000, repoDir: REPO, installTools: false, version: 'test' });
  return outDir;
}

testNeeding(['image'], 'two clean builds with the same SOURCE_DATE_EPOCH give byte-identical ISO and disk images', async (t) => {
  // each build makes everything anew, netmap's compile included: 3-7 minutes apiece on 2 busy cores
  t.timeout(30 * 60_000);
  const work = await mkdtemp(join(tmpdir(), 'picowire-repro-'));
  try {
    const [a, b] = [await cleanBuild(join(work, 'a')), await cleanBuild(join(work, 'b'))];
    // the manifest too: it names netmap.ko, pkt-gen and bridge by their sha256
    for (const file of ['default.iso', 'default.img', 'default.qcow2', 'default-pxe/initrd.img', 'default.manifest.json']) {
      const [ha, hb] = [await sha256File(join(a, file)), await sha256File(join(b, file))];
      t.is(ha, hb, `${file} differs between the two builds`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
