// `picowire embed`: puts settings (profile, token, SSH keys, profile URL) into an image that is
// already built, without rebuilding it: the PICOWIRE partition of an ISO, raw disk or qcow2, or an
// archive appended to a PXE initrd. Everything is checked first; the result is written next to its
// destination and renamed over it only when whole, so a refusal or a failure leaves it untouched.
// The same image and the same settings give the same bytes.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { envEpoch } from '../common/epoch.ts';
import { UserError } from '../common/errors.ts';
import { PXE_FILES } from '../outputs/pxe.ts';
import { runTool } from '../outputs/tools.ts';
import { appendSettings, splitInitrd } from './initrd.ts';
import { findConfigPartition, readPartition, writePartition, type PartitionFile } from './partition.ts';
import { recordEmbedding } from './record.ts';
import type { Setting } from './settings.ts';

export type ImageKind = 'iso' | 'img' | 'qcow2' | 'initrd' | 'pxe';

/** What an image carries: its kind and its settings files. */
export interface Carried {
  kind: ImageKind;
  files: PartitionFile[];
}

/** FAT dates start in 1980: the time given to embedded files when neither SOURCE_DATE_EPOCH nor the image has one. */
const FAT_EPOCH = 315_532_800;

/** What kind of picowire output a path is, from its first bytes (or, for a directory, its initrd). */
export async function imageKind(path: string): Promise<ImageKind> {
  const info = await stat(path).catch(() => {
    throw new UserError(`${path}: no such image`);
  });
  if (info.isDirectory()) {
    if (existsSync(join(path, 'initrd.img'))) return 'pxe';
    throw new UserError(`${path} is a directory without initrd.img; give an .iso, .img, .qcow2, a PXE directory or its initrd.img`);
  }
  const handle = await open(path, 'r');
  const head = Buffer.alloc(0x8006);
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  if (head.toString('latin1', 0, 4) === 'QFI\xfb') return 'qcow2';
  if (head.toString('latin1', 0x8001, 0x8006) === 'CD001') return 'iso';
  if (head.toString('latin1', 512, 520) === 'EFI PART') return 'img';
  const magic = head.subarray(0, 6).toString('hex');
  // zstd, gzip, xz, or a plain newc archive: the ways an initramfs starts
  if (/^(28b52ffd|1f8b|fd377a585a00)/.test(magic) || head.toString('latin1', 0, 6) === '070701') return 'initrd';
  throw new UserError(`${path} is not a picowire image; allowed: an .iso, a raw disk (.img), a .qcow2, a PXE directory or its initrd.img`);
}

