// iso: boot artifacts → images/<name>.iso, one hybrid file that boots from CD and from USB stick or
// disk, under BIOS and UEFI, with a PICOWIRE config partition for sticks.
//
// Layout (as xorriso writes it): ISO 9660 with /boot/vmlinuz, /boot/initrd.img, /boot/grub/grub.cfg,
// the BIOS El Torito image and the marker file; GRUB's boot_hybrid.img in the MBR code (BIOS from
// disk loads the same El Torito core); a GPT with partition 1 = the ISO 9660 data (Linux data type, so
// Windows offers no drive letter for it), 2 = an ESP image holding only GRUB (also the El Torito
// UEFI entry), 3 = the PICOWIRE config FAT (the only partition Windows and macOS show).
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutputWriter } from '../builder/types.ts';
import { makeConfigPartition } from './config.ts';
import { makeFat } from './fat.ts';
import { GRUB_LIB, grubPlatformDir, makeGrubImage, renderGrubCfg } from './grub.ts';
import { bootMarker, isoTimestamp, isoVolumeId, stableGuid, stableSerial } from './ids.ts';
import { GPT_TYPE } from './gpt.ts';
import { runTool } from './tools.ts';

/** A host path as a -graft-points pathspec takes it: "=" and backslashes escaped (cache paths may hold base64 "="). */
export function graftSource(path: string): string {
  return path.replace(/\\/g, '\\\\').replace(/=/g, '\\=');
}

export const writeIso: OutputWriter = async (boot, ctx) => {
  const output = 'iso';
  const work = join(ctx.workDir, 'iso');
  const root = join(work, 'root');
  await rm(work, { recursive: true, force: true });
  await mkdir(join(root, 'boot/grub'), { recursive: true });
  await mkdir(join(root, 'picowire'), { recursive: true });
  await mkdir(ctx.outDir, { recursive: true });
  grubPlatformDir('i386-pc', output);

  const marker = await bootMarker(boot, ctx, output);
  await writeFile(join(root, marker), '');
  await writeFile(join(root, 'boot/grub/grub.cfg'), await renderGrubCfg({ name: ctx.name, cmdline: boot.cmdline }));
  const common = { marker, fs: 'iso9660' as const, workDir: work, epoch: ctx.epoch, output };
  await makeGrubImage({ ...common, format: 'i386-pc-eltorito', out: join(root, 'boot/grub/eltorito.img') });
  const efiApp = await makeGrubImage({ ...common, format: 'x86_64-efi', out: join(work, 'BOOTX64.EFI') });

  // the ESP holds GRUB alone: the kernel and initrd are read from the ISO 9660 filesystem
  const esp = join(work, 'efi.img');
  await makeFat({ out: esp, label: 'PWEFI', serial: stableSerial(ctx, 'iso-esp'), files: [{ path: '/EFI/BOOT/BOOTX64.EFI', source: efiApp }], slackKiB: 64, workDir: work, epoch: ctx.epoch, output });
  const config = await makeConfigPartition(ctx, join(work, 'config.img'), output);

  const out = join(ctx.outDir, `${ctx.name}.iso`);
  await rm(out, { force: true });
  // prettier-ignore
  await runTool('xorriso', [
    '-as', 'mkisofs', '-o', out, '-V', isoVolumeId(ctx.name), '-r', '-graft-points', '-no-pad',
    `--modification-date=${isoTimestamp(ctx.epoch)}`, '--set_all_file_dates', `=${ctx.epoch}`, '--gpt_disk_guid', stableGuid(ctx, 'iso-disk'),
    // BIOS from USB/disk: the MBR code loads the El Torito core image; bootable flag for picky BIOSes
    '--grub2-mbr', join(GRUB_LIB, 'i386-pc/boot_hybrid.img'), '--protective-msdos-label', '-partition_cyl_align', 'off', '-partition_offset', '16', '--mbr-force-bootable',
    '-append_partition', '2', GPT_TYPE.esp, esp,
    '-append_partition', '3', GPT_TYPE.basicData, config,
    '-appended_part_as_gpt', '-iso_mbr_part_type', GPT_TYPE.linuxData,
    // BIOS from CD
    '-c', '/boot/grub/boot.cat', '-b', '/boot/grub/eltorito.img', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '--grub2-boot-info',
    // UEFI from CD: the ESP partition is also the El Torito EFI image
    '-eltorito-alt-boot', '-e', '--interval:appended_partition_2:all::', '-no-emul-boot',
    graftSource(root), `/boot/vmlinuz=${graftSource(boot.kernel)}`, `/boot/initrd.img=${graftSource(boot.initrd)}`,
  ], { epoch: ctx.epoch, output });
  ctx.log.info(`iso: ${out} (${((await stat(out)).size / 2 ** 20).toFixed(1)} MiB)`);
  return [out];
};
