// Unpacks a verified .deb into the cache with dpkg-deb (no root needed: ownership is recorded later
// by the rootfs stage, not taken from the disk). One tree per .deb hash, extracted once and reused.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { exists, settleInCache } from './cache.ts';
import { runTool } from './fetch/host-tool.ts';

/** Returns <cacheDir>/unpacked/<sha256>/, extracting `deb` there first if it is not there yet. */
export async function unpackDeb(deb: string, sha256: string, cacheDir: string): Promise<string> {
  const root = join(cacheDir, 'unpacked', sha256);
  if (await exists(root)) return root;
  await mkdir(join(cacheDir, 'unpacked'), { recursive: true });
  // extract beside the final place, then rename: an interrupted unpack never looks finished
  const temp = await mkdtemp(join(cacheDir, 'unpacked', `.tmp-${sha256.slice(0, 12)}-`));
  try {
    await runTool('dpkg-deb', ['--extract', deb, temp], 'dpkg', `unpack ${deb}`);
    await settleInCache(temp, root);
    return root;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
