import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { cpioArchive } from '../../src/builder/cpio.ts';
import type { Entry } from '../../src/builder/types.ts';

const EPOCH = 1_700_000_000;

/** Collects the archive's bytes. */
async function archive(entries: Entry[], epoch = EPOCH): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of cpioArchive(entries, { epoch })) chunks.push(c);
  return Buffer.concat(chunks);
}

interface Member {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevmajor: number;
  rdevminor: number;
  data: Buffer;
}

/** An independent newc reader: checks magic and 4-byte alignment as it goes, stops after the trailer. */
function parse(buf: Buffer): Member[] {
  const out: Member[] = [];
  let at = 0;
  for (;;) {
    if (at % 4 !== 0) throw new Error(`header at ${at} is not 4-byte aligned`);
    if (buf.toString('ascii', at, at + 6) !== '070701') throw new Error(`bad magic at ${at}`);
    const field = (i: number) => parseInt(buf.toString('ascii', at + 6 + 8 * i, at + 14 + 8 * i), 16);
    const [ino, mode, uid, gid, nlink, mtime, size, , , rdevmajor, rdevminor, namesize, check] = Array.from({ length: 13 }, (_, i) => field(i)) as number[];
    if (check !== 0) throw new Error('check field is not 0');
    const name = buf.toString('utf8', at + 110, at + 110 + namesize! - 1);
    if (buf[at + 110 + namesize! - 1] !== 0) throw new Error(`name ${name} is not NUL-terminated`);
    at = Math.ceil((at + 110 + namesize!) / 4) * 4;
    const data = buf.subarray(at, at + size!);
    at = Math.ceil((at + size!) / 4) * 4;
    if (name === 'TRAILER!!!') {
      if (at !== buf.length) throw new Error(`${buf.length - at} bytes after the trailer`);
      return out;
    }
    out.push({ name, ino: ino!, mode: mode!, uid: uid!, gid: gid!, nlink: nlink!, mtime: mtime!, rdevmajor: rdevmajor!, rdevminor: rdevminor!, data });
  }
}