/** Runs work with a scratch directory that is removed afterwards. */
async function withScratch<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-embed-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The partition's files with the settings put in (a setting replaces the file of its name). */
function merged(files: PartitionFile[], settings: Setting[]): PartitionFile[] {
  const byPath = new Map(files.map((f) => [f.path, f.data]));
  for (const s of settings) byPath.set(`/${s.name}`, s.data);
  return [...byPath].map(([path, data]) => ({ path, data })).sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Embeds into a GPT image file (ISO or raw disk) in place: the caller gives a copy. */
async function embedGpt(image: string, settings: Setting[], scratch: string): Promise<void> {
  const part = await findConfigPartition(image);
  const { files, epoch } = await readPartition(image, part, scratch);
  // the partition's own files carry the build's epoch: the new ones get it too
  await writePartition(image, part, merged(files, settings), { scratch, epoch: Math.max(envEpoch() ?? epoch ?? FAT_EPOCH, FAT_EPOCH) });
}

/** A qcow2 as a raw disk in scratch (refusing what a round trip would lose), and back. */
async function qcow2ToRaw(image: string, scratch: string): Promise<string> {
  const info = JSON.parse(await runTool('qemu-img', ['info', '--output=json', image], { epoch: 0, output: 'embed' })) as { 'backing-filename'?: string; snapshots?: unknown[] };
  if (info['backing-filename']) throw new UserError(`${image} is an overlay on ${info['backing-filename']}; embed into the image it is based on, or \`qemu-img convert\` it to a whole one first`);
  if (info.snapshots?.length) throw new UserError(`${image} has ${info.snapshots.length} internal snapshot(s), which embedding would lose; delete them (qemu-img snapshot -d) or convert the image first`);
  const raw = join(scratch, 'disk.img');
  await runTool('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image, raw], { epoch: 0, output: 'embed' });
  return raw;
}

/** Writes `produce`'s file as `out`: made beside it under a temporary name, then renamed over it. */
async function replaceAtomically(out: string, produce: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.embed-${process.pid}`);
  try {
    await produce(tmp);
    await rename(tmp, out);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Embeds the settings into `image`, in place or into `out`; returns the files written. */
export async function embed(image: string, settings: Setting[], opts: { out?: string; log?: (line: string) => void } = {}): Promise<string[]> {
  const kind = await imageKind(image);
  const log = opts.log ?? (() => undefined);
  const out = resolve(opts.out ?? image);
  let written = [out];
  if (kind === 'pxe') written = await embedPxe(image, settings, out);
  else if (kind === 'initrd') await writeInitrd(image, settings, out);
  else {
    // an ISO, a raw disk or a qcow2: the partition's files go through a scratch directory
    await withScratch((scratch) =>
      replaceAtomically(out, async (tmp) => {
        if (kind === 'qcow2') {
          const raw = await qcow2ToRaw(image, scratch);
          await embedGpt(raw, settings, scratch);
          await runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, tmp], { epoch: 0, output: 'embed' });
        } else {
          await copyFile(image, tmp);
          await embedGpt(tmp, settings, scratch);
        }
      }),
    );
  }
  for (const file of written) log(`embedded ${settings.map((s) => s.name).join(', ')} into ${file}`);
  await recordEmbedding(image, written, settings);
  return written;
}

/** An initrd with the settings appended, written as `out`. */
async function writeInitrd(initrd: string, settings: Setting[], out: string): Promise<void> {
  const { base, settings: before } = splitInitrd(await readFile(initrd), initrd);
  const keep = before.map((e) => ({ name: basename(e.path), data: e.data })).filter((e) => !settings.some((s) => s.name === e.name)) as Setting[];
  const all = [...keep, ...settings].sort((a, b) => (a.name < b.name ? -1 : 1));
  const data = await appendSettings(base, all, envEpoch() ?? 0);
  await replaceAtomically(out, (tmp) => writeFile(tmp, data));
}

/** A PXE directory: its initrd gets the settings; into another directory, the other files are copied along. */
async function embedPxe(dir: string, settings: Setting[], outDir: string): Promise<string[]> {
  const out = resolve(outDir);
  if (out !== resolve(dir)) {
    await mkdir(out, { recursive: true });
    for (const f of PXE_FILES) if (f !== 'initrd.img' && existsSync(join(dir, f))) await copyFile(join(dir, f), join(out, f));
  }
  await writeInitrd(join(dir, 'initrd.img'), settings, join(out, 'initrd.img'));
  return [join(out, 'initrd.img')];
}

/** The settings an image carries. */
export async function carried(image: string): Promise<Carried> {
  const kind = await imageKind(image);
  if (kind === 'pxe' || kind === 'initrd') {
    const initrd = kind === 'pxe' ? join(image, 'initrd.img') : image;
    const { settings } = splitInitrd(await readFile(initrd), initrd);
    return { kind, files: settings.map((e) => ({ path: '/' + basename(e.path), data: e.data })) };
  }
  return withScratch(async (scratch) => {
    const disk = kind === 'qcow2' ? await qcow2ToRaw(image, scratch) : image;
    const { files } = await readPartition(disk, await findConfigPartition(disk), scratch);
    return { kind, files };
  });
}
