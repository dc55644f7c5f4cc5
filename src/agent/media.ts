// Booted from a USB stick or a disk, the PICOWIRE partition is on the boot medium, but a USB stick
// reaches the kernel seconds into the boot (usb-storage waits a second for it to settle, then the
// SCSI scan): in QEMU the stick's partitions appeared 0.4 s after the agent first looked for them,
// and the baked profile was applied instead. GRUB says it booted from a medium (picowire.media,
// overlays/grub/grub.cfg.hbs), and the boot's look waits for the medium's partition, up to a
// deadline, before it takes the next source. From a CD the partition is read off the disc.
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Runner } from './exec.ts';
import { BIN, CONFIG_LABEL, FILES } from './paths.ts';

const ARG = 'picowire.media';
/** How long a boot from a medium waits for its PICOWIRE partition: slow USB sticks on real PCs take a few seconds. */
export const MEDIA_WAIT_MS = 15_000;

/** Whether GRUB booted the image from a medium (stick, disk or CD), which then carries the PICOWIRE partition; not so for PXE or a direct kernel boot. */
export async function bootedFromMedium(root: string): Promise<boolean> {
  const cmdline = await readFile(join(root, FILES.cmdline), 'utf8').catch(() => '');
  return cmdline.split(/\s+/).includes(ARG);
}

/** Waits until the PICOWIRE partition can be found, on a disk or a disc, or the deadline passes (then a warning names it). */
export async function awaitConfigPartition(ctx: { root: string; run: Runner; warn: (line: string) => void }, deadlineMs = MEDIA_WAIT_MS, pollMs = 50): Promise<void> {
  const started = Date.now();
  const there = async () => {
    const findfs = await ctx.run(BIN.busybox, ['findfs', `LABEL=${CONFIG_LABEL}`]);
    return (findfs.code === 0 && findfs.stdout.trim() !== '') || (await configPartitionOnDisc(ctx.root)) !== undefined;
  };
  while (!(await there())) {
    if (Date.now() - started >= deadlineMs) {
      ctx.warn(`booted from a stick, disk or CD, but no ${CONFIG_LABEL} partition appeared on it within ${deadlineMs / 1000} s; going on without it`);
      return;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The PICOWIRE partition of a CD: the drive, and a copy of the partition to mount. */
export interface OnDisc {
  device: string;
  image: string;
}

const SECTOR = 512;
const FAT_LABEL_AT = 0x2b; // FAT12/16 boot sector: the volume label, 11 bytes
/** where the copy of a disc's partition goes (tmpfs) */
const DISC_COPY = 'run/picowire/disc-config.img';

/**
 * Booted from a CD, the kernel shows the drive (/dev/sr0) but not the partitions the hybrid ISO's
 * GPT lists, PICOWIRE among them: read the GPT off the disc, find the FAT labelled PICOWIRE and copy
 * it (256 KiB) to a file to be loop-mounted. A loop device straight on the drive would take the
 * drive's 2048-byte sectors, on which a FAT of 512-byte sectors does not mount.
 */
export async function configPartitionOnDisc(root: string, copy = false): Promise<OnDisc | undefined> {
  for (const name of ['sr0', 'sr1']) {
    const device = join(root, 'dev', name);
    const read = async (at: number, length: number) => {
      const handle = await open(device, 'r');
      try {
        const buf = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buf, 0, length, at);
        return buf.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    };
    const header = await read(SECTOR, SECTOR).catch(() => undefined);
    if (!header || header.toString('latin1', 0, 8) !== 'EFI PART') continue;
    const entriesAt = Number(header.readBigUInt64LE(72)) * SECTOR, count = header.readUInt32LE(80), size = header.readUInt32LE(84);
    const entries = await read(entriesAt, Math.min(count, 128) * size);
    for (let i = 0; i + size <= entries.length; i += size) {
      const first = Number(entries.readBigUInt64LE(i + 32)), last = Number(entries.readBigUInt64LE(i + 40));
      if (first === 0 || last < first || last - first >= 8192) continue; // unused, or larger than a config partition (the ISO 9660 data)
      const boot = await read(first * SECTOR, SECTOR);
      if (boot.toString('latin1', FAT_LABEL_AT, FAT_LABEL_AT + 11).trimEnd() !== CONFIG_LABEL) continue;
      const image = join(root, DISC_COPY);
      if (copy) {
        await mkdir(dirname(image), { recursive: true });
        await writeFile(image, await read(first * SECTOR, (last - first + 1) * SECTOR));
      }
      return { device: `/dev/${name}`, image };
    }
  }
  return undefined;
}
