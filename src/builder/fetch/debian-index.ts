// Loads the signed package index of one suite's main component: InRelease (gpgv) → SHA-256 of
// Packages.xz (or .gz) → cached, verified download → parsed index. Only the main suite is read;
// bookworm-updates and bookworm-security are not (yet) consulted.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../../common/errors.ts';
import { getOrFetch, type CacheOptions } from '../cache.ts';
import type { Recipe } from '../recipe.ts';
import { runTool } from './host-tool.ts';
import { buildIndex, parsePackages, type PackageIndex } from './packages-file.ts';
import { distsUrl, fetchRelease } from './release.ts';

/** Human label of an index, used in every message about it. */
export function indexLabel(debian: Recipe['debian']): string {
  return `Debian ${debian.suite} main (${debian.arch}) at ${debian.mirror}`;
}

/** Downloads (or takes from the cache) and parses the suite's verified main Packages index. */
export async function loadIndex(debian: Recipe['debian'], opts: CacheOptions & { keyring?: string }): Promise<PackageIndex> {
  const release = await fetchRelease(debian, opts);
  const base = `main/binary-${debian.arch}/Packages`;
  const file = release.files.get(`${base}.xz`) ?? release.files.get(`${base}.gz`);
  if (!file) throw new UserError(`${distsUrl(debian)}/InRelease lists neither ${base}.xz nor ${base}.gz; is "${debian.arch}" built in suite ${debian.suite}?`);
  const dir = file.path.slice(0, file.path.lastIndexOf('/'));
  const url = release.acquireByHash ? `${distsUrl(debian)}/${dir}/by-hash/SHA256/${file.sha256}` : `${distsUrl(debian)}/${file.path}`;
  const path = await getOrFetch({ name: `Debian ${debian.suite} ${file.path}`, url, size: file.size, integrity: `sha256-${file.sha256}` }, opts);
  const text = file.path.endsWith('.xz')
    ? (await runTool('xz', ['--decompress', '--stdout', path], 'xz-utils', `decompress ${file.path}`)).toString('utf8')
    : gunzipSync(await readFile(path)).toString('utf8');
  return buildIndex(parsePackages(text), indexLabel(debian));
}
