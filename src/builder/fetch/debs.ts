// Downloads the locked Debian packages into the cache. Mirrors drop superseded versions from the
// pool, so an old lock can point at files that are gone: then the set is re-resolved from the
// signed index, the build goes on with the new versions, and the user is told to update the lock.
import { getOrFetch, type CacheOptions } from '../cache.ts';
import type { Recipe } from '../recipe.ts';
import type { Input } from '../types.ts';
import { NotFoundError } from './download.ts';
import type { Limit } from './limit.ts';
import { lockedDeb, type LockedDeb, type LockRequest } from './lock.ts';
import type { PackageIndex } from './packages-file.ts';
import { resolve } from './resolve.ts';

/** The Debian part of a lock: what to download. */
export interface DebSet {
  kernel: LockedDeb;
  packages: LockedDeb[];
  libraries: LockedDeb[];
  headers: LockedDeb[];
}

/** The same set, downloaded and verified. */
export interface FetchedDebs {
  kernel: Input;
  packages: Input[];
  libraries: Input[];
  headers: Input[];
}

export interface DebContext extends CacheOptions {
  debian: Recipe['debian'];
  request: LockRequest;
  limit: Limit;
  /** what vouched for the set's hashes, for Input.verifiedBy */
  verifiedBy: string;
  /** loads the signed index; only called when a locked file has vanished */
  loadIndex: () => Promise<PackageIndex>;
}

/** Downloads every package of the set, a few at a time; recovers from vanished pool files as described above. */
export async function fetchDebs(set: DebSet, ctx: DebContext): Promise<FetchedDebs> {
  const first = await fetchAll(set, ctx, ctx.verifiedBy);
  if (first.missing.length === 0) return first.fetched;
  const index = await ctx.loadIndex();
  const fresh = resolve(index, ctx.request);
  const freshSet: DebSet = { kernel: lockedDeb(fresh.kernel), packages: fresh.packages.map(lockedDeb), libraries: fresh.libraries.map(lockedDeb), headers: fresh.headers.map(lockedDeb) };
  const gone = first.missing.map((e) => `${e.source.name} (HTTP ${e.status} at ${e.source.url})`).join(', ');
  const changes = describeChanges(set, freshSet);
  ctx.log.warn(
    `locked files are gone from the archive: ${gone}. Re-resolved from the signed ${index.label} index: ${changes.join(', ') || 'no version changed'}. ` +
      'This build uses the new versions; run `make lock` to record them.',
  );
  const second = await fetchAll(freshSet, ctx, `signed ${index.label} index (lock out of date)`);
  if (second.missing.length > 0) throw second.missing[0]!;
  return second.fetched;
}

/** Tries every download; files that are not found are collected rather than thrown, other failures throw. */
async function fetchAll(set: DebSet, ctx: DebContext, verifiedBy: string): Promise<{ fetched: FetchedDebs; missing: NotFoundError[] }> {
  const missing: NotFoundError[] = [];
  const one = (deb: LockedDeb) =>
    ctx.limit(async (): Promise<Input> => {
      const url = `${ctx.debian.mirror.replace(/\/+$/, '')}/${deb.filename}`;
      const integrity = `sha256-${deb.sha256}`;
      try {
        const path = await getOrFetch({ name: `${deb.name} ${deb.version}`, url, size: deb.size, integrity }, ctx);
        return { name: deb.name, version: deb.version, url, path, integrity, verifiedBy };
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        missing.push(error);
        return { name: deb.name, version: deb.version, url, path: '', integrity, verifiedBy };
      }
    });
  const [kernel, packages, libraries, headers] = await Promise.all([
    one(set.kernel),
    Promise.all(set.packages.map(one)),
    Promise.all(set.libraries.map(one)),
    Promise.all(set.headers.map(one)),
  ]);
  return { fetched: { kernel, packages, libraries, headers }, missing };
}

/** "iproute2 6.1.0-3 → 6.1.0-4" for every package whose version (or, for the kernel, name) changed. */
function describeChanges(before: DebSet, after: DebSet): string[] {
  const old = new Map([before.kernel, ...before.packages, ...before.libraries, ...before.headers].map((d) => [d.name, d.version]));
  const lines: string[] = [];
  if (before.kernel.name !== after.kernel.name || before.kernel.version !== after.kernel.version) lines.push(`kernel ${before.kernel.name} ${before.kernel.version} → ${after.kernel.name} ${after.kernel.version}`);
  for (const d of [...after.packages, ...after.libraries, ...after.headers]) {
    const was = old.get(d.name);
    if (was === undefined) lines.push(`new ${d.name} ${d.version}`);
    else if (was !== d.version) lines.push(`${d.name} ${was} → ${d.version}`);
  }
  return lines;
}
