import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { OUTPUTS } from '../../src/outputs/index.ts';
import { fakeBootArtifacts, missing, OUTPUT_TOOLS, testContext, testUnless } from './needs.ts';

const why = missing(OUTPUT_TOOLS);
let dir = '';

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Writes every output into a directory of its own; returns file contents by path relative to the images directory. */
async function buildAll(root: string, boot: Awaited<ReturnType<typeof fakeBootArtifacts>>, epoch: number): Promise<Map<string, Buffer>> {
  const ctx = testContext(root, { epoch });
  const files = new Map<string, Buffer>();
  for (const [format, write] of Object.entries(OUTPUTS)) {
    for (const path of await write(boot, { ...ctx, workDir: join(root, 'work', format) })) files.set(relative(ctx.outDir, path), await readFile(path));
  }
  return files;
}

testUnless(why, 'two builds with the same inputs and epoch write byte-identical files, at other times and in other directories', async (t) => {
  dir = await mkdtemp(join(tmpdir(), 'picowire-repro-test-'));
  const boot = await fakeBootArtifacts(dir);
  const first = await buildAll(join(dir, 'first'), boot, 1_700_000_000);
  await sleep(1100); // a clock that leaked into a timestamp would now read differently
  const second = await buildAll(join(dir, 'second'), boot, 1_700_000_000);
  t.deepEqual([...second.keys()].sort(), [...first.keys()].sort());
  t.true(first.size >= 8); // iso, img, qcow2 and the five pxe files
  for (const [path, bytes] of first) t.true(bytes.equals(second.get(path)!), `${path} differs between the two builds`);

  // and the epoch is really used: another epoch changes the images
  const other = await buildAll(join(dir, 'other'), boot, 1_700_000_001);
  for (const path of ['test.iso', 'test.img', 'test.qcow2']) t.false(other.get(path)!.equals(first.get(path)!), `${path} ignores the epoch`);
});
