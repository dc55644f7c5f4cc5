// The root of trust for Debian inputs: dists/<suite>/InRelease, checked with gpgv against Debian's
// archive keyring. Only the text gpgv vouches for is read; it gives the SHA-256 of each index file.
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../common/errors.ts';
import type { Recipe } from '../recipe.ts';
import { downloadBytes, type DownloadOptions } from './download.ts';
import { runTool } from './host-tool.ts';

export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** An index file listed in a Release file. */
export interface ReleaseFile {
  path: string;
  sha256: string;
  size: number;
}

export interface Release {
  suite: string;
  codename: string;
  /** the archive serves index files under by-hash/SHA256/<hex>, which do not change under us mid-update */
  acquireByHash: boolean;
  validUntil?: Date;
  files: Map<string, ReleaseFile>;
}

/** The base URL of a suite: <mirror>/dists/<suite>. */
export function distsUrl(debian: Recipe['debian']): string {
  return `${debian.mirror.replace(/\/+$/, '')}/dists/${debian.suite}`;
}

/** Downloads and verifies InRelease for the recipe's suite, and checks it is the suite asked for and still valid. */
export async function fetchRelease(debian: Recipe['debian'], opts: DownloadOptions & { keyring?: string }): Promise<Release> {
  const url = `${distsUrl(debian)}/InRelease`;
  const signed = await downloadBytes({ name: `Debian ${debian.suite} InRelease`, url }, opts);
  const release = parseRelease(await verifySigned(signed, url, opts.keyring ?? DEBIAN_KEYRING));
  if (release.codename !== debian.suite && release.suite !== debian.suite) {
    throw new UserError(`${url} is signed for suite "${release.suite}" (codename "${release.codename}"), not for debian.suite "${debian.suite}"; check the mirror`);
  }
  if (release.validUntil && release.validUntil.getTime() < Date.now()) {
    throw new UserError(`${url} expired on ${release.validUntil.toISOString()} (Valid-Until); the mirror is stale or replaying old metadata`);
  }
  return release;
}

/** Runs gpgv on a clearsigned file and returns the signed text only; any bad signature is a UserError. */
export async function verifySigned(signed: Buffer, url: string, keyring: string): Promise<string> {
  await access(keyring).catch(() => {
    throw new UserError(`the Debian archive keyring ${keyring} is missing, so ${url} cannot be verified; install the Debian package debian-archive-keyring`);
  });
  const dir = await mkdtemp(join(tmpdir(), 'picowire-inrelease-'));
  try {
    const file = join(dir, 'InRelease');
    await writeFile(file, signed);
    const text = await runTool('gpgv', ['--keyring', keyring, '--output', '-', file], 'gpgv', `verify the signature of ${url}`);
    return text.toString('utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Parses a (verified) Release text: suite, codename, Acquire-By-Hash, Valid-Until and the SHA256 file list. */
export function parseRelease(text: string): Release {
  const fields = new Map<string, string>();
  const files = new Map<string, ReleaseFile>();
  let section = '';
  for (const line of text.split('\n')) {
    if (line.startsWith(' ')) {
      if (section !== 'SHA256') continue;
      const [sha256, size, path] = line.trim().split(/\s+/);
      if (sha256 && size && path) files.set(path, { path, sha256: sha256.toLowerCase(), size: Number(size) });
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    section = line.slice(0, colon);
    fields.set(section, line.slice(colon + 1).trim());
  }
  const validUntil = fields.get('Valid-Until');
  return {
    suite: fields.get('Suite') ?? '',
    codename: fields.get('Codename') ?? '',
    acquireByHash: fields.get('Acquire-By-Hash') === 'yes',
    validUntil: validUntil ? new Date(validUntil) : undefined,
    files,
  };
}
