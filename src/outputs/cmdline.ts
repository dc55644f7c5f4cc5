// The kernel command line every output boots with, and the quoting each boot loader needs so the
// line reaches the kernel exactly as the recipe wrote it.
import { UserError } from '../common/errors.ts';

/** Kernel messages and the console on the screen and on the first serial port; the last one is /dev/console. */
export const CONSOLES = 'console=tty0 console=ttyS0,115200';

/**
 * What every image boots with before the recipe's own parameters. `quiet`: a serial console at
 * 115200 baud is slow to print to. `cryptomgr.notests`: the kernel's self-tests of its crypto
 * algorithms took 0.4 s of a 6 s boot under QEMU TCG, and nothing on the appliance depends on the
 * kernel's crypto beyond checking module signatures. `tsc=reliable`: the TSC is the clock. Under
 * QEMU TCG the kernel's TSC synchronisation check fails between vCPUs and it falls back to the
 * HPET, whose every read is an emulated MMIO access; netem reads the clock for each packet and
 * each timer, so 100 Mbit/s TCP reached 95.9 % of its ideal on the HPET against 99.9 % on the TSC
 * (bench/fidelity, same machine and hour). Lab PCs of the last fifteen years have an invariant TSC
 * that the kernel picks anyway; a recipe for older hardware adds `tsc=unstable` to its cmdline.
 * (Not `initramfs_async=0`: unpacking before the drivers' initcalls spares them kdf108's wait for
 * the unpack, but in eight alternating pairs of boots, bench/boot-ab.ts, the agent was ready no
 * sooner: medians 5.36 and 5.68 s with it, 5.37 and 5.72 s without.)
 */
export const BOOT_PARAMS = 'quiet cryptomgr.notests tsc=reliable';

/** The recipe's command line with the consoles in front, unless the recipe chose its own console=. */
export function kernelCmdline(cmdline: string): string {
  if (/[\x00-\x1f\x7f]/.test(cmdline)) {
    throw new UserError(`kernel command line ${JSON.stringify(cmdline)} contains a control character (newline, tab…); allowed: one line of space-separated parameters`);
  }
  const words = splitCmdline(cmdline);
  const own = words.some((w) => w.startsWith('console='));
  return (own ? words : [...CONSOLES.split(' '), ...words]).join(' ');
}

/** Splits a command line into parameters as the kernel does: spaces separate, double quotes group. */
export function splitCmdline(cmdline: string): string[] {
  return cmdline.match(/(?:[^\s"]+|"[^"]*"?)+/g) ?? [];
}

/** One parameter quoted for GRUB's script parser, so `$`, `;`, quotes and braces reach the kernel as written. */
export function grubWord(word: string): string {
  if (/^[A-Za-z0-9_.,=/:+@%-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A whole command line quoted for a GRUB `linux` line. */
export function grubCmdline(cmdline: string): string {
  return splitCmdline(cmdline).map(grubWord).join(' ');
}
