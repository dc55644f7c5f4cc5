// Upstream source archives (netmap, netmap-ipfw), pinned in the lock by commit and sha256. They are
// taken from a directory of sources when it has them (CI keeps one beside its clone; machines that
// cannot reach GitHub depend on it), else downloaded as GitHub's archive of the commit. Either way
// the bytes must match the lock's sha256, and they land in the content-addressed cache.
import { copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UserError } from '../../common/errors.ts';
import { PACKAGE_ROOT } from '../../common/root.ts';
import { cachePath, exists, getOrFetch, hashFile, tempBeside, type CacheOptions } from '../cache.ts';
import type { Input } from '../types.ts';
import { downloadToFile } from './download.ts';
import type { LockedSource, LockRequest } from './lock.ts';

export interface SourceOptions extends CacheOptions {
  /** the directory of source archives to look in first */
  sourcesDir: string;
}

/** $PICOWIRE_SOURCES, else ../shared/sources beside picowire's own folder (where CI has it). */
export function defaultSourcesDir(): string {
  return process.env.PICOWIRE_SOURCES || join(PACKAGE_ROOT, '..', 'shared', 'sources');
}

/** The archive's name in a sources directory and its download URL, from "<repo>@<commit>". */
export function sourceArchive(name: string, pin: string): Omit<LockedSource, 'sha256' | 'size'> {
  const at = pin.lastIndexOf('@');
  const repo = pin.slice(0, at), commit = pin.slice(at + 1);
  return { name, repo, commit, url: `${repo}/archive/${commit}.tar.gz`, file: `${name}-${commit}.tar.gz` };
}

/** Pins every requested source: finds or downloads its archive, hashes it and keeps it in the cache. */
export async function resolveSources(request: LockRequest, opts: SourceOptions): Promise<LockedSource[]> {
  const names = Object.keys(request.sources ?? {}).sort();
  return Promise.all(names.map((name) => resolveSource(sourceArchive(name, request.sources[name]!), opts)));
}

/** One source's pin: the sources directory's file if there is one (checked against its SHA256SUMS), else a download. */
async function resolveSource(archive: Omit<LockedSource, 'sha256' | 'size'>, opts: SourceOptions): Promise<LockedSource> {
  const local = join(opts.sourcesDir, archive.file);
  const temp = tempBeside(join(opts.cacheDir, 'files', 'sha256', archive.file));
  await mkdir(dirname(temp), { recursive: true });
  try {
    let digest: Buffer;
    let size: number;
    if (await exists(local)) {
      digest = await hashFile(local, 'sha256');
      const listed = await listedSum(opts.sourcesDir, archive.file);
      if (listed && listed !== digest.toString('hex')) throw mismatch(local, listed, digest.toString('hex'), `${join(opts.sourcesDir, 'SHA256SUMS')} lists`);
      await copyFile(local, temp);
      size = (await stat(temp)).size;
    } else {
      opts.log.info(`${archive.file} is not in ${opts.sourcesDir}: downloading ${archive.url}`);
      ({ digest, size } = await downloadToFile({ name: archive.file, url: archive.url }, temp, 'sha256', opts).catch((e: unknown) => {
        throw offline(archive, opts.sourcesDir, e);
      }));
    }
    await rename(temp, cachePath(opts.cacheDir, `sha256-${digest.toString('hex')}`));
    return { ...archive, sha256: digest.toString('hex'), size };
  } finally {
    await rm(temp, { force: true });
  }
}

/** The locked archive from the cache, else the sources directory, else upstream; refused unless its sha256 is the lock's. */
export async function fetchSource(locked: LockedSource, opts: SourceOptions & { verifiedBy: string }): Promise<Input> {
  const integrity = `sha256-${locked.sha256}`;
  const target = cachePath(opts.cacheDir, integrity);
  const local = join(opts.sourcesDir, locked.file);
  if (!(await exists(target)) && (await exists(local))) {
    const found = (await hashFile(local, 'sha256')).toString('hex');
    if (found !== locked.sha256) throw mismatch(local, locked.sha256, found, 'the lock pins');
    await mkdir(dirname(target), { recursive: true });
    const temp = tempBeside(target);
    await copyFile(local, temp);
    await rename(temp, target);
  }
  // a cached copy is re-hashed here; without one this downloads (and verifies) upstream's archive
  const path = await getOrFetch({ name: locked.file, url: locked.url, size: locked.size, integrity }, opts).catch((e: unknown) => {
    throw offline(locked, opts.sourcesDir, e);
  });
  return { name: locked.name, version: locked.commit, url: locked.url, path, integrity, verifiedBy: opts.verifiedBy };
}

/** What a SHA256SUMS file in the sources directory says about `file`, if it lists it. */
async function listedSum(dir: string, file: string): Promise<string | undefined> {
  const text = await readFile(join(dir, 'SHA256SUMS'), 'utf8').catch(() => '');
  return text.split('\n').map((l) => l.trim().split(/\s+\*?/)).find(([, f]) => f === file)?.[0];
}

/** The error for an archive whose bytes are not the pinned ones. */
function mismatch(file: string, expected: string, actual: string, who: string): UserError {
  return new UserError(`${file} does not match its pinned checksum: ${who} sha256 ${expected}, the file has sha256 ${actual}; replace the file with upstream's archive of that commit, or run \`make lock\` if the pin should change`);
}

/** A download that failed (offline, or a mismatch), said with where the archive could have been instead. */
function offline(archive: { file: string; url: string }, dir: string, error: unknown): unknown {
  if (!(error instanceof UserError) || error.message.includes('does not match')) return error;
  return new UserError(
    `${archive.file} is not in the sources directory ${dir} and could not be downloaded: ${error.message}. ` +
      'Put the archive there (PICOWIRE_SOURCES names another directory), or build where the download works',
  );
}
