// pxe: boot artifacts → images/<name>-pxe/ with vmlinuz, initrd.img, cmdline.txt, an iPXE script
// (boot.ipxe) and README.txt: everything a TFTP or HTTP server needs to boot the appliance.
import { copyFile, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutputWriter } from '../builder/types.ts';
import { kernelCmdline } from './cmdline.ts';

/** The files of a PXE output, in the order they are listed (picowire embed copies them along). */
export const PXE_FILES = ['README.txt', 'boot.ipxe', 'cmdline.txt', 'initrd.img', 'vmlinuz'] as const;

/** The iPXE script: paths are relative, so it works from any TFTP or HTTP directory it is served from. */
export function ipxeScript(name: string, cmdline: string): string {
  return [
    '#!ipxe',
    `# picowire ${name}: kernel and initrd are fetched from the same place as this script`,
    // initrd= lets the kernel's EFI stub find the initrd when iPXE runs under UEFI
    `kernel vmlinuz initrd=initrd.img ${cmdline}`,
    'initrd initrd.img',
    'boot',
    '',
  ].join('\n');
}

/** How to serve the directory. */
function readme(name: string, cmdline: string): string {
  return `picowire ${name}: network boot files

vmlinuz      the kernel
initrd.img   the whole appliance (it runs from memory; no disk needed)
cmdline.txt  the kernel command line
boot.ipxe    an iPXE script that boots the two with that command line

iPXE (or QEMU, whose NICs boot iPXE): serve this directory over TFTP or HTTP and
hand out boot.ipxe as the boot file. dnsmasq as DHCP and TFTP server:

  dnsmasq --port=0 --interface=eth1 --dhcp-range=192.168.50.100,192.168.50.200 \\
    --enable-tftp --tftp-root=$PWD --dhcp-match=set:ipxe,175 \\
    --dhcp-boot=tag:!ipxe,undionly.kpxe --dhcp-boot=tag:ipxe,boot.ipxe

(undionly.kpxe chain-loads iPXE on PCs whose firmware speaks only PXE; Debian's
ipxe package has it in /usr/lib/ipxe/, with ipxe.efi for UEFI PCs.)

PXELINUX (syslinux): copy vmlinuz and initrd.img to the TFTP root and add to
pxelinux.cfg/default:

  DEFAULT picowire
  LABEL picowire
    KERNEL vmlinuz
    INITRD initrd.img
    APPEND ${cmdline}

QEMU without any server: qemu-system-x86_64 -kernel vmlinuz -initrd initrd.img \\
  -append "$(cat cmdline.txt)"
`;
}

export const writePxe: OutputWriter = async (boot, ctx) => {
  const dir = join(ctx.outDir, `${ctx.name}-pxe`);
  await rm(dir, { recursive: true, force: true }); // nothing stale from an earlier build stays behind
  await mkdir(dir, { recursive: true });
  const cmdline = kernelCmdline(boot.cmdline);
  const files = {
    vmlinuz: boot.kernel,
    'initrd.img': boot.initrd,
  };
  for (const [name, source] of Object.entries(files)) await copyFile(source, join(dir, name));
  await writeFile(join(dir, 'cmdline.txt'), cmdline + '\n');
  await writeFile(join(dir, 'boot.ipxe'), ipxeScript(ctx.name, cmdline));
  await writeFile(join(dir, 'README.txt'), readme(ctx.name, cmdline));
  const written = PXE_FILES.map((f) => join(dir, f));
  // timestamps from the epoch, so an archive of the directory is reproducible too
  for (const path of [...written, dir]) await utimes(path, ctx.epoch, ctx.epoch);
  ctx.log.info(`pxe: ${dir}/`);
  return written;
};
