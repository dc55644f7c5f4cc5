// The Node runtime travels as a compressed squashfs inside the initramfs rather than as a file in
// it: the kernel then only copies it at boot instead of decompressing 107 MB up front, and the
// pages node touches are decompressed on demand (measured in bench/: unpack time dominated boot).
//
// It is compressed like the initramfs (the recipe's `compression`). Not xz for a zstd image, though
// xz makes it 4.2 MB smaller: node touches some 70 MB of its binary while starting (mostly scattered
// .text: the squashfs decompresses a whole block per touched page, and readahead more), and a cold
// `node -e 0` from the xz squashfs took 6.5 s in the guest under TCG against 2.0 s from zstd. Smaller
// blocks do not help: 128 KiB blocks still decompressed 50 MB of it.
//
// Of the 107 MB stripped binary, 33 MB are ICU's data (icudt<N>_dat: every locale, legacy charset
// converters, word-break dictionaries, transliterators), 9.3 MB of the zstd squashfs. A recipe may
// trim it (`node.icu`): the kept items are rewritten in place and the rest of the region zeroed.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../common/errors.ts';
import { AMARO, builtinSource, withBlankedSource } from './node-typescript.ts';
import type { Recipe } from './recipe.ts';

/** mksquashfs options for the Node runtime's image, by the recipe's compression. */
export const SQUASHFS_OPTIONS: Record<Recipe['compression'], string[]> = {
  xz: ['-b', '1M', '-comp', 'xz', '-Xbcj', 'x86'],
  zstd: ['-b', '1M', '-comp', 'zstd', '-Xcompression-level', '19'],
  gzip: ['-b', '1M', '-comp', 'gzip', '-Xcompression-level', '9'],
};

/** What each ICU trim keeps of the data: every item except the dropped kinds, and locale data only for these locales. */
export const ICU_TRIMS = {
  en: {
    /** locale resource bundles kept in every tree (root, pool and the non-locale data always stay) */
    locales: ['en', 'en_US', 'en_US_POSIX'],
    /** cnv: legacy charset converters (TextDecoder then knows the encodings it has without ICU: utf-8, utf-16, latin1);
     * dict: CJK and South-East Asian word-break dictionaries (Intl.Segmenter falls back to rules) */
    dropExtensions: ['cnv', 'dict'],
    /** transliterators: nothing in JavaScript reaches them */
    dropTrees: ['translit'],
  },
} as const;
export type IcuTrim = keyof typeof ICU_TRIMS;

/** A locale ID as ICU names its resource bundles: language, then optional script, region, variant (en, sr_Latn_BA, es_419, en_US_POSIX). */
const LOCALE = /^[a-z]{2,3}(_[A-Z][a-z]{3})?(_([A-Z]{2}|\d{3}))?(_[A-Z0-9]+)?$/;

/** Whether the trim keeps this item of ICU's common data (a name such as "icudt78l/coll/zh.res"). */
export function keepIcuItem(trim: (typeof ICU_TRIMS)[IcuTrim], item: string): boolean {
  const path = item.split('/').slice(1); // without the package name (icudt78l)
  const leaf = path.at(-1) ?? '';
  const dot = leaf.lastIndexOf('.');
  const [base, ext] = dot < 0 ? [leaf, ''] : [leaf.slice(0, dot), leaf.slice(dot + 1)];
  if ((trim.dropExtensions as readonly string[]).includes(ext)) return false;
  if (path.length > 1 && (trim.dropTrees as readonly string[]).includes(path[0]!)) return false;
  if (ext === 'res' && LOCALE.test(base)) return (trim.locales as readonly string[]).includes(base);
  return true;
}

/**
 * ICU common data ("CmnD": a header, a table of contents of name and data offsets, the names, then
 * the items, each 16-byte aligned) holding only the items `keep` accepts, in the same order (ICU
 * looks names up by binary search). Never longer than `dat`.
 */
