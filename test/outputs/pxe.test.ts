import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ipxeScript, writePxe } from '../../src/outputs/pxe.ts';
import { fakeBootArtifacts, testContext } from './needs.ts';

test('the pxe directory holds the kernel, the initrd, the command line, an iPXE script and a README, nothing stale', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-pxe-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const boot = await fakeBootArtifacts(dir, 'quiet picowire.x=1');
  const ctx = testContext(dir);
  const pxeDir = join(ctx.outDir, 'test-pxe');
  await mkdir(pxeDir, { recursive: true });
  await writeFile(join(pxeDir, 'stale.txt'), 'from an earlier build');

  const written = await writePxe(boot, ctx);
  t.deepEqual((await readdir(pxeDir)).sort(), ['README.txt', 'boot.ipxe', 'cmdline.txt', 'initrd.img', 'vmlinuz']);
  t.deepEqual([...written].sort(), (await readdir(pxeDir)).sort().map((f) => join(pxeDir, f)));
  t.true((await readFile(join(pxeDir, 'vmlinuz'))).equals(await readFile(boot.kernel)));
  t.true((await readFile(join(pxeDir, 'initrd.img'))).equals(await readFile(boot.initrd)));
  t.is(await readFile(join(pxeDir, 'cmdline.txt'), 'utf8'), 'console=tty0 console=ttyS0,115200 quiet picowire.x=1\n');
  t.regex(await readFile(join(pxeDir, 'README.txt'), 'utf8'), /dnsmasq[\s\S]*APPEND console=tty0 console=ttyS0,115200 quiet picowire\.x=1/);
  for (const f of written) t.is((await stat(f)).mtimeMs, ctx.epoch * 1000, f);
});

test('the iPXE script loads kernel and initrd by relative path and passes initrd= for the EFI stub', (t) => {
  t.is(ipxeScript('lab', 'console=ttyS0 quiet'), '#!ipxe\n# picowire lab: kernel and initrd are fetched from the same place as this script\nkernel vmlinuz initrd=initrd.img console=ttyS0 quiet\ninitrd initrd.img\nboot\n');
});
