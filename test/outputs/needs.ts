// For output tests that need host tools or QEMU: they run where the tools are, say why they skip
// where they are not, and fail instead of skipping in CI, where everything is installed.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { BootArtifacts, OutputContext } from '../../src/builder/types.ts';

const inCI = process.env.CI === 'true' || process.env.CI === '1';

/** The host tools writing every output takes, with the package each comes from. */
export const OUTPUT_TOOLS: Record<string, string> = {
  xorriso: 'xorriso',
  mcopy: 'mtools',
  'mkfs.fat': 'dosfstools',
  sfdisk: 'fdisk',
  'grub-mkimage': 'grub-common',
  'qemu-img': 'qemu-utils',
  '/usr/lib/grub/i386-pc/boot_hybrid.img': 'grub-pc-bin',
  '/usr/lib/grub/x86_64-efi/moddep.lst': 'grub-efi-amd64-bin',
};

/** Whether a command is on PATH (or, for an absolute path, whether the file exists). */
export function present(tool: string): boolean {
  if (tool.startsWith('/')) return existsSync(tool);
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, tool)));
}

/** Why the tools are not all here ("needs xorriso (package xorriso)"), or undefined when they are. */
export function missing(tools: Record<string, string>): string | undefined {
  const absent = Object.entries(tools).filter(([tool]) => !present(tool));
  return absent.length ? `needs ${absent.map(([tool, pkg]) => `${tool} (Debian package ${pkg})`).join(', ')}` : undefined;
}

type Impl = (t: ExecutionContext) => void | Promise<void>;

/** A serial test that runs when `why` is undefined; otherwise skipped saying why, or failed in CI. */
export function testUnless(why: string | undefined, title: string, impl: Impl): void {
  if (!why) test.serial(title, impl);
  else if (inCI) test.serial(title, (t) => t.fail(`cannot run in CI: ${why}`));
  else {
    console.log(`skipping "${title}": ${why}`);
    test.serial.skip(title, impl);
  }
}

/** Stand-in kernel and initrd (fixed pseudo-random bytes) for tests that never boot them. */
export async function fakeBootArtifacts(dir: string, cmdline = 'quiet'): Promise<BootArtifacts> {
  const bytes = (n: number, seed: number): Buffer => {
    const b = Buffer.alloc(n);
    let x = seed;
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[i] = x >>> 24;
    }
    return b;
  };
  const kernel = join(dir, 'vmlinuz');
  const initrd = join(dir, 'initrd.img');
  await writeFile(kernel, bytes(300_000, 1));
  await writeFile(initrd, bytes(200_000, 2));
  return { kernel, initrd, cmdline };
}

/** An output context writing into dir, with log lines collected. */
export function testContext(dir: string, overrides: Partial<OutputContext> = {}): OutputContext & { lines: string[] } {
  const lines: string[] = [];
  return {
    name: 'test',
    outDir: join(dir, 'images'),
    workDir: join(dir, 'work'),
    epoch: 1_700_000_000,
    profileJson: '{"name":"passthrough","pipes":{},"rules":[]}',
    log: { info: (m) => lines.push(m), warn: (m) => lines.push(`warning: ${m}`) },
    lines,
    ...overrides,
  };
}
