// Reading an unpacked package tree (or the overlays folder) into image entries.
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry } from './types.ts';

/** Paths no appliance needs: documentation, translations, completions, service units. */
const NOT_IN_IMAGE = [
  /^\/usr\/share\/(doc|man|info|locale|lintian|bug|bash-completion|zsh|fish|gcc|gdb|menu|pixmaps|applications)(\/|$)/,
  /^\/(lib|usr\/lib)\/systemd(\/|$)/,
  /^\/etc\/(init\.d|default|logrotate\.d|cron\.[a-z]+)(\/|$)/,
];

/** Whether a path from a package belongs in the image. */
export function wanted(path: string): boolean {
  return !NOT_IN_IMAGE.some((re) => re.test(path));
}

/** Every dir, file and symlink under root as image entries at the same paths (root-owned, package modes). */
export async function treeEntries(root: string, keep: (path: string) => boolean = wanted): Promise<Entry[]> {
  const entries: Entry[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = `${rel}/${name}`;
      if (!keep(path)) continue;
      const host = join(root, path);
      const st = await lstat(host);
      if (st.isSymbolicLink()) entries.push({ type: 'symlink', path, target: await readlink(host) });
      else if (st.isDirectory()) {
        entries.push({ type: 'dir', path, mode: st.mode & 0o7777 });
        await walk(path);
      } else if (st.isFile()) entries.push({ type: 'file', path, mode: st.mode & 0o7777, source: host });
    }
  }
  await walk('');
  return entries;
}
