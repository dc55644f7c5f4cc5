// The content-addressed download cache: a file lives at a path derived from its hash, so a hit needs
// no network and no index, and two recipes share what they have in common. Layout under the cache dir:
//   files/sha256/<hex>, files/sha512/<hex>   verified downloads
//   unpacked/<sha256>/                       extracted .deb trees (unpack.ts)
//   node/<sha512 hex>/node                   the Node binary taken out of its npm tarball (fetch/npm.ts)
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { downloadToFile, type DownloadOptions, type Source } from './fetch/download.ts';

export type Algorithm = 'sha256' | 'sha512';

/** $PICOWIRE_CACHE, else $XDG_CACHE_HOME/picowire, else ~/.cache/picowire. */
export function defaultCacheDir(): string {
  if (process.env.PICOWIRE_CACHE) return process.env.PICOWIRE_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'picowire');
}

/** Splits "sha256-<hex>" or "sha512-<base64>" (npm's format; of several space-separated hashes the sha512 one). */
export function parseIntegrity(integrity: string): { algorithm: Algorithm; digest: Buffer } {
  const tokens = integrity.trim().split(/\s+/);
  const token = tokens.find((t) => t.startsWith('sha512-')) ?? tokens.find((t) => t.startsWith('sha256-'));
  if (token?.startsWith('sha256-') && /^sha256-[0-9a-fA-F]{64}$/.test(token)) return { algorithm: 'sha256', digest: Buffer.from(token.slice(7), 'hex') };
  if (token?.startsWith('sha512-')) {
    const digest = Buffer.from(token.slice(7), 'base64');
    if (digest.length === 64) return { algorithm: 'sha512', digest };
  }
  throw new UserError(`integrity "${integrity}" is not understood; allowed: sha256-<64 hex digits> or sha512-<base64 of 64 bytes>`);
}

/** Writes a digest in the integrity format: hex for sha256 (as Debian indexes do), base64 for sha512 (as npm does). */
export function formatIntegrity(algorithm: Algorithm, digest: Buffer): string {
  return `${algorithm}-${digest.toString(algorithm === 'sha256' ? 'hex' : 'base64')}`;
}

/** Where the file with this integrity lives in the cache (whether or not it is there yet). */
export function cachePath(cacheDir: string, integrity: string): string {
  const { algorithm, digest } = parseIntegrity(integrity);
  return join(cacheDir, 'files', algorithm, digest.toString('hex'));
}

/** Hashes a file on disk. */
export async function hashFile(file: string, algorithm: Algorithm): Promise<Buffer> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest();
}

/** A temp path beside `target`, so that the final rename stays on one filesystem and is atomic. */
export function tempBeside(target: string): string {
  return `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

export interface CacheOptions extends DownloadOptions {
  cacheDir: string;
}

/**
 * Returns the cached file for `integrity`, downloading it from source.url if absent. A cached file
 * is re-hashed on every use: a corrupt one is deleted (with a warning) and downloaded again. A
 * download that does not match `integrity` is never kept.
 */
export async function getOrFetch(source: Source & { integrity: string }, opts: CacheOptions): Promise<string> {
  const { algorithm, digest } = parseIntegrity(source.integrity);
  const target = cachePath(opts.cacheDir, source.integrity);
  if (await exists(target)) {
    const found = await hashFile(target, algorithm);
    if (found.equals(digest)) return target;
    opts.log.warn(`cache entry ${target} for ${source.name} is corrupt (${formatIntegrity(algorithm, found)}, expected ${source.integrity}); deleting it and downloading again`);
    await rm(target, { force: true });
  }
  await mkdir(dirname(target), { recursive: true });
  const temp = tempBeside(target);
  try {
    const got = await downloadToFile(source, temp, algorithm, opts);
    if (!got.digest.equals(digest)) {
      throw new UserError(
        `${source.name} downloaded from ${source.url} does not match its expected hash: expected ${source.integrity}, got ${formatIntegrity(algorithm, got.digest)} (${got.size} bytes); the file was discarded`,
      );
    }
    await rename(temp, target);
    return target;
  } finally {
    await rm(temp, { force: true });
  }
}

/** Moves a finished temporary file or folder to its place in the cache. If another build (another
 * make in the same tree) put it there meanwhile, theirs is kept: same key, same content. */
export async function settleInCache(temp: string, target: string): Promise<void> {
  try {
    await rename(temp, target);
  } catch (error) {
    if (!(await exists(target))) throw error;
    await rm(temp, { recursive: true, force: true });
  }
}

/** True if a path exists (any type). */
export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
