// img: boot artifacts → images/<name>.img, a raw GPT disk for dd to a USB stick or disk, or for VMs;
// boots under UEFI and BIOS.
//
// Layout (512-byte sectors, everything MiB-aligned, GUIDs fixed by recipe name and epoch):
//   MBR with GRUB boot.img, GPT | p1 BIOS boot (1 MiB): GRUB i386-pc core.img
//   p2 ESP (FAT, sized from its content): /EFI/BOOT/BOOTX64.EFI, /boot/grub/grub.cfg, /boot/vmlinuz,
//      /boot/initrd.img and the marker both GRUBs search for | p3 PICOWIRE config FAT | backup GPT
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BootArtifacts, OutputContext, OutputWriter } from '../builder/types.ts';
import { installBiosBoot } from './bios-boot.ts';
import { CONFIG_LABEL, CONFIG_SIZE_KIB, makeConfigPartition } from './config.ts';
import { fatSizeKiB, makeFat, type FatFile } from './fat.ts';
import { GPT_TYPE } from './gpt.ts';
import { makeGrubImage, renderGrubCfg } from './grub.ts';
import { bootMarker, stableGuid, stableSerial } from './ids.ts';
import { runTool } from './tools.ts';

const MIB = 2048; // sectors
/** Free room on the ESP beyond its content: for a bigger kernel or initrd copied over it by hand. */
const ESP_SLACK_KIB = 2048;

/** One partition of the disk: where it starts and how long it is, in sectors. */
interface Part {
  start: number;
  size: number;
  type: string;
  uuid: string;
  name: string;
}

/** The sfdisk script that writes the GPT: fixed disk and partition GUIDs, explicit places. */
export function sfdiskScript(diskGuid: string, parts: Part[]): string {
  const lines = ['label: gpt', `label-id: ${diskGuid}`, 'unit: sectors', 'sector-size: 512', 'first-lba: 2048', ''];
  for (const p of parts) lines.push(`start=${p.start}, size=${p.size}, type=${p.type}, uuid=${p.uuid}, name="${p.name}"`);
  return lines.join('\n') + '\n';
}

/** Copies a partition image into the disk image at a sector. */
async function writeAt(disk: string, image: string, sector: number): Promise<void> {
  await pipeline(createReadStream(image), createWriteStream(disk, { flags: 'r+', start: sector * 512 }));
}

/** Writes the raw disk image to `out` (the img writer, and the qcow2 writer before converting). */
export async function writeDiskImage(boot: BootArtifacts, ctx: OutputContext, out: string, output: string): Promise<string> {
  const work = join(ctx.workDir, 'disk');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });

  const marker = await bootMarker(boot, ctx, 'img');
  const common = { marker, fs: 'fat' as const, workDir: work, epoch: ctx.epoch, output };
  const core = await makeGrubImage({ ...common, format: 'i386-pc', out: join(work, 'core.img') });
  const efiApp = await makeGrubImage({ ...common, format: 'x86_64-efi', out: join(work, 'BOOTX64.EFI') });

  const files: FatFile[] = [
    { path: '/EFI/BOOT/BOOTX64.EFI', source: efiApp },
    { path: '/boot/grub/grub.cfg', data: await renderGrubCfg({ name: ctx.name, cmdline: boot.cmdline }) },
    { path: '/boot/vmlinuz', source: boot.kernel },
    { path: '/boot/initrd.img', source: boot.initrd },
    { path: marker, data: '' },
  ];
  const sizes = await Promise.all(files.map(async (f) => ('source' in f ? (await stat(f.source)).size : Buffer.byteLength(f.data))));
  const espKiB = Math.ceil(fatSizeKiB(sizes, ESP_SLACK_KIB) / 1024) * 1024;
  const esp = join(work, 'esp.img');
  await makeFat({ out: esp, label: 'PWBOOT', serial: stableSerial(ctx, 'img-esp'), files, sizeKiB: espKiB, workDir: work, epoch: ctx.epoch, output });
  const config = await makeConfigPartition(ctx, join(work, 'config.img'), output);

  const parts: Part[] = [
    { start: MIB, size: MIB, type: GPT_TYPE.biosBoot, uuid: stableGuid(ctx, 'img-bios'), name: 'BIOS boot' },
    { start: 2 * MIB, size: espKiB * 2, type: GPT_TYPE.esp, uuid: stableGuid(ctx, 'img-esp'), name: 'EFI system' },
    { start: 2 * MIB + espKiB * 2, size: CONFIG_SIZE_KIB * 2, type: GPT_TYPE.basicData, uuid: stableGuid(ctx, 'img-config'), name: CONFIG_LABEL },
  ];
  const last = parts[parts.length - 1]!;
  const totalSectors = last.start + last.size + MIB; // the backup GPT needs 33 sectors; keep the end aligned

  await writeFile(out, ''); // a sparse file of zeros: the gaps between partitions stay holes
  await truncate(out, totalSectors * 512);
  await runTool('sfdisk', ['--no-reread', '--no-tell-kernel', '--quiet', out], { epoch: ctx.epoch, output, input: sfdiskScript(stableGuid(ctx, 'img-disk'), parts) });
  await writeAt(out, esp, parts[1]!.start);
  await writeAt(out, config, parts[2]!.start);
  await installBiosBoot(out, core, parts[0]!.start, parts[0]!.size);
  return out;
}

export const writeDisk: OutputWriter = async (boot, ctx) => {
  await mkdir(ctx.outDir, { recursive: true });
  const out = await writeDiskImage(boot, ctx, join(ctx.outDir, `${ctx.name}.img`), 'img');
  ctx.log.info(`img: ${out} (${((await stat(out)).size / 2 ** 20).toFixed(1)} MiB)`);
  return [out];
};
