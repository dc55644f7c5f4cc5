// BIOS boot for a GPT disk image, written into the file directly (what grub-bios-setup does to a
// block device): GRUB's boot.img in the MBR code area, pointing at core.img in the BIOS boot partition.
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GRUB_LIB } from './grub.ts';

const SECTOR = 512;
// offsets in GRUB's boot.img (grub-core/boot/i386/pc/boot.S): where core.img starts, which drive
// to read (0xff: the one the BIOS booted), and a jump that skips the check for bogus drive numbers
const KERNEL_SECTOR = 0x5c;
const BOOT_DRIVE = 0x64;
const DRIVE_CHECK = 0x66;
/** boot.img is code up to here; the disk signature and partition table follow and are kept */
const MBR_CODE_END = 0x1b8;
// offsets in core.img's first sector (diskboot.img): the block list of the sectors after it
const BLOCKLIST_START = 0x1f4;
const BLOCKLIST_LEN = 0x1fc;

/** Patches boot.img for a hard disk whose core.img starts at coreLba; throws if boot.img is not the layout we know. */
export function patchBootSector(bootImg: Buffer, coreLba: number): Buffer {
  const b = Buffer.from(bootImg.subarray(0, SECTOR));
  if (b.length !== SECTOR || b[BOOT_DRIVE] !== 0xff || b[DRIVE_CHECK] !== 0xeb || b.readUInt16LE(0x1fe) !== 0xaa55) {
    throw new Error(`GRUB's boot.img (${join(GRUB_LIB, 'i386-pc/boot.img')}) does not have the layout of GRUB 2.0x (boot drive 0xff at 0x64, jmp at 0x66); cannot write BIOS boot code`);
  }
  b.writeBigUInt64LE(BigInt(coreLba), KERNEL_SECTOR);
  // a hard disk: turn the jump into two NOPs so a BIOS passing a drive number without bit 7 set still boots (as grub-bios-setup does)
  b[DRIVE_CHECK] = 0x90;
  b[DRIVE_CHECK + 1] = 0x90;
  return b;
}

/** Patches core.img so its first sector loads the rest from coreLba + 1; throws if the block list is not mkimage's default. */
export function patchCoreImage(coreImg: Buffer, coreLba: number): Buffer {
  const c = Buffer.from(coreImg);
  const sectors = Math.ceil(c.length / SECTOR);
  if (c.readBigUInt64LE(BLOCKLIST_START) !== 2n || c.readUInt16LE(BLOCKLIST_LEN) !== sectors - 1) {
    throw new Error(`core.img's block list is not what grub-mkimage writes (start 2, ${sectors - 1} sectors); cannot place it on the disk`);
  }
  c.writeBigUInt64LE(BigInt(coreLba + 1), BLOCKLIST_START);
  return c;
}

/** Writes boot code into the disk image's MBR and core.img at coreLba, which must lie in a partition of maxSectors. */
export async function installBiosBoot(disk: string, coreImgPath: string, coreLba: number, maxSectors: number): Promise<void> {
  const core = patchCoreImage(await readFile(coreImgPath), coreLba);
  if (Math.ceil(core.length / SECTOR) > maxSectors) {
    throw new Error(`GRUB core.img (${core.length} bytes) does not fit the BIOS boot partition (${maxSectors} sectors)`);
  }
  const boot = patchBootSector(await readFile(join(GRUB_LIB, 'i386-pc/boot.img')), coreLba);
  const fh = await open(disk, 'r+');
  try {
    await fh.write(boot, 0, MBR_CODE_END, 0);
    await fh.write(core, 0, core.length, coreLba * SECTOR);
  } finally {
    await fh.close();
  }
}
