import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { libraryClosure, readElf } from '../../src/builder/elf.ts';

const LS = '/usr/bin/ls';
const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';

/** A minimal ELF64 LE shared object: one PT_LOAD over the whole file at `vaddr`, optional PT_INTERP and PT_DYNAMIC. */
function fakeElf(o: { interp?: string; needed?: string[]; soname?: string; runpath?: string; rpath?: string; vaddr?: number; dynamic?: boolean }): Buffer {
  const vaddr = o.vaddr ?? 0x400000;
  const strtab = [Buffer.from([0])];
  let strsize = 1;
  const str = (s: string) => {
    strtab.push(Buffer.from(s + '\0'));
    strsize += Buffer.byteLength(s) + 1;
    return strsize - Buffer.byteLength(s) - 1;
  };
  const dyn: [number, number][] = [];
  for (const n of o.needed ?? []) dyn.push([1, str(n)]);
  if (o.soname) dyn.push([14, str(o.soname)]);
  if (o.rpath) dyn.push([15, str(o.rpath)]);
  if (o.runpath) dyn.push([29, str(o.runpath)]);
  const withDynamic = o.dynamic ?? true;
  const phnum = 1 + (o.interp ? 1 : 0) + (withDynamic ? 1 : 0);
  const interpOff = 64 + 56 * phnum;
  const interp = o.interp ? Buffer.from(o.interp + '\0') : Buffer.alloc(0);
  const strtabOff = interpOff + interp.length;
  const strtabBuf = Buffer.concat(strtab);
  const dynOff = Math.ceil((strtabOff + strtabBuf.length) / 8) * 8;
  dyn.push([5, vaddr + strtabOff], [10, strtabBuf.length], [0, 0]);
  const size = dynOff + 16 * dyn.length;
  const b = Buffer.alloc(size);
  b.write('\x7fELF', 0, 'latin1');
  b[4] = 2; // ELFCLASS64
  b[5] = 1; // little-endian
  b[6] = 1;
  b.writeUInt16LE(3, 0x10); // ET_DYN
  b.writeUInt16LE(62, 0x12); // x86-64
  b.writeBigUInt64LE(64n, 0x20);
  b.writeUInt16LE(64, 0x34);
  b.writeUInt16LE(56, 0x36);
  b.writeUInt16LE(phnum, 0x38);
  let ph = 64;
  const phdr = (type: number, offset: number, filesz: number) => {
    b.writeUInt32LE(type, ph);
    b.writeBigUInt64LE(BigInt(offset), ph + 8);
    b.writeBigUInt64LE(BigInt(vaddr + offset), ph + 16);
    b.writeBigUInt64LE(BigInt(filesz), ph + 32);
    b.writeBigUInt64LE(BigInt(filesz), ph + 40);
    ph += 56;
  };
  if (o.interp) phdr(3, interpOff, interp.length);
  phdr(1, 0, size);
  if (withDynamic) phdr(2, dynOff, 16 * dyn.length);
  interp.copy(b, interpOff);
  strtabBuf.copy(b, strtabOff);
  dyn.forEach(([tag, val], i) => {
    b.writeBigUInt64LE(BigInt(tag), dynOff + 16 * i);
    b.writeBigUInt64LE(BigInt(val), dynOff + 16 * i + 8);
  });
  return b;
}

/** A scratch package tree; files maps image paths to contents, links to symlink targets. */
async function tree(t: { teardown(fn: () => Promise<void>): void }, files: Record<string, Buffer | string>, links: Record<string, string> = {}) {
  const root = await mkdtemp(join(tmpdir(), 'picowire-elf-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  for (const [path, target] of Object.entries(links)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await symlink(target, join(root, path));
  }
  return root;
}

const INTERP = '/lib64/ld-linux-x86-64.so.2';
const REAL_LDSO = '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2';

test('readElf reads the interpreter and DT_NEEDED of the host ls', async (t) => {
  const info = readElf(await readFile(LS));
  t.is(info?.interpreter, INTERP);
  t.true(info?.needed.includes('libc.so.6'));
  t.is(info?.soname, undefined);
});

test('readElf reads the soname of libc and its need for the dynamic linker', async (t) => {
  const info = readElf(await readFile(LIBC));
  t.is(info?.soname, 'libc.so.6');
  t.deepEqual(info?.needed, ['ld-linux-x86-64.so.2']);
});

test("readElf lists the same DT_NEEDED entries as binutils' readelf for host programs", async (t) => {
  const binaries = [LS, LIBC, '/usr/bin/ssh', '/usr/bin/git', process.execPath].filter(existsSync);
  if (!existsSync('/usr/bin/readelf')) {
    t.log('readelf (binutils) is not installed: nothing to compare with');
    return t.pass();
  }
  for (const file of binaries) {
    const out = execFileSync('readelf', ['-dW', file], { encoding: 'utf8' });
    const expected = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]);
    t.deepEqual(readElf(await readFile(file))?.needed, expected, file);
  }
});