export function trimIcuData(dat: Buffer, keep: (item: string) => boolean): Buffer {
  if (dat.length < 32 || dat[2] !== 0xda || dat[3] !== 0x27 || dat.toString('latin1', 12, 16) !== 'CmnD' || dat[8] !== 0) {
    throw new UserError('the ICU data in the Node.js binary is not little-endian ICU common data ("CmnD"); set node.icu to "full" in the recipe');
  }
  const toc = dat.readUInt16LE(0);
  const count = dat.readUInt32LE(toc);
  const entries = Array.from({ length: count }, (_, i) => {
    const nameAt = toc + dat.readUInt32LE(toc + 4 + 8 * i);
    return { name: dat.toString('latin1', nameAt, dat.indexOf(0, nameAt)), start: toc + dat.readUInt32LE(toc + 8 + 8 * i), end: 0 };
  });
  // an item runs to the start of the next one in the data (or to the end of the region)
  const byStart = [...entries].sort((a, b) => a.start - b.start);
  byStart.forEach((e, i) => (e.end = byStart[i + 1]?.start ?? dat.length));
  const kept = entries.filter((e) => keep(e.name));

  const align = (n: number) => (n + 15) & ~15;
  const names = kept.map((e) => Buffer.from(e.name + '\0', 'latin1'));
  const namesAt = 4 + 8 * kept.length;
  let at = align(toc + namesAt + names.reduce((n, b) => n + b.length, 0)) - toc;
  const offsets = kept.map((e) => {
    const dataAt = at;
    at = align(toc + at + e.end - e.start) - toc;
    return dataAt;
  });
  const out = Buffer.alloc(toc + at);
  dat.copy(out, 0, 0, toc);
  out.writeUInt32LE(kept.length, toc);
  let nameAt = namesAt;
  kept.forEach((e, i) => {
    out.writeUInt32LE(nameAt, toc + 4 + 8 * i);
    out.writeUInt32LE(offsets[i]!, toc + 8 + 8 * i);
    names[i]!.copy(out, toc + nameAt);
    nameAt += names[i]!.length;
    dat.copy(out, toc + offsets[i]!, e.start, e.end);
  });
  if (out.length > dat.length) throw new Error(`trimmed ICU data (${out.length} bytes) is larger than the original (${dat.length})`);
  return out;
}

const SHT_DYNSYM = 11;

/** Where the binary's ICU data (the exported symbol icudt<N>_dat) lies in the file; undefined when it has none. */
export function icuDataRegion(elf: Buffer): { symbol: string; offset: number; size: number } | undefined {
  const u64 = (off: number) => Number(elf.readBigUInt64LE(off));
  const shoff = u64(0x28), shentsize = elf.readUInt16LE(0x3a), shnum = elf.readUInt16LE(0x3c);
  const sections = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return { type: elf.readUInt32LE(at + 4), addr: u64(at + 0x10), offset: u64(at + 0x18), size: u64(at + 0x20), link: elf.readUInt32LE(at + 0x28), entsize: u64(at + 0x38) };
  });
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  if (!dynsym) return undefined;
  const strtab = sections[dynsym.link]!;
  for (let at = dynsym.offset; at + 24 <= dynsym.offset + dynsym.size; at += dynsym.entsize || 24) {
    const nameAt = strtab.offset + elf.readUInt32LE(at);
    // cheap test before decoding the name: "icudt"
    if (elf.readUInt32BE(nameAt) !== 0x69637564 || elf[nameAt + 4] !== 0x74) continue;
    const symbol = elf.toString('latin1', nameAt, elf.indexOf(0, nameAt));
    if (!/^icudt\d+_dat$/.test(symbol)) continue;
    const section = sections[elf.readUInt16LE(at + 6)];
    if (!section) return undefined;
    return { symbol, offset: section.offset + u64(at + 8) - section.addr, size: u64(at + 16) };
  }
  return undefined;
}

