import { open, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { writeDisk } from '../../src/outputs/disk.ts';
import { stableGuid } from '../../src/outputs/ids.ts';
import { mtools, partitions } from './image-reading.ts';
import { fakeBootArtifacts, missing, OUTPUT_TOOLS, testContext, testUnless } from './needs.ts';

const why = missing(OUTPUT_TOOLS);
let dir = '';
let img = '';
let ctx: ReturnType<typeof testContext>;
let boot: Awaited<ReturnType<typeof fakeBootArtifacts>>;


/** A file's bytes from the FAT filesystem that starts at a sector of the image. */
async function fatFile(image: string, sector: number, path: string): Promise<Buffer> {
  const { stdout } = await execa('mtype', ['-i', `${image}@@${sector * 512}`, `::${path}`], { env: { MTOOLS_SKIP_CHECK: '1' }, encoding: 'buffer', stripFinalNewline: false });
  return Buffer.from(stdout);
}

/** n bytes of the image from a sector. */
async function sectors(image: string, sector: number, bytes: number): Promise<Buffer> {
  const fh = await open(image, 'r');
  try {
    const b = Buffer.alloc(bytes);
    await fh.read(b, 0, bytes, sector * 512);
    return b;
  } finally {
    await fh.close();
  }
}

if (!why) {
  test.before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'picowire-disk-test-'));
    boot = await fakeBootArtifacts(dir);
    ctx = testContext(dir);
    [img] = await writeDisk(boot, ctx);
  });
  test.after.always(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
}

testUnless(why, 'the disk is written as images/<name>.img', (t) => {
  t.is(img, join(ctx.outDir, 'test.img'));
});

testUnless(why, 'the GPT has a BIOS boot partition, an ESP and the PICOWIRE partition, MiB-aligned, with fixed GUIDs', async (t) => {
  const table = await partitions(img);
  t.is(table.label, 'gpt');
  t.is(table.id.toLowerCase(), stableGuid(ctx, 'img-disk'));
  const [bios, esp, config] = table.partitions;
  t.like(bios, { start: 2048, size: 2048, type: '21686148-6449-6E6F-744E-656564454649', name: 'BIOS boot' });
  t.like(esp, { start: 4096, type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B' });
  t.like(config, { type: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', name: 'PICOWIRE' });
  t.is(esp!.uuid.toLowerCase(), stableGuid(ctx, 'img-esp'));
  for (const p of table.partitions) t.is(p.start % 2048, 0);
});

testUnless(why, 'the ESP holds GRUB for UEFI, grub.cfg, the kernel, the initrd and the marker', async (t) => {
  const esp = (await partitions(img)).partitions[1]!;
  t.regex(await mtools('mdir', img, esp.start, '-b', '-/', '::/'), /EFI\/BOOT\/BOOTX64\.EFI[\s\S]*boot\/grub\/grub\.cfg/i);
  t.true((await fatFile(img, esp.start, '/boot/vmlinuz')).equals(await readFile(boot.kernel)));
  t.true((await fatFile(img, esp.start, '/boot/initrd.img')).equals(await readFile(boot.initrd)));
  t.regex(await mtools('mdir', img, esp.start, '-b', '::/picowire'), /test-img-[0-9a-f]{12}/);
  t.regex(await mtools('mtype', img, esp.start, '::/boot/grub/grub.cfg'), /linux \/boot\/vmlinuz console=tty0 console=ttyS0,115200 quiet/);
});

testUnless(why, 'the config partition is labelled PICOWIRE and holds the recipe profile', async (t) => {
  const config = (await partitions(img)).partitions[2]!;
  t.regex(await mtools('mlabel', img, config.start, '-s', '::'), /PICOWIRE/);
  t.is((await fatFile(img, config.start, '/profile.json')).toString(), ctx.profileJson + '\n');
});

testUnless(why, 'the MBR boot code points at GRUB core.img in the BIOS boot partition, which loads the rest of itself', async (t) => {
  const mbr = await sectors(img, 0, 512);
  const bootImg = await readFile('/usr/lib/grub/i386-pc/boot.img');
  t.true(mbr.subarray(0, 0x5c).equals(bootImg.subarray(0, 0x5c)));
  t.is(mbr.readBigUInt64LE(0x5c), 2048n);
  t.is(mbr.readUInt16LE(0x1fe), 0xaa55);
  t.is(mbr[0x1c2], 0xee); // the protective MBR partition sfdisk wrote is kept
  const core = await sectors(img, 2048, 512);
  t.is(core.readBigUInt64LE(0x1f4), 2049n);
});
