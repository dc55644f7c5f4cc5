// The fetch stage: every downloaded input of a recipe, pinned by the lock file, verified by hash,
// kept in the content-addressed cache, and unpacked for the stages after it.
//
//   lock file present and matching the recipe → download what it pins (nothing, if all is cached)
//   absent, or the recipe changed             → resolve from the signed Debian index + npm, write it
import { basename } from 'node:path';
import type { Recipe } from '../recipe.ts';
import type { Input, Logger } from '../types.ts';
import { unpackDeb } from '../unpack.ts';
import { loadIndex } from './debian-index.ts';
import { fetchDebs } from './debs.ts';
import type { RetryOptions } from './download.ts';
import { createLimit } from './limit.ts';
import { makeLock, readLock, requestChanges, requestOf, versionChanges, writeLock, type Lock } from './lock.ts';
import { fetchNode, resolveNode } from './npm.ts';
import type { PackageIndex } from './packages-file.ts';
import { createProgress, type Progress } from './progress.ts';
import { resolve } from './resolve.ts';
import { defaultSourcesDir, fetchSource, resolveSources } from './sources.ts';

export interface Unpacked {
  package: string;
  input: Input;
  /** the package's files, extracted (read-only by convention: shared by every build) */
  root: string;
}

export interface FetchedInputs {
  kernel: Unpacked;
  packages: Unpacked[];
  /** library packages the packages depend on; the image takes only the shared objects the binaries load */
  libraries: Unpacked[];
  /** the kernel's headers and kbuild packages and its source package, when a feature builds modules (never in the image) */
  headers: Unpacked[];
  /** upstream source archives by name (Input.version is the commit) */
  sources: Map<string, Input>;
  node: { input: Input; binary: string };
  /** every input above, for the build manifest */
  inputs: Input[];
}

export interface FetchOptions {
  cacheDir: string;
  lockFile: string;
  log: Logger;
  /** for tests: how downloads are retried, which registry and keyring are used, and where progress goes */
  retry?: RetryOptions;
  registry?: string;
  keyring?: string;
  progress?: Progress;
  /** where upstream source archives are looked for before downloading (default: defaultSourcesDir()) */
  sourcesDir?: string;
}

// downloads in flight at once
const PARALLEL_DOWNLOADS = 4;
// dpkg-deb runs at once (it is CPU-bound: xz)
const PARALLEL_UNPACKS = 2;

/** Downloads and unpacks everything the recipe needs, resolving and writing the lock file first if needed. */
export async function fetchInputs(recipe: Recipe, opts: FetchOptions): Promise<FetchedInputs> {
  const progress = opts.progress ?? createProgress(opts.log);
  const ctx = { ...opts, progress, limit: createLimit(PARALLEL_DOWNLOADS), sourcesDir: opts.sourcesDir ?? defaultSourcesDir() };
  const index = once(() => readIndex(recipe, ctx));
  try {
    const { lock, verifiedBy } = await currentLock(recipe, ctx, index);
    const [debs, node, sources] = await Promise.all([
      fetchDebs(lock, { ...ctx, debian: recipe.debian, request: lock.request, verifiedBy, loadIndex: index }),
      ctx.limit(() => fetchNode(lock.node, { ...ctx, verifiedBy })),
      Promise.all(lock.sources.map((s) => ctx.limit(() => fetchSource(s, { ...ctx, verifiedBy: `${basename(ctx.lockFile)} (sha256 pinned by \`make lock\`)` })))),
    ]);
    progress.close();
    const unpack = createLimit(PARALLEL_UNPACKS);
    const unpacked = (input: Input) =>
      unpack(async (): Promise<Unpacked> => ({ package: input.name, input, root: await unpackDeb(input.path, input.integrity.slice('sha256-'.length), opts.cacheDir) }));
    const [kernel, packages, libraries, headers] = await Promise.all([
      unpacked(debs.kernel),
      Promise.all(debs.packages.map(unpacked)),
      Promise.all(debs.libraries.map(unpacked)),
      Promise.all(debs.headers.map(unpacked)),
    ]);
    return {
      kernel,
      packages,
      libraries,
      headers,
      sources: new Map(sources.map((s) => [s.name, s])),
      node,
      inputs: [debs.kernel, ...debs.packages, ...debs.libraries, ...debs.headers, node.input, ...sources],
    };
  } finally {
    progress.close();
  }
}

/** Re-resolves the recipe from the signed index and the registry and rewrites the lock file (`picowire lock`). */
export async function updateLock(recipe: Recipe, opts: FetchOptions): Promise<void> {
  const old = await readLock(opts.lockFile).catch(() => undefined); // a broken lock is exactly what this replaces
  const ctx = { ...opts, progress: opts.progress ?? createProgress(opts.log), sourcesDir: opts.sourcesDir ?? defaultSourcesDir() };
  let lock: Lock;
  try {
    lock = await resolveLock(recipe, ctx, () => readIndex(recipe, ctx));
  } finally {
    ctx.progress.close();
  }
  await writeLock(opts.lockFile, lock);
  const changes = versionChanges(old, lock);
  opts.log.info(`wrote ${opts.lockFile}: ${changes.length === 0 ? 'nothing changed' : changes.join(', ')}`);
}

/** The lock to build from: the file if it matches the recipe, else a fresh resolution (written back). */
async function currentLock(recipe: Recipe, ctx: FetchOptions & { progress: Progress; sourcesDir: string }, index: () => Promise<PackageIndex>): Promise<{ lock: Lock; verifiedBy: string }> {
  const existing = await readLock(ctx.lockFile);
  const changes = existing ? requestChanges(existing.request, requestOf(recipe)) : [];
  if (existing && changes.length === 0) return { lock: existing, verifiedBy: `${basename(ctx.lockFile)} (hashes from the signed Debian index and the npm registry)` };
  if (existing) ctx.log.warn(`the recipe changed since ${ctx.lockFile} was written (${changes.join('; ')}); resolving again and rewriting it`);
  else ctx.log.info(`no lock file ${ctx.lockFile} yet: resolving ${recipe.debian.suite} packages and node ${recipe.node.version}`);
  const lock = await resolveLock(recipe, ctx, index);
  await writeLock(ctx.lockFile, lock);
  return { lock, verifiedBy: `signed Debian ${recipe.debian.suite} index and the npm registry` };
}

/** Resolves the Debian packages, the Node version and the upstream sources for a recipe into a lock. */
async function resolveLock(recipe: Recipe, ctx: FetchOptions & { progress: Progress; sourcesDir: string }, index: () => Promise<PackageIndex>): Promise<Lock> {
  const request = requestOf(recipe);
  const [resolution, node, sources] = await Promise.all([index().then((i) => resolve(i, request)), resolveNode(recipe.node, ctx), resolveSources(request, ctx)]);
  return makeLock(request, resolution, node, sources);
}

/** Loads the suite's index, with a line saying so (it is the slow part of resolving). */
async function readIndex(recipe: Recipe, ctx: FetchOptions & { progress: Progress }): Promise<PackageIndex> {
  ctx.log.info(`reading the signed Debian ${recipe.debian.suite} main index from ${recipe.debian.mirror}`);
  return loadIndex(recipe.debian, ctx);
}

/** Calls `fn` at most once and shares its promise. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= fn());
}