/** A copy of the Node binary with its ICU data trimmed in place (the rest of the region zeroed). */
export function withTrimmedIcu(elf: Buffer, trim: IcuTrim): Buffer {
  const region = icuDataRegion(elf);
  if (!region) throw new UserError(`the Node.js binary exports no icudt*_dat (ICU data) symbol to trim; set node.icu to "full" in the recipe`);
  const rule = ICU_TRIMS[trim];
  const trimmed = trimIcuData(elf.subarray(region.offset, region.offset + region.size), (item) => keepIcuItem(rule, item));
  const out = Buffer.from(elf);
  out.fill(0, region.offset, region.offset + region.size);
  trimmed.copy(out, region.offset);
  return out;
}

/** Runs the trimmed binary once: it must start, and format a date and a number in English with its ICU. */
async function checkTrimmedNode(node: string, trim: IcuTrim): Promise<void> {
  const script = "const d = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', dateStyle: 'long' }).format(0), n = (1234.5).toLocaleString('en-US');" +
    "if (d !== 'January 1, 1970' || n !== '1,234.5') throw new Error(d + ' / ' + n); new Date().toString(); new TextDecoder('utf-8');";
  // a clean environment: no NODE_OPTIONS or NODE_ICU_DATA from the build host
  const result = await execa(node, ['-e', script], { reject: false, extendEnv: false, env: { PATH: '/usr/bin:/bin', LANG: 'C', TZ: 'UTC' } });
  if (result.exitCode !== 0) {
    throw new UserError(`the Node.js binary with ICU data trimmed to "${trim}" does not work (${(result.stderr || result.stdout).trim().split('\n').at(-1)}); set node.icu to "full" in the recipe`);
  }
}

/** A squashfs holding `bin/node`, made once per binary and options, cached beside the binary under a key of the options.
 * Its timestamps are 0, not SOURCE_DATE_EPOCH: its content is a pinned input, and so it stays cached across commits. */
export async function nodeSquashfs(binary: string, opts: { compression: Recipe['compression']; icu: Recipe['node']['icu']; typescript?: boolean }): Promise<string> {
  const epoch = 0;
  const trim = opts.icu === 'full' || opts.icu === undefined ? undefined : opts.icu;
  const key = createHash('sha256')
    .update(JSON.stringify({ squashfs: SQUASHFS_OPTIONS[opts.compression], icu: trim ? { [trim]: ICU_TRIMS[trim] } : 'full', blanked: opts.typescript === false ? [AMARO] : undefined }))
    .digest('hex')
    .slice(0, 16);
  const out = `${binary}.${key}.squashfs`;
  if (existsSync(out)) return out;
  // staged beside the binary (the cache), not in a tmpdir that may be mounted noexec: the trimmed binary is run once
  const dir = `${out}.tmp-${process.pid}.d`;
  try {
    await mkdir(join(dir, 'bin'), { recursive: true });
    const node = join(dir, 'bin/node');
    let elf: Buffer = await readFile(binary);
    if (opts.typescript === false) elf = withBlankedSource(elf, await builtinSource(binary, AMARO), AMARO);
    await writeFile(node, trim ? withTrimmedIcu(elf, trim) : elf);
    await chmod(node, 0o755);
    if (trim) await checkTrimmedNode(node, trim);
    for (const p of [node, join(dir, 'bin'), dir]) await utimes(p, epoch, epoch);
    const tmp = `${out}.tmp-${process.pid}`;
    // the times are given here; mksquashfs refuses to run when SOURCE_DATE_EPOCH (which a user may
    // set for the build) is in its environment too
    await execa('mksquashfs', [dir, tmp, '-noappend', '-quiet', '-no-progress', '-all-root', '-no-xattrs',
      '-mkfs-time', String(epoch), '-all-time', String(epoch), ...SQUASHFS_OPTIONS[opts.compression]], { env: { SOURCE_DATE_EPOCH: undefined } });
    await rename(tmp, out);
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
