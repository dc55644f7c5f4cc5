// For boot tests: Debian's kernel and a tiny busybox initrd whose /init prints BOOT_OK on the console
// and powers off. The builder makes the real image; this one boots in seconds and needs only
// apt-get download (deb.debian.org), dpkg-deb, tar, cpio and gzip on the host.
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { BootArtifacts } from '../../src/builder/types.ts';

export const BOOT_OK = 'PICOWIRE-TEST-BOOT-OK';
export const KERNEL_PACKAGE = 'linux-image-6.1.0-56-amd64';
const KERNEL_PATH = './boot/vmlinuz-6.1.0-56-amd64';
/** Kept across test runs: the kernel package is 70 MB. */
export const CACHE = join(tmpdir(), 'picowire-test-debs');

/** The .deb of a package in the cache, downloading it first if needed (into a scratch dir, then renamed: test files run in parallel). */
async function deb(pkg: string): Promise<string> {
  await mkdir(CACHE, { recursive: true });
  const find = async (): Promise<string | undefined> => (await readdir(CACHE)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  let found = await find();
  if (!found) {
    const scratch = await mkdtemp(join(CACHE, 'download-'));
    await execa('apt-get', ['download', pkg], { cwd: scratch });
    for (const f of await readdir(scratch)) await rename(join(scratch, f), join(CACHE, f));
    await rm(scratch, { recursive: true, force: true });
    found = await find();
  }
  if (!found) throw new Error(`apt-get download ${pkg} left no ${pkg}_*.deb in ${CACHE}`);
  return join(CACHE, found);
}

/** One file of a .deb, written to out. */
async function extract(debPath: string, member: string, out: string): Promise<void> {
  const partial = `${out}.${process.pid}.partial`;
  await execa('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -O "$2" > "$3"', 'sh', debPath, member, partial]);
  await rename(partial, out);
}

/** The test init: devtmpfs gives it /dev/console (the cpio holds no device nodes, so no root is needed to build it). */
const INIT = `#!/bin/sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
echo ${BOOT_OK}
/bin/busybox poweroff -f
`;

/** Writes vmlinuz and initrd.img into dir and returns them as boot artifacts (command line: quiet). */
export async function testBootArtifacts(dir: string): Promise<BootArtifacts> {
  await mkdir(dir, { recursive: true });
  const cachedKernel = join(CACHE, 'vmlinuz');
  if (!existsSync(cachedKernel)) await extract(await deb(KERNEL_PACKAGE), KERNEL_PATH, cachedKernel);
  const kernel = join(dir, 'vmlinuz');
  await copyFile(cachedKernel, kernel);

  const root = join(dir, 'initrd-root');
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, 'dev'));
  await extract(await deb('busybox-static'), './bin/busybox', join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  await symlink('busybox', join(root, 'bin/sh'));
  await writeFile(join(root, 'init'), INIT, { mode: 0o755 });
  const initrd = join(dir, 'initrd.img');
  await execa('sh', ['-c', `find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet | gzip -n -9 > ${JSON.stringify(initrd)}`], { cwd: root });
  return { kernel, initrd, cmdline: 'quiet' };
}
