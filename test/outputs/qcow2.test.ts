import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { writeDisk } from '../../src/outputs/disk.ts';
import { writeQcow2 } from '../../src/outputs/qcow2.ts';
import { fakeBootArtifacts, missing, OUTPUT_TOOLS, testContext, testUnless } from './needs.ts';

const why = missing(OUTPUT_TOOLS);
let dir = '';

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

testUnless(why, 'the qcow2 image holds exactly the disk the img output writes, and its scratch copy is removed', async (t) => {
  dir = await mkdtemp(join(tmpdir(), 'picowire-qcow2-test-'));
  const boot = await fakeBootArtifacts(dir);
  const ctx = testContext(dir);
  const [qcow2] = await writeQcow2(boot, ctx);
  t.is(qcow2, join(ctx.outDir, 'test.qcow2'));
  const [img] = await writeDisk(boot, ctx);
  const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', qcow2!])).stdout) as { format: string; 'virtual-size': number };
  t.is(info.format, 'qcow2');
  t.is(info['virtual-size'], (await stat(img!)).size);
  const compare = await execa('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', img!, qcow2!], { reject: false });
  t.is(compare.exitCode, 0, compare.stdout);
  await t.throwsAsync(stat(join(ctx.workDir, 'test.img')));
});
