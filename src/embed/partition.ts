// The PICOWIRE partition inside a GPT image (the hybrid ISO, the raw disk): found by its FAT label,
// read with mtools at its offset in the image file, and rewritten whole: no root, no loop device,
// no mount.
import { mkdir, open, readdir, readFile, stat } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { UserError } from '../common/errors.ts';
import { CONFIG_LABEL } from '../outputs/config.ts';
import { makeFat, type FatFile } from '../outputs/fat.ts';
import { runTool } from '../outputs/tools.ts';

const OUTPUT = 'embed';

/** Where the partition is in the image, and what its FAT is like. */
export interface ConfigPartition {
  offset: number;
  bytes: number;
  serial: string;
  clusterBytes: number;
  /** bytes the FAT has for file data (clusters), with no file on it */
  dataBytes: number;
}

/** One file on the partition: its path there ("/profile.json") and its bytes. */
export interface PartitionFile {
  path: string;
  data: Buffer;
}

/** mtools' name for the partition: the image file at a byte offset. */
const drive = (image: string, p: { offset: number }) => `${image}@@${p.offset}`;

/** The partition whose FAT is labelled PICOWIRE, or a UserError saying the image has none. */
export async function findConfigPartition(image: string): Promise<ConfigPartition> {
  const table = JSON.parse(await runTool('sfdisk', ['--json', image], { epoch: 0, output: OUTPUT }).catch(() => '{}')) as {
    partitiontable?: { sectorsize?: number; partitions?: { start: number; size: number }[] };
  };
  const sector = table.partitiontable?.sectorsize ?? 512;
  for (const part of table.partitiontable?.partitions ?? []) {
    if (part.size * sector > 64 * 2 ** 20) continue; // the ISO 9660 data and the ESP are larger; no need to ask mtools
    const info = await runTool('minfo', ['-i', drive(image, { offset: part.start * sector }), '::'], { epoch: 0, output: OUTPUT }).catch(() => '');
    if (/^disk label="([^"]*)"/m.exec(info)?.[1]?.trim() !== CONFIG_LABEL) continue;
    return { offset: part.start * sector, bytes: part.size * sector, ...fatGeometry(info) };
  }
  throw new UserError(`${image} has no ${CONFIG_LABEL} partition: is it a picowire .iso or .img? (a qcow2 is read through qemu-img; a PXE initrd gets its settings another way)`);
}

/** Serial, cluster size and room for data, from minfo's report of the boot sector. */
function fatGeometry(info: string): Pick<ConfigPartition, 'serial' | 'clusterBytes' | 'dataBytes'> {
  const field = (name: string) => {
    const m = new RegExp(`^${name}: (\\S+)`, 'm').exec(info);
    if (!m) throw new Error(`minfo printed no "${name}"`);
    return m[1]!;
  };
  const sectorBytes = Number(field('sector size'));
  const clusterBytes = Number(field('cluster size')) * sectorBytes;
  const sectors = Number(/^small size: (\d+)/m.exec(info)?.[1] ?? field('big size'));
  const reserved = Number(field('reserved \\(boot\\) sectors'));
  const fatSectors = Number(field('fats')) * Number(field('sectors per fat'));
  const rootSectors = Math.ceil((Number(/^max available root directory slots: (\d+)/m.exec(info)?.[1] ?? 0) * 32) / sectorBytes);
  const dataSectors = sectors - reserved - fatSectors - rootSectors;
  return { serial: field('serial number'), clusterBytes, dataBytes: Math.floor((dataSectors * sectorBytes) / clusterBytes) * clusterBytes };
}

/** Every file on the partition, and the time its files carry (the build's epoch), read by mcopy into a scratch dir. */
export async function readPartition(image: string, part: ConfigPartition, scratch: string): Promise<{ files: PartitionFile[]; epoch: number | undefined }> {
  const dir = join(scratch, 'partition');
  await mkdir(dir, { recursive: true });
  // -s: subdirectories too; -m: keep each file's FAT time, which the build set to its epoch; -n: no questions
  const listing = await runTool('mdir', ['-b', '-i', drive(image, part), '::'], { epoch: 0, output: OUTPUT }).catch(() => '');
  if (listing.trim()) await runTool('mcopy', ['-s', '-m', '-n', '-i', drive(image, part), '::*', dir + '/'], { epoch: 0, output: OUTPUT });
  const files: PartitionFile[] = [];
  let epoch: number | undefined;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    files.push({ path: '/' + relative(dir, full).split('/').join(posix.sep), data: await readFile(full) });
    epoch = Math.max(epoch ?? 0, Math.floor((await stat(full)).mtimeMs / 1000));
  }
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { files, epoch };
}

/** Writes a new FAT with these files, the same label, serial and size, into the partition's place in `image`. */
export async function writePartition(image: string, part: ConfigPartition, files: PartitionFile[], opts: { scratch: string; epoch: number }): Promise<void> {
  const needed = files.reduce((sum, f) => sum + Math.max(1, Math.ceil(f.data.length / part.clusterBytes)) * part.clusterBytes, 0);
  if (needed > part.dataBytes) {
    throw new UserError(
      `the files do not fit the ${CONFIG_LABEL} partition: they take ${kib(needed)} and it holds ${kib(part.dataBytes)}; ${kib(needed - part.dataBytes)} missing (${files.map((f) => `${f.path.slice(1)} ${kib(f.data.length)}`).join(', ')})`,
    );
  }
  const fat = join(opts.scratch, 'config.img');
  const fatFiles: FatFile[] = files.map((f) => ({ path: f.path, data: f.data }));
  await makeFat({ out: fat, label: CONFIG_LABEL, serial: part.serial, sizeKiB: part.bytes / 1024, files: fatFiles, workDir: opts.scratch, epoch: opts.epoch, output: OUTPUT });
  const data = await readFile(fat);
  if (data.length !== part.bytes) throw new Error(`the new FAT is ${data.length} bytes, the partition ${part.bytes}`);
  const handle = await open(image, 'r+');
  try {
    await handle.write(data, 0, data.length, part.offset);
  } finally {
    await handle.close();
  }
}

/** "12.5 KiB" */
export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
}