test('readElf says undefined for files that are not ELF', (t) => {
  t.is(readElf(Buffer.from('#!/bin/sh\necho hi\n')), undefined);
  t.is(readElf(Buffer.alloc(0)), undefined);
  t.is(readElf(Buffer.from('\x7fEL')), undefined);
});

test('readElf rejects 32-bit ELF files naming what it reads', (t) => {
  const elf32 = Buffer.from('\x7fELF\x01\x01\x01\0', 'latin1');
  t.throws(() => readElf(elf32), { instanceOf: UserError, message: /ELF class 1.*only ELF64 little-endian/ });
});

test('readElf reports a truncated ELF file as such instead of crashing', async (t) => {
  const head = (await readFile(LS)).subarray(0, 100);
  t.throws(() => readElf(head), { instanceOf: UserError, message: /truncated or corrupt/ });
});

test('readElf maps DT_STRTAB through the PT_LOAD segment and prefers RUNPATH over RPATH', (t) => {
  const elf = fakeElf({ interp: INTERP, needed: ['libb.so.2', 'liba.so.1'], soname: 'libx.so.9', runpath: '/opt/x:$ORIGIN/../lib', rpath: '/old', vaddr: 0x7000 });
  t.deepEqual(readElf(elf), { interpreter: INTERP, needed: ['libb.so.2', 'liba.so.1'], soname: 'libx.so.9', runpath: ['/opt/x', '$ORIGIN/../lib'] });
  t.deepEqual(readElf(fakeElf({ rpath: '/old:/older' }))?.runpath, ['/old', '/older']);
});

test('readElf finds no needs in a statically linked program', (t) => {
  t.deepEqual(readElf(fakeElf({ dynamic: false })), { needed: [], runpath: [] });
});

test('libraryClosure follows the host ls to its libraries, transitively, and the dynamic linker', async (t) => {
  const libs = await libraryClosure([{ path: '/usr/bin/ls', file: LS }], [{ root: '/' }]);
  const paths = libs.map((l) => l.path);
  t.true(paths.includes('/lib/x86_64-linux-gnu/libc.so.6'));
  t.true(paths.includes(INTERP));
  // libpcre2 is needed by libselinux, not by ls itself
  if (readElf(await readFile(LS))?.needed.includes('libselinux.so.1')) t.true(paths.some((p) => p.endsWith('/libpcre2-8.so.0')));
  t.deepEqual(paths, [...paths].sort(), 'sorted by image path');
  t.is(new Set(paths).size, paths.length, 'no path twice');
  // every library comes back as a real file even when the host path is a symlink
  for (const l of libs) t.is(realpathSync(l.file), l.file);
  t.is(libs.find((l) => l.path === INTERP)?.file, realpathSync(INTERP));
});

