// FAT filesystem images written without mounting (mkfs.fat + mtools on a plain file), for the ESP and
// the PICOWIRE config partition. Serial and timestamps are fixed, files go in sorted order.
import { rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { runTool } from './tools.ts';

/** One file in the image: its absolute path there, and its content from a host file or from memory. */
export type FatFile = { path: string; source: string } | { path: string; data: string | Buffer };

export interface FatImage {
  /** the image file to write */
  out: string;
  /** volume label, at most 11 characters */
  label: string;
  /** volume serial, 8 hex digits */
  serial: string;
  files: FatFile[];
  /** image size; by default the content's size plus slack */
  sizeKiB?: number;
  /** for sizing by content: room left free, as a fraction of the content, plus this many KiB */
  slackKiB?: number;
  /** scratch directory for files given as data */
  workDir: string;
  epoch: number;
  output: string;
}

/** Bytes a file takes on FAT with clusters of up to 4 KiB. */
const onDisk = (bytes: number): number => Math.ceil(bytes / 4096) * 4096;

/** An image size in KiB that holds these file sizes: clusters, two FATs, directories, plus slack. */
export function fatSizeKiB(sizes: number[], slackKiB: number): number {
  const content = sizes.reduce((sum, s) => sum + onDisk(s), 0);
  const fats = 2 * Math.ceil((content / 4096) * 4); // at most 4 bytes per cluster, twice
  const kib = Math.ceil((content + fats) / 1024) + 64 + slackKiB; // 64 KiB: boot sector, root and sub-directories
  return Math.ceil(kib / 64) * 64;
}

/** Writes the FAT image and returns its size in bytes. */
export async function makeFat(img: FatImage): Promise<number> {
  const files = [...img.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const sizes = await Promise.all(files.map(async (f) => ('source' in f ? (await stat(f.source)).size : Buffer.byteLength(f.data))));
  const sizeKiB = img.sizeKiB ?? fatSizeKiB(sizes, img.slackKiB ?? 256);
  const tool = { epoch: img.epoch, output: img.output };
  await rm(img.out, { force: true });
  await runTool('mkfs.fat', ['-C', '--invariant', '-i', img.serial, '-n', img.label, img.out, String(sizeKiB)], tool);
  // parent directories first, each once, in sorted order
  const dirs = [...new Set(files.flatMap((f) => parents(f.path)))].sort();
  if (dirs.length) await runTool('mmd', ['-i', img.out, ...dirs.map((d) => `::${d}`)], tool);
  const staging = join(img.workDir, `fat-${img.label.toLowerCase()}`);
  for (const [i, f] of files.entries()) {
    let source: string;
    if ('source' in f) source = f.source;
    else {
      source = join(staging, String(i));
      await mkdir(dirname(source), { recursive: true });
      await writeFile(source, f.data);
    }
    // mtools stamps each entry with SOURCE_DATE_EPOCH (runTool sets it), not with the source's mtime
    await runTool('mcopy', ['-i', img.out, '-o', source, `::${f.path}`], tool);
  }
  return sizeKiB * 1024;
}

/** "/a/b/c.txt" → ["/a", "/a/b"] */
function parents(path: string): string[] {
  const out: string[] = [];
  for (let d = posix.dirname(path); d !== '/' && d !== '.'; d = posix.dirname(d)) out.unshift(d);
  return out;
}
