// Booted from a stick, disk or CD, the boot waits for the medium's PICOWIRE partition; from a CD it
// reads the partition off the disc, which the kernel shows without partitions.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import type { Result, Runner } from '../../src/agent/exec.ts';
import { configPartitionOnDisc } from '../../src/agent/media.ts';
import { FILES } from '../../src/agent/paths.ts';
import { findProfile } from '../../src/agent/sources.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';
import { fakeRoot } from '../helpers/fake-root.ts';

const ok: Result = { code: 0, stdout: '', stderr: '' };
const MEDIA = 'BOOT_IMAGE=/boot/vmlinuz quiet picowire.media\n';

/** A busybox whose PICOWIRE partition (holding `profile`) shows up at the `after`th look. */
function lateStick(root: string, profile: string, after: number, calls: string[]): Runner {
  let looks = 0;
  return async (_cmd, args) => {
    calls.push(args[0]!);
    if (args[0] === 'findfs') return ++looks >= after ? { ...ok, stdout: '/dev/sda3\n' } : { code: 1, stdout: '', stderr: 'findfs: unable to resolve' };
    if (args[0] === 'mount') {
      await mkdir(join(root, FILES.configMount), { recursive: true });
      await writeFile(join(root, FILES.configMount, 'profile.json'), profile);
    }
    return ok;
  };
}

test('booted from a medium, the boot waits for a stick that shows up late and takes its profile, not the baked one', async (t) => {
  const root = await fakeRoot({ [FILES.cmdline]: MEDIA, [FILES.baked]: JSON.stringify({ name: 'baked' }) });
  const calls: string[] = [];
  const found = await findProfile({ root, run: lateStick(root, JSON.stringify({ name: 'stick' }), 5, calls), warn: () => undefined, mediaWaitMs: 5000 });
  t.deepEqual('value' in found && found.value, { name: 'stick' });
  t.true(calls.filter((c) => c === 'findfs').length >= 5, 'it looked again until the stick was there');
});

test('booted from a medium whose partition never shows up, the boot says so after the deadline and takes the baked profile', async (t) => {
  const root = await fakeRoot({ [FILES.cmdline]: MEDIA, [FILES.baked]: JSON.stringify({ name: 'baked' }) });
  const warnings: string[] = [];
  const started = Date.now();
  const found = await findProfile({ root, run: lateStick(root, '{}', Infinity, []), warn: (l) => warnings.push(l), mediaWaitMs: 300 });
  t.deepEqual('value' in found && found.value, { name: 'baked' });
  t.true(Date.now() - started >= 300);
  t.regex(warnings.join('\n'), /no PICOWIRE partition appeared on it within 0\.3 s; going on without it/);
});

test('PXE or a direct kernel boot (no picowire.media) does not wait for a partition', async (t) => {
  const root = await fakeRoot({ [FILES.cmdline]: 'quiet\n', [FILES.baked]: JSON.stringify({ name: 'baked' }) });
  const calls: string[] = [];
  const found = await findProfile({ root, run: lateStick(root, '{}', Infinity, calls), warn: () => undefined, mediaWaitMs: 5000 });
  t.deepEqual('value' in found && found.value, { name: 'baked' });
  t.is(calls.filter((c) => c === 'findfs').length, 1);
});

testNeeding(['image'], 'from a CD, the PICOWIRE partition is found in the disc\'s GPT and copied whole, byte for byte', async (t) => {
  const root = await fakeRoot({});
  await mkdir(join(root, 'dev'), { recursive: true });
  const iso = join(IMAGES, 'default.iso');
  await copyFile(iso, join(root, 'dev/sr0'));
  const disc = await configPartitionOnDisc(root, true);
  t.is(disc?.device, '/dev/sr0');
  const { stdout } = await execa('sfdisk', ['--json', iso]);
  const parts = (JSON.parse(stdout) as { partitiontable: { partitions: { start: number; size: number }[] } }).partitiontable.partitions;
  const config = parts[parts.length - 1]!;
  const expected = (await readFile(iso)).subarray(config.start * 512, (config.start + config.size) * 512);
  t.deepEqual(Buffer.compare(await readFile(disc!.image), expected), 0);
});

test('a disc without a GPT, or no disc, has no PICOWIRE partition', async (t) => {
  const root = await fakeRoot({ 'dev/sr0': 'x'.repeat(4096) });
  t.is(await configPartitionOnDisc(root), undefined);
  t.is(await configPartitionOnDisc(await fakeRoot({})), undefined);
});
