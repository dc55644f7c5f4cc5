import { readFileSync } from 'node:fs';
import test from 'ava';
import { patchBootSector, patchCoreImage } from '../../src/outputs/bios-boot.ts';

/** A boot sector laid out as GRUB 2's boot.img: boot drive 0xff at 0x64, a short jmp at 0x66, 0x55aa at the end. */
function grubLikeBootSector(): Buffer {
  const b = Buffer.alloc(512);
  b[0x64] = 0xff;
  b[0x66] = 0xeb;
  b.writeUInt16LE(0xaa55, 0x1fe);
  return b;
}

/** A core image of n sectors whose block list is grub-mkimage's: rest of the image from sector 2. */
function grubLikeCore(sectors: number): Buffer {
  const c = Buffer.alloc(sectors * 512);
  c.writeBigUInt64LE(2n, 0x1f4);
  c.writeUInt16LE(sectors - 1, 0x1fc);
  c.writeUInt16LE(0x820, 0x1fe);
  return c;
}

test('the boot sector points at core.img and skips the drive-number check, as grub-bios-setup does for disks', (t) => {
  const b = patchBootSector(grubLikeBootSector(), 2048);
  t.is(b.readBigUInt64LE(0x5c), 2048n);
  t.is(b[0x64], 0xff);
  t.deepEqual([...b.subarray(0x66, 0x68)], [0x90, 0x90]);
});

test('a boot sector of another layout is refused rather than patched blindly', (t) => {
  const other = grubLikeBootSector();
  other[0x66] = 0x90;
  t.throws(() => patchBootSector(other, 2048), { message: /layout of GRUB 2/ });
});

test('core.img loads its remaining sectors from right after its first', (t) => {
  const c = patchCoreImage(grubLikeCore(300), 2048);
  t.is(c.readBigUInt64LE(0x1f4), 2049n);
  t.is(c.readUInt16LE(0x1fc), 299);
});

test('a core.img whose block list is not grub-mkimage default is refused', (t) => {
  const c = grubLikeCore(300);
  c.writeBigUInt64LE(7n, 0x1f4);
  t.throws(() => patchCoreImage(c, 2048), { message: /block list/ });
});

test('the installed GRUB boot.img has the layout the patcher expects', (t) => {
  let boot: Buffer;
  try {
    boot = readFileSync('/usr/lib/grub/i386-pc/boot.img');
  } catch {
    t.log('no /usr/lib/grub/i386-pc/boot.img here (Debian package grub-pc-bin); checked the synthetic layout only');
    t.pass();
    return;
  }
  t.is(patchBootSector(boot, 2048).readBigUInt64LE(0x5c), 2048n);
});
