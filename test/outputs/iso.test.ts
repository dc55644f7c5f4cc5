import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { writeIso } from '../../src/outputs/iso.ts';
import { stableGuid } from '../../src/outputs/ids.ts';
import { mtools, partitions } from './image-reading.ts';
import { fakeBootArtifacts, missing, OUTPUT_TOOLS, testContext, testUnless } from './needs.ts';

const why = missing(OUTPUT_TOOLS);
let dir = '';
let iso = '';
let ctx: ReturnType<typeof testContext>;
let boot: Awaited<ReturnType<typeof fakeBootArtifacts>>;


if (!why) {
  test.before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'picowire-iso-test-'));
    // a cache directory with "=" in its name, as base64 hashes have: xorriso must not read it as a graft point
    await mkdir(join(dir, 'sha512-q0=='));
    boot = await fakeBootArtifacts(join(dir, 'sha512-q0=='));
    ctx = testContext(dir);
    [iso] = await writeIso(boot, ctx);
  });
  test.after.always(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
}

testUnless(why, 'the ISO is written as images/<name>.iso and its size is logged', (t) => {
  t.is(iso, join(ctx.outDir, 'test.iso'));
  t.true(ctx.lines.some((l) => l.startsWith(`iso: ${iso} (`)));
});

testUnless(why, 'the ISO has a GPT with the ISO 9660 data, an ESP and a basic-data config partition, under a fixed disk GUID', async (t) => {
  const table = await partitions(iso);
  t.is(table.label, 'gpt');
  t.is(table.id.toLowerCase(), stableGuid(ctx, 'iso-disk'));
  t.deepEqual(
    table.partitions.map((p) => p.type.toLowerCase()),
    ['0fc63daf-8483-4772-8e79-3d69d8477de4', 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7'],
  );
});

testUnless(why, 'the config partition is labelled PICOWIRE and holds the recipe profile and a README', async (t) => {
  const config = (await partitions(iso)).partitions[2]!;
  t.regex(await mtools('mlabel', iso, config.start, '-s', '::'), /PICOWIRE/);
  t.is(await mtools('mtype', iso, config.start, '::/profile.json'), ctx.profileJson);
  t.regex(await mtools('mtype', iso, config.start, '::/README.txt'), /profile\.json/);
});

testUnless(why, 'the ESP holds GRUB for UEFI as /EFI/BOOT/BOOTX64.EFI and is also the El Torito UEFI image', async (t) => {
  const esp = (await partitions(iso)).partitions[1]!;
  t.regex(await mtools('mdir', iso, esp.start, '-b', '::/EFI/BOOT'), /BOOTX64\.EFI/);
  const { stdout } = await execa('xorriso', ['-indev', iso, '-report_el_torito', 'plain']);
  t.regex(stdout, /boot img :\s+1\s+BIOS\s+y\s+none/);
  t.regex(stdout, new RegExp(`boot img :\\s+2\\s+UEFI\\s+y\\s+none\\s+\\S+\\s+\\S+\\s+\\d+\\s+${esp.start / 4}\\b`));
});

testUnless(why, 'the MBR holds GRUB hybrid boot code, so BIOSes boot the ISO from a USB stick or disk', async (t) => {
  const mbr = (await readFile(iso)).subarray(0, 0x1b0);
  const hybrid = (await readFile('/usr/lib/grub/i386-pc/boot_hybrid.img')).subarray(0, 0x1b0);
  t.true(mbr.equals(hybrid));
});

testUnless(why, 'the ISO 9660 tree has the kernel (read from a path with "=" in it), the initrd, grub.cfg and the marker GRUB searches for', async (t) => {
  const { stdout } = await execa('xorriso', ['-indev', iso, '-find', '/', '-type', 'f']);
  t.regex(stdout, /'\/boot\/vmlinuz'/);
  t.regex(stdout, /'\/boot\/initrd\.img'/);
  t.regex(stdout, /'\/boot\/grub\/grub\.cfg'/);
  t.regex(stdout, /'\/picowire\/test-iso-[0-9a-f]{12}'/);
  const out = join(dir, 'extracted-kernel');
  await execa('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/boot/vmlinuz', out]);
  t.true((await readFile(out)).equals(await readFile(boot.kernel)));
});

testUnless(why, 'the ISO adds less than 3 MB to the kernel and initrd', async (t) => {
  const overhead = (await stat(iso)).size - (await stat(boot.kernel)).size - (await stat(boot.initrd)).size;
  t.log(`ISO overhead: ${(overhead / 1e6).toFixed(2)} MB`);
  t.true(overhead < 3e6);
});
