// Boots every output in every way it claims to boot, under QEMU (TCG), with Debian's kernel and a
// busybox initrd that prints BOOT_OK; logs the time from QEMU's start to that line and every size.
// Slow (about 15 boots of 5-15 s): one boot per output and mode. Run it alone for honest timings.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { BootArtifacts } from '../../src/builder/types.ts';
import { boot, qemuSupport, type BootMode } from '../../src/lab/qemu.ts';
import { OUTPUTS } from '../../src/outputs/index.ts';
import { missing, OUTPUT_TOOLS, testContext, testUnless } from './needs.ts';
import { BOOT_OK, testBootArtifacts } from './test-kernel.ts';

/** The boot modes each output claims. */
const CLAIMS: Record<keyof typeof OUTPUTS, BootMode[]> = {
  iso: ['bios-cd', 'bios-disk', 'bios-usb', 'uefi-cd', 'uefi-disk', 'uefi-usb'],
  img: ['bios-disk', 'bios-usb', 'uefi-disk', 'uefi-usb'],
  qcow2: ['bios-disk', 'uefi-disk'],
  pxe: ['pxe', 'direct'],
};
/** TCG on a busy 2-core machine: generous, a healthy boot takes 5-15 s. */
const BOOT_TIMEOUT_MS = 180_000;

const support = qemuSupport();
const why = missing(OUTPUT_TOOLS) ?? (support.ok ? undefined : support.reason);
let dir = '';
let artifacts: BootArtifacts;
const images = new Map<string, string>(); // output → what boot() takes
const results: string[] = [];

if (!why) {
  test.before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'picowire-boot-test-'));
    artifacts = await testBootArtifacts(join(dir, 'fixture'));
    const ctx = testContext(dir);
    const sizes = [`kernel ${await size(artifacts.kernel)}, initrd ${await size(artifacts.initrd)}`];
    for (const [format, write] of Object.entries(OUTPUTS)) {
      const paths = await write(artifacts, { ...ctx, workDir: join(dir, 'work', format) });
      images.set(format, format === 'pxe' ? join(ctx.outDir, 'test-pxe') : paths[0]!);
      sizes.push(`${format} ${(await Promise.all(paths.map(size))).join(' + ')}`);
    }
    console.log(`sizes: ${sizes.join('; ')}`);
  });
  test.after.always(async () => {
    if (results.length) console.log(`time from QEMU start to ${BOOT_OK}:\n  ${results.join('\n  ')}`);
    if (dir) await rm(dir, { recursive: true, force: true });
  });
}

/** A file's size in MB, for the log. */
async function size(path: string): Promise<string> {
  return `${((await stat(path)).size / 1e6).toFixed(2)} MB`;
}

for (const [format, modes] of Object.entries(CLAIMS)) {
  for (const mode of modes) {
    testUnless(why, `the ${format} output boots as ${mode}`, async (t) => {
      const log = join(dir, `console-${format}-${mode}.txt`);
      const vm = await boot({ mode, image: images.get(format)!, log });
      try {
        const { match, atMs } = await vm.waitFor(new RegExp(BOOT_OK), BOOT_TIMEOUT_MS);
        t.is(match[0], BOOT_OK);
        results.push(`${format.padEnd(5)} ${mode.padEnd(9)} ${(atMs / 1000).toFixed(1)} s`);
        t.log(`${BOOT_OK} at ${(atMs / 1000).toFixed(1)} s`);
      } finally {
        await vm.stop();
      }
    });
  }
}
