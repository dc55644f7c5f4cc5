// Patches to upstream sources: found in name order, applied with patch -p1, and a patch that does not
// apply stops the build naming it.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { applyPatches, patchesFor } from '../../src/builder/patches.ts';

const DIFF = (from: string, to: string) => `--- a/hello.c\n+++ b/hello.c\n@@ -1 +1 @@\n-${from}\n+${to}\n`;

let dir: string;
test.before(async () => void (dir = await mkdtemp(join(tmpdir(), 'picowire-patches-test-'))));
test.after.always(() => rm(dir, { recursive: true, force: true }));

test('a source without a patches folder has no patches', async (t) => {
  t.deepEqual(await patchesFor('netmap', join(dir, 'absent')), []);
});

test('patches are .patch files taken in name order and applied in that order', async (t) => {
  const patches = join(dir, 'ordered');
  await mkdir(patches);
  await writeFile(join(patches, '02-second.patch'), DIFF('int b;', 'int c;'));
  await writeFile(join(patches, '01-first.patch'), DIFF('int a;', 'int b;'));
  await writeFile(join(patches, 'README'), 'not a patch');
  const found = await patchesFor('netmap', patches);
  t.deepEqual(found.map((p) => p.name), ['patches/netmap/01-first.patch', 'patches/netmap/02-second.patch']);
  t.true(found.every((p) => /^[0-9a-f]{64}$/.test(p.sha256)));
  const src = join(dir, 'src-ordered');
  await mkdir(src);
  await writeFile(join(src, 'hello.c'), 'int a;\n');
  await applyPatches(found, src);
  t.is(await readFile(join(src, 'hello.c'), 'utf8'), 'int c;\n');
});

test('a patch that does not apply fails naming the patch and the source folder', async (t) => {
  const patches = join(dir, 'stale');
  await mkdir(patches);
  await writeFile(join(patches, '01-stale.patch'), DIFF('int x;', 'int y;'));
  const src = join(dir, 'src-stale');
  await mkdir(src);
  await writeFile(join(src, 'hello.c'), 'int a;\n');
  const error = await t.throwsAsync(applyPatches(await patchesFor('netmap', patches), src), { instanceOf: UserError });
  t.regex(error!.message, new RegExp(`^patch failed to apply patches/netmap/01-stale\\.patch to ${src} \\(exit 1\\)`));
});