/** A scratch directory removed after the test. */
async function scratch(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-cpio-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const SAMPLE: Entry[] = [
  { type: 'symlink', path: '/init', target: 'bin/busybox' },
  { type: 'file', path: '/bin/busybox', mode: 0o755, data: Buffer.from('#!busybox\n') },
  { type: 'dir', path: '/tmp', mode: 0o1777 },
  { type: 'chardev', path: '/dev/console', mode: 0o600, major: 5, minor: 1 },
  { type: 'file', path: '/etc/empty', mode: 0o644, data: Buffer.alloc(0) },
  { type: 'file', path: '/etc/abc', mode: 0o644, data: Buffer.from('abcde') },
  { type: 'symlink', path: '/var/run', target: '/run' },
];

test('entries come back sorted, parents first, with root ownership, the epoch and sequential inodes', async (t) => {
  const members = parse(await archive(SAMPLE));
  t.deepEqual(members.map((m) => m.name), ['bin', 'bin/busybox', 'dev', 'dev/console', 'etc', 'etc/abc', 'etc/empty', 'init', 'tmp', 'var', 'var/run']);
  t.deepEqual(members.map((m) => m.ino), members.map((_, i) => i + 1));
  for (const m of members) {
    t.is(m.uid, 0);
    t.is(m.gid, 0);
    t.is(m.mtime, EPOCH);
  }
});

test('each entry type gets its file type bits, mode, link count and content', async (t) => {
  const byName = new Map(parse(await archive(SAMPLE)).map((m) => [m.name, m]));
  const bin = byName.get('bin')!;
  t.is(bin.mode, 0o040755, 'missing parent directories are made 0755');
  t.is(bin.nlink, 2);
  t.is(byName.get('tmp')!.mode, 0o041777);
  const busybox = byName.get('bin/busybox')!;
  t.is(busybox.mode, 0o100755);
  t.is(busybox.nlink, 1);
  t.is(busybox.data.toString(), '#!busybox\n');
  const init = byName.get('init')!;
  t.is(init.mode, 0o120777);
  t.is(init.data.toString(), 'bin/busybox');
  const console = byName.get('dev/console')!;
  t.is(console.mode, 0o020600);
  t.deepEqual([console.rdevmajor, console.rdevminor], [5, 1]);
  t.is(console.data.length, 0);
  t.is(byName.get('etc/empty')!.data.length, 0);
  t.is(byName.get('etc/abc')!.data.toString(), 'abcde');
});

test('names of every length modulo 4 are padded so each header starts aligned', async (t) => {
  const entries: Entry[] = ['a', 'ab', 'abc', 'abcd', 'abcde'].map((n, i) => ({ type: 'file', path: `/${n}`, mode: 0o644, data: Buffer.alloc(i, 120) }));
  const members = parse(await archive(entries)); // parse() throws on any misaligned header
  t.deepEqual(members.map((m) => [m.name, m.data.length]), [['a', 0], ['ab', 1], ['abc', 2], ['abcd', 3], ['abcde', 4]]);
});

test('file content is streamed from the host file, across read chunks, byte for byte', async (t) => {
  const dir = await scratch(t);
  const big = Buffer.alloc(300_001, 0);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  await writeFile(join(dir, 'big'), big);
  await writeFile(join(dir, 'zero'), '');
  const members = parse(
    await archive([
      { type: 'file', path: '/usr/bin/node', mode: 0o755, source: join(dir, 'big') },
      { type: 'file', path: '/etc/zero', mode: 0o644, source: join(dir, 'zero') },
    ]),
  );
  t.true(members.find((m) => m.name === 'usr/bin/node')!.data.equals(big));
  t.is(members.find((m) => m.name === 'etc/zero')!.data.length, 0);
});

test('the same entries and epoch give byte-identical archives, whatever their input order', async (t) => {
  const one = await archive(SAMPLE);
  t.true(one.equals(await archive(SAMPLE)));
  t.true(one.equals(await archive([...SAMPLE].reverse())));
  t.false(one.equals(await archive(SAMPLE, EPOCH + 1)));
});

test('two entries at one path are refused, naming the path', async (t) => {
  const entries: Entry[] = [
    { type: 'file', path: '/etc/hosts', mode: 0o644, data: Buffer.from('a') },
    { type: 'symlink', path: 'etc/hosts', target: '/proc/hosts' },
  ];
  await t.throwsAsync(archive(entries), { message: /two image entries at \/etc\/hosts \(file and symlink\)/ });
});

test('an entry below a path that is not a directory is refused', async (t) => {
  const entries: Entry[] = [
    { type: 'symlink', path: '/lib', target: 'usr/lib' },
    { type: 'file', path: '/lib/libc.so.6', mode: 0o755, data: Buffer.from('x') },
  ];
  await t.throwsAsync(archive(entries), { message: /\/lib\/libc\.so\.6 is inside \/lib, which is a symlink, not a directory/ });
});

test('paths that leave the root, and an epoch that does not fit, are refused', async (t) => {
  await t.throwsAsync(archive([{ type: 'dir', path: '/../etc', mode: 0o755 }]), { message: /image path "\/\.\.\/etc" is not a path below the root/ });
  await t.throwsAsync(archive([{ type: 'dir', path: '/', mode: 0o755 }]), { message: /image path "\/"/ });
  await t.throwsAsync(archive([], -1), { message: /SOURCE_DATE_EPOCH.*got -1/ });
});

test('an empty list is an archive holding only the trailer', async (t) => {
  const buf = await archive([]);
  t.deepEqual(parse(buf), []);
  t.is(buf.length, 124); // 110-byte header + "TRAILER!!!\0" = 121, padded to 124
});

test('GNU cpio lists the archive with the right names, modes and symlink targets', async (t) => {
  if (!existsSync('/usr/bin/cpio')) {
    t.log('GNU cpio is not installed (apt-get install cpio): only the parser above checked the format');
    return t.pass();
  }
  const dir = await scratch(t);
  await writeFile(join(dir, 'a.cpio'), await archive(SAMPLE));
  const out = execFileSync('cpio', ['-itv', '--quiet', '-F', join(dir, 'a.cpio')], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
  const lines = out.trim().split('\n').map((l) => l.split(/\s+/));
  const by = new Map(lines.map((f) => [f[f[0]!.startsWith('l') ? f.length - 3 : f.length - 1]!, f]));
  t.deepEqual([...by.keys()], ['bin', 'bin/busybox', 'dev', 'dev/console', 'etc', 'etc/abc', 'etc/empty', 'init', 'tmp', 'var', 'var/run']);
  t.is(by.get('bin')![0], 'drwxr-xr-x');
  t.is(by.get('tmp')![0], 'drwxrwxrwt');
  t.is(by.get('bin/busybox')![0], '-rwxr-xr-x');
  t.is(by.get('dev/console')![0], 'crw-------');
  t.is(by.get('init')![0], 'lrwxrwxrwx');
  t.deepEqual(by.get('init')!.slice(-2), ['->', 'bin/busybox']);
  t.deepEqual(by.get('var/run')!.slice(-2), ['->', '/run']);
  t.deepEqual(by.get('bin/busybox')!.slice(2, 4), ['root', 'root']);
});