test('libraryClosure resolves symlinks inside the package tree, not on the host', async (t) => {
  const root = await tree(
    t,
    {
      '/usr/bin/tool': fakeElf({ interp: INTERP, needed: ['libfoo.so.1'] }),
      '/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3': fakeElf({ soname: 'libfoo.so.1', needed: ['libc.so.6'] }),
      '/lib/x86_64-linux-gnu/libc.so.6': fakeElf({ soname: 'libc.so.6', needed: ['ld-linux-x86-64.so.2'] }),
      [REAL_LDSO]: fakeElf({ soname: 'ld-linux-x86-64.so.2' }),
    },
    { '/usr/lib/x86_64-linux-gnu/libfoo.so.1': 'libfoo.so.1.2.3', [INTERP]: REAL_LDSO },
  );
  const libs = await libraryClosure([{ path: '/usr/bin/tool', file: join(root, 'usr/bin/tool') }], [{ root }]);
  t.deepEqual(libs, [
    { path: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', file: join(root, REAL_LDSO) },
    { path: '/lib/x86_64-linux-gnu/libc.so.6', file: join(root, 'lib/x86_64-linux-gnu/libc.so.6') },
    { path: INTERP, file: join(root, REAL_LDSO) },
    { path: '/usr/lib/x86_64-linux-gnu/libfoo.so.1', file: join(root, 'usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3') },
  ]);
});

test('libraryClosure searches every root, the RUNPATH with $ORIGIN, and leaves out the binaries themselves', async (t) => {
  const app = await tree(t, {
    '/opt/app/bin/app': fakeElf({ needed: ['libapp.so', 'libz.so.1'], runpath: '$ORIGIN/../lib' }),
    '/opt/app/lib/libapp.so': fakeElf({ soname: 'libapp.so' }),
  });
  const zlib = await tree(t, { '/lib/x86_64-linux-gnu/libz.so.1': fakeElf({ soname: 'libz.so.1' }) });
  const binaries = [
    { path: '/opt/app/bin/app', file: join(app, 'opt/app/bin/app') },
    { path: '/opt/app/lib/libapp.so', file: join(app, 'opt/app/lib/libapp.so') },
  ];
  t.deepEqual(await libraryClosure(binaries, [{ root: app }, { root: zlib }]), [
    { path: '/lib/x86_64-linux-gnu/libz.so.1', file: join(zlib, 'lib/x86_64-linux-gnu/libz.so.1') },
  ]);
});

test('libraryClosure needs nothing for static programs and scripts', async (t) => {
  const root = await tree(t, { '/bin/busybox': fakeElf({ dynamic: false }), '/bin/script': '#!/bin/sh\n' });
  const binaries = ['/bin/busybox', '/bin/script'].map((path) => ({ path, file: join(root, path) }));
  t.deepEqual(await libraryClosure(binaries, []), []);
});

test('libraryClosure names every binary and soname it cannot find, and the roots it searched', async (t) => {
  const root = await tree(t, {
    '/usr/sbin/nft': fakeElf({ needed: ['libnftables.so.1', 'libc.so.6'] }),
    '/usr/lib/x86_64-linux-gnu/libnftables.so.1': fakeElf({ needed: ['libjansson.so.4', 'libc.so.6'] }),
  });
  const error = await t.throwsAsync(libraryClosure([{ path: '/usr/sbin/nft', file: join(root, 'usr/sbin/nft') }], [{ root }]), { instanceOf: UserError });
  t.regex(error.message, /\/usr\/sbin\/nft needs libc\.so\.6/);
  t.regex(error.message, /\/usr\/lib\/x86_64-linux-gnu\/libnftables\.so\.1 needs libjansson\.so\.4/);
  t.regex(error.message, /\/usr\/lib\/x86_64-linux-gnu\/libnftables\.so\.1 needs libc\.so\.6/);
  t.true(error.message.includes(`under: ${root}`));
});

test('libraryClosure reports a missing dynamic linker', async (t) => {
  const root = await tree(t, { '/bin/tool': fakeElf({ interp: INTERP }) }, { [INTERP]: REAL_LDSO });
  await t.throwsAsync(libraryClosure([{ path: '/bin/tool', file: join(root, 'bin/tool') }], [{ root }]), {
    instanceOf: UserError,
    message: /\/bin\/tool needs its dynamic linker \/lib64\/ld-linux-x86-64\.so\.2/,
  });
});

test('libraryClosure does not loop on a symlink cycle and does not escape the root with ..', async (t) => {
  const root = await tree(
    t,
    { '/bin/tool': fakeElf({ needed: ['libloop.so.1', 'libesc.so.1'] }) },
    { '/lib/libloop.so.1': 'libloop.so.1', '/lib/libesc.so.1': '../../../../../../../lib/x86_64-linux-gnu/libc.so.6' },
  );
  const error = await t.throwsAsync(libraryClosure([{ path: '/bin/tool', file: join(root, 'bin/tool') }], [{ root }]), { instanceOf: UserError });
  t.regex(error.message, /needs libloop\.so\.1/);
  t.regex(error.message, /needs libesc\.so\.1/);
});
