// The initrd: several compressed newc archives concatenated, which the kernel unpacks in turn.
// Parts that rarely change (modules, the Node runtime) are cached already compressed, keyed by a
// hash of their content, so a warm build only compresses the small base part.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { cpioArchive } from './cpio.ts';
import type { Recipe } from './recipe.ts';
import type { Entry } from './types.ts';

type Compression = Recipe['compression'] | 'none';

/** Compressor command lines the kernel's decompressors accept (xz: crc32 check, x86 BCJ filter). */
const COMPRESSORS: Record<Compression, string[]> = {
  zstd: ['zstd', '-19', '-T2', '-q', '-c'],
  xz: ['xz', '--check=crc32', '--x86', '--lzma2=preset=9e', '-T1', '-c'],
  gzip: ['gzip', '-9', '-n', '-c'],
  none: ['cat'],
};

export interface Part {
  name: string;
  entries: Entry[];
  /** false for content that is compressed already (the Node squashfs): stored as plain cpio */
  compressed?: boolean;
  /** the mtime of its files when not SOURCE_DATE_EPOCH: parts made only of pinned inputs use 0, so a
   * new commit (a new epoch) does not make them again */
  epoch?: number;
}

/** Writes the initrd for these parts to `out`, reusing compressed parts from the cache; returns per-part sizes. */
export async function writeInitramfs(
  parts: Part[],
  opts: { compression: Recipe['compression']; epoch: number; cacheDir: string; out: string; log: (line: string) => void },
): Promise<{ name: string; bytes: number; cached: boolean }[]> {
  const dir = join(opts.cacheDir, 'initramfs');
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const sizes = [];
  for (const part of parts) {
    const compression = part.compressed === false ? 'none' : opts.compression;
    const epoch = part.epoch ?? opts.epoch;
    const key = await partKey(part, compression, epoch);
    const file = join(dir, `${part.name}-${key}.cpio${compression === 'none' ? '' : '.' + compression}`);
    const cached = await exists(file);
    if (!cached) await compressPart(part, file, { compression, epoch });
    files.push(file);
    const bytes = (await stat(file)).size;
    sizes.push({ name: part.name, bytes, cached });
    opts.log(`${part.name}: ${part.entries.length} entries, ${(bytes / 1e6).toFixed(1)} MB ${compression}${cached ? ' (cached)' : ''}`);
  }
  await concatenate(files, opts.out);
  return sizes;
}

/** A hash of everything that determines a part's bytes: entries, their content, compression, epoch. */
async function partKey(part: Part, compression: Compression, epoch: number): Promise<string> {
  const h = createHash('sha256').update(`${compression} ${epoch} ${COMPRESSORS[compression].join(' ')}\n`);
  for (const e of [...part.entries].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    h.update(`${e.type} ${e.path} ${'mode' in e ? e.mode : ''} ${'target' in e ? e.target : ''}\n`);
    if (e.type === 'file') {
      if ('data' in e) h.update(e.data);
      else {
        // large host files are named by path, size and mtime: the cache they live in is content-addressed
        const st = await stat(e.source);
        h.update(`${e.source} ${st.size} ${st.mtimeMs}\n`);
      }
    }
  }
  return h.digest('hex').slice(0, 24);
}

/** Streams the part's cpio through the compressor into the cache (atomically). */
async function compressPart(part: Part, file: string, opts: { compression: Compression; epoch: number }): Promise<void> {
  const [cmd, ...args] = COMPRESSORS[opts.compression];
  const tmp = `${file}.tmp-${process.pid}`;
  const child = execa(cmd!, args, { stdin: 'pipe', stdout: 'pipe', buffer: false });
  await Promise.all([
    pipeline(Readable.from(cpioArchive(part.entries, { epoch: opts.epoch })), child.stdin!),
    pipeline(child.stdout!, createWriteStream(tmp)),
    child,
  ]);
  await rename(tmp, file);
}

/** Concatenates compressed archives into one initrd (the kernel unpacks them one after another). */
async function concatenate(files: string[], out: string): Promise<void> {
  await writeFile(out, '');
  for (const f of files) await pipeline(createReadStream(f), createWriteStream(out, { flags: 'a' }));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
