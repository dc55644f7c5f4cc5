// Trimming ICU's data out of the Node.js binary: which items stay, the rewritten common data, and
// finding the data in the ELF file by its exported symbol.
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { ICU_TRIMS, icuDataRegion, keepIcuItem, trimIcuData, withTrimmedIcu } from '../../src/builder/squashfs.ts';

/** ICU common data ("CmnD") as pkgdata lays it out: header, table of contents, names, 16-byte aligned items. */
function cmnd(items: [string, Buffer][]): Buffer {
  const header = Buffer.alloc(32);
  header.writeUInt16LE(32, 0);
  header[2] = 0xda;
  header[3] = 0x27;
  header.writeUInt16LE(20, 4);
  header.write('CmnD', 12, 'latin1');
  const names = items.map(([n]) => Buffer.from(n + '\0', 'latin1'));
  const toc = Buffer.alloc(4 + 8 * items.length);
  toc.writeUInt32LE(items.length, 0);
  let nameAt = toc.length;
  let dataAt = (toc.length + names.reduce((n, b) => n + b.length, 0) + 15) & ~15;
  const body: Buffer[] = [];
  items.forEach(([, data], i) => {
    toc.writeUInt32LE(nameAt, 4 + 8 * i);
    toc.writeUInt32LE(dataAt, 8 + 8 * i);
    nameAt += names[i]!.length;
    const padded = Buffer.alloc((data.length + 15) & ~15);
    data.copy(padded);
    body.push(padded);
    dataAt += padded.length;
  });
  const head = Buffer.concat([header, toc, ...names]);
  return Buffer.concat([head, Buffer.alloc(((head.length - 32 + 15) & ~15) - (head.length - 32)), ...body]);
}

/** The items of common data: name and content (up to the next item), in table order. */
function itemsOf(dat: Buffer): [string, Buffer][] {
  const toc = dat.readUInt16LE(0);
  const count = dat.readUInt32LE(toc);
  const entries = Array.from({ length: count }, (_, i) => {
    const nameAt = toc + dat.readUInt32LE(toc + 4 + 8 * i);
    return { name: dat.toString('latin1', nameAt, dat.indexOf(0, nameAt)), at: toc + dat.readUInt32LE(toc + 8 + 8 * i) };
  });
  return entries.map((e, i) => [e.name, dat.subarray(e.at, entries[i + 1]?.at ?? dat.length)]);
}

test('the "en" trim keeps root, pool, English and the non-locale data; drops other locales, converters, dictionaries, transliterators', (t) => {
  const keep = (item: string) => keepIcuItem(ICU_TRIMS.en, `icudt78l/${item}`);
  for (const item of ['root.res', 'pool.res', 'res_index.res', 'en.res', 'en_US.res', 'en_US_POSIX.res', 'supplementalData.res', 'zoneinfo64.res',
    'metaZones.res', 'timezoneTypes.res', 'plurals.res', 'coll/ucadata.icu', 'coll/root.res', 'coll/en.res', 'brkitr/word.brk', 'brkitr/root.res',
    'zone/tzdbNames.res', 'curr/supplementalData.res', 'unit/pool.res', 'cnvalias.icu', 'nfkc.nrm', 'uts46.nrm']) {
    t.true(keep(item), item);
  }
  for (const item of ['de.res', 'en_GB.res', 'es_419.res', 'sr_Latn_BA.res', 'zh_Hant_TW.res', 'ca_ES_VALENCIA.res', 'yue.res', 'coll/zh.res',
    'curr/en_AU.res', 'lang/fr.res', 'ibm-1390_P110-2003.cnv', 'gb18030-2022.cnv', 'brkitr/cjdict.dict', 'brkitr/thaidict.dict', 'translit/root.res']) {
    t.false(keep(item), item);
  }
});

test('trimmed common data holds exactly the kept items, in order, 16-byte aligned, and is no longer than the original', (t) => {
  const items: [string, Buffer][] = [
    ['icudt78l/a.res', Buffer.from('alpha')],
    ['icudt78l/b.cnv', Buffer.alloc(100, 0xbb)],
    ['icudt78l/c/d.res', Buffer.from('a longer item of more than sixteen bytes')],
    ['icudt78l/e.icu', Buffer.from('e')],
  ];
  const dat = cmnd(items);
  t.deepEqual(itemsOf(dat).map(([n]) => n), items.map(([n]) => n)); // the helper reads what it wrote
  const out = trimIcuData(dat, (name) => !name.endsWith('.cnv'));
  t.true(out.length < dat.length);
  t.deepEqual(out.subarray(0, 32), dat.subarray(0, 32), 'the header is kept');
  const kept = itemsOf(out);
  t.deepEqual(kept.map(([n]) => n), ['icudt78l/a.res', 'icudt78l/c/d.res', 'icudt78l/e.icu']);
  for (const [name, data] of kept) {
    const original = items.find(([n]) => n === name)![1];
    t.deepEqual(data.subarray(0, original.length), original, name);
    t.is((data.byteOffset - out.byteOffset) % 16, 0, `${name} is 16-byte aligned`);
  }
  t.deepEqual(trimIcuData(dat, () => true), dat, 'keeping everything gives the same bytes');
});

