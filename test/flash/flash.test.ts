// `picowire flash` on file-backed loop devices made for each test: it writes and verifies, embeds
// on the way, and refuses a device too small, mounted, holding the running system, not a disk, or
// unconfirmed, leaving it as it was. (This machine's kernel reads no partition tables, so partitions
// and the other kinds of disk are judged in device.test.ts from what lsblk says of them.)
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { picowire } from '../helpers/cli.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const NEEDS = ['root', 'image'] as const;
const ISO = join(IMAGES, 'default.iso');
let work = '';

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'picowire-flash-'));
});

/** A loop device over a new file of `mib` MiB of zeros, detached when the test ends. */
async function loopDevice(t: ExecutionContext, mib: number): Promise<{ device: string; file: string }> {
  const file = join(work, `disk-${Date.now()}-${Math.random().toString(36).slice(2)}.img`);
  await writeFile(file, '');
  await execa('truncate', ['-s', `${mib}M`, file]);
  const { stdout } = await execa('losetup', ['--find', '--show', file]);
  const device = stdout.trim();
  t.teardown(() => execa('losetup', ['-d', device], { reject: false }).then(() => undefined));
  return { device, file };
}

/** The first `bytes` bytes of a file, hashed. */
async function headHash(file: string, bytes: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    await handle.read(buf, 0, bytes, 0);
    return createHash('sha256').update(buf).digest('hex');
  } finally {
    await handle.close();
  }
}

const isoHash = async () => createHash('sha256').update(await readFile(ISO)).digest('hex');

testNeeding([...NEEDS], 'flash writes the ISO to a file-backed disk, reads it back, and says so with rates', async (t) => {
  const { device, file } = await loopDevice(t, 64);
  const r = await picowire(['flash', ISO, device, '--yes']);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stderr, new RegExp(`${device}: loop device, [\\d.]+ MB: writing default\\.iso \\([\\d.]+ MB\\)`));
  t.regex(r.stderr, /writing: [\d.]+ MB in [\d.]+ s \([\d.]+ MB\/s\)/);
  t.regex(r.stderr, /verifying: [\d.]+ MB in [\d.]+ s/);
  const size = (await stat(ISO)).size;
  t.is(await headHash(file, size), await isoHash());
});

testNeeding([...NEEDS], 'flash --profile embeds into a copy on the way: the disk carries the profile, the ISO keeps its bytes', async (t) => {
  const { device, file } = await loopDevice(t, 64);
  const profile = join(work, 'p.json');
  await writeFile(profile, JSON.stringify({ name: 'flashed', pipes: {}, rules: [] }));
  const before = await isoHash();
  const r = await picowire(['flash', ISO, device, '--yes', '--profile', profile, '--token', 'flash-token-0123456789']);
  t.is(r.exitCode, 0, r.stderr);
  t.is(await isoHash(), before);
  await execa('losetup', ['-d', device]);
  const show = await picowire(['embed', '--show', file]);
  t.regex(show.stdout, /profile\.json: profile flashed/);
  t.regex(show.stdout, /token: set/);
});

/** Runs flash, expects exit 1 with the pattern, and the disk left all zeros. */
async function refused(t: ExecutionContext, args: string[], pattern: RegExp, file?: string): Promise<void> {
  const r = await picowire(['flash', ISO, ...args]);
  t.is(r.exitCode, 1, r.stderr);
  t.regex(r.stderr, pattern);
  if (file) {
    const head = await readFile(file).then((b) => b.subarray(0, 1 << 20));
    t.true(head.every((x) => x === 0), 'nothing was written');
  }
}

testNeeding([...NEEDS], 'a device smaller than the image is refused with both sizes', async (t) => {
  const { device, file } = await loopDevice(t, 16);
  await refused(t, [device, '--yes'], new RegExp(`${device} holds 16\\.8 MB, less than the image's [\\d.]+ MB`), file);
});

testNeeding([...NEEDS], 'a mounted disk is refused, naming where it is mounted', async (t) => {
  const { device, file } = await loopDevice(t, 64);
  await execa('mkfs.ext4', ['-q', '-F', device]);
  const mnt = join(work, `mnt-${Date.now()}`);
  await mkdir(mnt);
  await execa('mount', ['-o', 'ro', device, mnt]); // read-only: ext4 writes nothing behind the test's back
  t.teardown(() => execa('umount', [mnt], { reject: false }).then(() => undefined));
  const before = await headHash(file, 1 << 20);
  const r = await picowire(['flash', ISO, device, '--yes']);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, new RegExp(`${device} is mounted \\(${device} at ${mnt}\\); unmount it first`));
  t.is(await headHash(file, 1 << 20), before, 'the filesystem is as it was');
});

testNeeding([...NEEDS], 'the disk holding the running system is refused', async (t) => {
  const { stdout } = await execa('findmnt', ['-n', '-o', 'SOURCE', '/']);
  const { stdout: disk } = await execa('lsblk', ['-n', '-d', '-o', 'PATH', '--inverse', stdout.trim()]);
  const system = disk.trim().split('\n').pop()!;
  await refused(t, [system, '--yes'], new RegExp(`${system} holds the running system`));
});

testNeeding([...NEEDS], 'without --yes and no terminal to ask on, nothing is written', async (t) => {
  const { device, file } = await loopDevice(t, 64);
  await refused(t, [device], /not asked: standard input is not a terminal; give --yes/, file);
});

test('a regular file and a qcow2 are refused as flash targets and sources', async (t) => {
  const file = join(work, 'plain.bin');
  await writeFile(file, 'x');
  const r = await picowire(['flash', ISO, file, '--yes']);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /plain\.bin is a regular file, not a disk; to copy the image to a file, use cp/);
  const q = await picowire(['flash', join(IMAGES, 'default.qcow2'), '/dev/null', '--yes']);
  t.is(q.exitCode, 1);
  t.regex(q.stderr, /is a qcow2 \(a VM disk\); flash the \.iso or the \.img/);
});
