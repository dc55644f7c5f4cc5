// The host tools the builder and the tests run, each with the Debian package that provides it.
// Checked before any work, so a missing tool is named up front rather than failing a stage later.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../common/errors.ts';

interface Tool {
  /** a command on PATH, or an absolute path to a file that must exist */
  need: string;
  /** the Debian package that provides it */
  pkg: string;
}

const BUILD: Tool[] = [
  { need: 'dpkg-deb', pkg: 'dpkg' },
  { need: 'gpgv', pkg: 'gpgv' },
  { need: '/usr/share/keyrings/debian-archive-keyring.gpg', pkg: 'debian-archive-keyring' },
  { need: 'xz', pkg: 'xz-utils' },
  { need: 'zstd', pkg: 'zstd' },
  { need: 'xorriso', pkg: 'xorriso' },
  { need: 'mcopy', pkg: 'mtools' },
  { need: 'mformat', pkg: 'mtools' },
  { need: 'mmd', pkg: 'mtools' },
  { need: 'mkfs.fat', pkg: 'dosfstools' },
  { need: 'sfdisk', pkg: 'fdisk' },
  { need: 'grub-mkimage', pkg: 'grub-common' },
  { need: '/usr/lib/grub/i386-pc/boot_hybrid.img', pkg: 'grub-pc-bin' },
  { need: '/usr/lib/grub/x86_64-efi/linux.mod', pkg: 'grub-efi-amd64-bin' },
  { need: 'qemu-img', pkg: 'qemu-utils' },
  { need: 'depmod', pkg: 'kmod' },
  { need: 'strip', pkg: 'binutils' },
  { need: 'mksquashfs', pkg: 'squashfs-tools' },
  // the netmap feature compiles netmap.ko with the kernel's own compiler (Debian's 6.1 headers name
  // gcc-12) and the apps against libc; kbuild's objtool links libelf
  { need: 'gcc-12', pkg: 'gcc-12' },
  { need: 'make', pkg: 'make' },
  { need: '/usr/include/stdio.h', pkg: 'libc6-dev' },
  { need: '/usr/lib/x86_64-linux-gnu/libelf.so.1', pkg: 'libelf1' },
  { need: 'patch', pkg: 'patch' },
];

const TEST: Tool[] = [
  { need: 'qemu-system-x86_64', pkg: 'qemu-system-x86' },
  { need: '/usr/share/OVMF/OVMF_CODE_4M.fd', pkg: 'ovmf' },
  { need: '/usr/lib/ipxe/qemu/efi-virtio.rom', pkg: 'ipxe-qemu' },
  { need: 'iperf3', pkg: 'iperf3' },
  { need: 'ping', pkg: 'iputils-ping' },
  { need: 'ip', pkg: 'iproute2' },
  { need: 'cpio', pkg: 'cpio' },
  { need: 'gpg', pkg: 'gpg' },
  { need: 'nft', pkg: 'nftables' },
  { need: 'ethtool', pkg: 'ethtool' },
  { need: '/bin/busybox', pkg: 'busybox-static' },
  // the web page's browser test drives Debian's chromium with playwright-core (which brings no browser)
  { need: '/usr/bin/chromium', pkg: 'chromium' },
  // and the same page in Firefox (puppeteer-core over WebDriver BiDi) and in WebKitGTK, Safari's
  // engine (selenium-webdriver through WebKitWebDriver, in an Xvfb display)
  { need: '/usr/bin/firefox-esr', pkg: 'firefox-esr' },
  { need: '/usr/bin/WebKitWebDriver', pkg: 'webkit2gtk-driver' },
  { need: '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser', pkg: 'libwebkit2gtk-4.1-0' },
  { need: 'Xvfb', pkg: 'xvfb' },
  // the SSH VM test logs in with OpenSSH's client and keys it makes with ssh-keygen
  { need: 'ssh', pkg: 'openssh-client' },
];

export const TOOLSETS = { build: BUILD, test: TEST } as const;

/** The Debian package a command comes from, for messages about a missing tool (the tool's name when unknown). */
export function packageOf(command: string): string {
  return [...BUILD, ...TEST].find((t) => t.need === command)?.pkg ?? command;
}
export type Toolset = keyof typeof TOOLSETS;

/** Whether a tool is present: an absolute path must exist, a command must be on PATH. */
function present(need: string): boolean {
  const candidates = need.startsWith('/')
    ? [need]
    : [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'].map((dir) => join(dir, need));
  return candidates.some((file) => {
    try {
      accessSync(file, need.startsWith('/') ? constants.R_OK : constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The tools of these sets that are missing. */
export function missingTools(sets: Toolset[]): Tool[] {
  return sets.flatMap((s) => TOOLSETS[s]).filter((t) => !present(t.need));
}

/** Checks the host; as root on Debian/Ubuntu installs what is missing with apt, otherwise says what to install. */
export async function ensureHostTools(sets: Toolset[], opts: { install: boolean; log: (line: string) => void }): Promise<void> {
  let missing = missingTools(sets);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))].sort();
  const list = missing.map((t) => `  ${t.need} (Debian package ${t.pkg})`).join('\n');
  const canApt = opts.install && process.getuid?.() === 0 && present('apt-get');
  if (!canApt) {
    throw new UserError(`missing host tools:\n${list}\ninstall them with: sudo apt-get install ${pkgs.join(' ')}`);
  }
  opts.log(`installing host tools with apt: ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await execa('apt-get', ['update', '-q'], { env, stdout: 'ignore' });
  await execa('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { env, stdout: 'ignore' });
  missing = missingTools(sets);
  if (missing.length > 0) throw new UserError(`still missing after apt-get install:\n${missing.map((t) => `  ${t.need} (${t.pkg})`).join('\n')}`);
}