test('data that is not little-endian ICU common data is refused, naming the way out', (t) => {
  const e = t.throws(() => trimIcuData(Buffer.alloc(64), () => true));
  t.true(e instanceof UserError);
  t.regex(e!.message, /node\.icu to "full"/);
});

/** A minimal ELF64 file: a .rodata section at vaddr 0x401000 holding `data` after 16 bytes, and a .dynsym exporting it as `symbol`. */
function fakeElf(symbol: string, data: Buffer): Buffer {
  const rodataOff = 0x100, rodataAddr = 0x401000;
  const rodata = Buffer.concat([Buffer.alloc(16, 0xee), data, Buffer.alloc(16, 0xee)]);
  const dynstr = Buffer.from(`\0other\0${symbol}\0`, 'latin1');
  const sym = (name: number, value: number, size: number, shndx: number) => {
    const s = Buffer.alloc(24);
    s.writeUInt32LE(name, 0);
    s[4] = 0x11; // global object
    s.writeUInt16LE(shndx, 6);
    s.writeBigUInt64LE(BigInt(value), 8);
    s.writeBigUInt64LE(BigInt(size), 16);
    return s;
  };
  const dynsym = Buffer.concat([Buffer.alloc(24), sym(1, rodataAddr, 4, 1), sym(7, rodataAddr + 16, data.length, 1)]);
  const dynsymOff = rodataOff + rodata.length, dynstrOff = dynsymOff + dynsym.length;
  const shoff = (dynstrOff + dynstr.length + 7) & ~7;
  const section = (type: number, addr: number, offset: number, size: number, link = 0, entsize = 0) => {
    const s = Buffer.alloc(64);
    s.writeUInt32LE(type, 4);
    s.writeBigUInt64LE(BigInt(addr), 0x10);
    s.writeBigUInt64LE(BigInt(offset), 0x18);
    s.writeBigUInt64LE(BigInt(size), 0x20);
    s.writeUInt32LE(link, 0x28);
    s.writeBigUInt64LE(BigInt(entsize), 0x38);
    return s;
  };
  const shdrs = Buffer.concat([Buffer.alloc(64), section(1, rodataAddr, rodataOff, rodata.length), section(11, 0, dynsymOff, dynsym.length, 3, 24), section(3, 0, dynstrOff, dynstr.length)]);
  const file = Buffer.alloc(shoff + shdrs.length);
  file.writeUInt32BE(0x7f454c46, 0);
  file[4] = 2;
  file[5] = 1;
  file.writeBigUInt64LE(BigInt(shoff), 0x28);
  file.writeUInt16LE(64, 0x3a);
  file.writeUInt16LE(4, 0x3c);
  rodata.copy(file, rodataOff);
  dynsym.copy(file, dynsymOff);
  dynstr.copy(file, dynstrOff);
  shdrs.copy(file, shoff);
  return file;
}

test('the ICU data is found by its exported symbol and trimmed in place, the rest of its region zeroed', (t) => {
  const dat = cmnd([
    ['icudt78l/de.res', Buffer.alloc(200, 0xde)],
    ['icudt78l/en.res', Buffer.from('english')],
    ['icudt78l/root.res', Buffer.from('root')],
  ]);
  const elf = fakeElf('icudt78_dat', dat);
  t.deepEqual(icuDataRegion(elf), { symbol: 'icudt78_dat', offset: 0x110, size: dat.length });
  const out = withTrimmedIcu(elf, 'en');
  t.is(out.length, elf.length);
  t.deepEqual(out.subarray(0, 0x110), elf.subarray(0, 0x110), 'bytes before the region are untouched');
  t.deepEqual(out.subarray(0x110 + dat.length), elf.subarray(0x110 + dat.length), 'bytes after the region are untouched');
  const region = out.subarray(0x110, 0x110 + dat.length);
  t.deepEqual(itemsOf(region).map(([n]) => n), ['icudt78l/en.res', 'icudt78l/root.res']);
  const trimmed = trimIcuData(dat, (n) => !n.endsWith('de.res'));
  t.true(region.subarray(trimmed.length).every((b) => b === 0));
  t.is(icuDataRegion(fakeElf('not_icu', dat)), undefined);
  t.throws(() => withTrimmedIcu(fakeElf('not_icu', dat), 'en'), { instanceOf: UserError, message: /icudt/ });
});

// the real thing, when a build has fetched it: the official binary's ICU data is where its symbol says
const nodeDir = join(process.env.PICOWIRE_CACHE ?? join(homedir(), '.cache/picowire'), 'node');
const cached = existsSync(nodeDir) ? readdirSync(nodeDir).map((d) => join(nodeDir, d, 'node.stripped')).find(existsSync) : undefined;
(cached ? test : test.skip)('the Node.js binary in the cache exports its ICU data as little-endian common data', async (t) => {
  const elf = await readFile(cached!);
  const region = icuDataRegion(elf);
  t.truthy(region);
  t.regex(region!.symbol, /^icudt\d+_dat$/);
  t.is(elf.toString('latin1', region!.offset + 12, region!.offset + 16), 'CmnD');
  const trimmed = trimIcuData(elf.subarray(region!.offset, region!.offset + region!.size), (item) => keepIcuItem(ICU_TRIMS.en, item));
  t.true(trimmed.length < region!.size / 4, `trimmed to ${trimmed.length} of ${region!.size} bytes`);
});
