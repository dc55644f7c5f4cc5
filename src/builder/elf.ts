// Which shared libraries a program needs, read from its ELF headers rather than from the host's ldd:
// the libraries must come from the Debian packages going into the image, not from the build machine.
import { lstat, readFile, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { UserError } from '../common/errors.ts';

export interface ElfInfo {
  /** DT_NEEDED sonames, in the order the linker loads them */
  needed: string[];
  /** PT_INTERP: the dynamic linker the kernel starts first */
  interpreter?: string;
  soname?: string;
  /** DT_RUNPATH, or DT_RPATH when there is no RUNPATH (what ld.so does), split on ":" */
  runpath: string[];
}

const PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3;
const DT_NULL = 0, DT_NEEDED = 1, DT_STRTAB = 5, DT_SONAME = 14, DT_RPATH = 15, DT_RUNPATH = 29;

/** Parses an ELF64 little-endian file's dynamic linking needs; undefined when buf is not ELF at all. */
export function readElf(buf: Buffer): ElfInfo | undefined {
  if (buf.length < 4 || buf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  if (buf[4] !== 2 || buf[5] !== 1) {
    throw new UserError(`ELF class ${buf[4]}, data ${buf[5]} is not supported: picowire reads only ELF64 little-endian (x86-64) files`);
  }
  try {
    return parseElf64(buf);
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`ELF file is truncated or corrupt (${e.message})`);
    throw e;
  }
}

/** The program headers and dynamic section of an ELF64 LE file (bounds errors surface as RangeError). */
function parseElf64(buf: Buffer): ElfInfo {
  const u64 = (off: number) => Number(buf.readBigUInt64LE(off));
  const phoff = u64(0x20), phentsize = buf.readUInt16LE(0x36), phnum = buf.readUInt16LE(0x38);
  const phdrs = Array.from({ length: phoff ? phnum : 0 }, (_, i) => {
    const at = phoff + i * phentsize;
    return { type: buf.readUInt32LE(at), offset: u64(at + 8), vaddr: u64(at + 16), filesz: u64(at + 32) };
  });
  const info: ElfInfo = { needed: [], runpath: [] };
  const interp = phdrs.find((p) => p.type === PT_INTERP);
  if (interp) info.interpreter = cString(buf, interp.offset);
  const dyn = phdrs.find((p) => p.type === PT_DYNAMIC);
  if (!dyn) return info; // statically linked, or a relocatable object such as a kernel module

  const tags: [number, number][] = [];
  for (let at = dyn.offset; at + 16 <= dyn.offset + dyn.filesz; at += 16) {
    const tag = u64(at);
    if (tag === DT_NULL) break;
    tags.push([tag, u64(at + 8)]);
  }
  const strtabAddr = tags.find(([t]) => t === DT_STRTAB)?.[1];
  if (strtabAddr === undefined) return info;
  // DT_STRTAB is a virtual address: the PT_LOAD segment containing it says where that is in the file
  const load = phdrs.find((p) => p.type === PT_LOAD && p.vaddr <= strtabAddr && strtabAddr < p.vaddr + p.filesz);
  if (!load) throw new RangeError(`DT_STRTAB address 0x${strtabAddr.toString(16)} lies in no PT_LOAD segment`);
  const str = (off: number) => cString(buf, strtabAddr - load.vaddr + load.offset + off);

  let rpath: string[] = [];
  for (const [tag, val] of tags) {
    if (tag === DT_NEEDED) info.needed.push(str(val));
    else if (tag === DT_SONAME) info.soname = str(val);
    else if (tag === DT_RUNPATH) info.runpath = str(val).split(':').filter(Boolean);
    else if (tag === DT_RPATH) rpath = str(val).split(':').filter(Boolean);
  }
  if (!tags.some(([t]) => t === DT_RUNPATH)) info.runpath = rpath;
  return info;
}

/** The NUL-terminated string at offset. */
function cString(buf: Buffer, offset: number): string {
  const end = buf.indexOf(0, offset);
  if (offset >= buf.length || end < 0) throw new RangeError(`string at offset ${offset} runs past the end of the file`);
  return buf.toString('utf8', offset, end);
}

/** An unpacked Debian package tree; together the roots stand for the image's file tree. */
export interface LibraryRoot {
  root: string;
}

/**
 * ld.so's system search path on Debian amd64 (`ld.so --help`). The image has no ld.so.cache, so a
 * library elsewhere (e.g. /lib64, which holds only the dynamic linker) would not be found at run time.
 */
const SYSTEM_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib'];

/**
 * The shared libraries and dynamic linkers the binaries need, transitively, found in the roots.
 * Each comes back as one regular file: symlinks (libmnl.so.0 → libmnl.so.0.2.0, /lib64/ld-linux… →
 * /lib/x86_64-linux-gnu/…) are resolved inside the roots, and the real file is placed at the path
 * the loader asks for (search dir + soname, or PT_INTERP). That keeps the image free of dangling
 * links and of host directory symlinks such as /lib → usr/lib. The binaries themselves are not in
 * the result; sorted by image path. Every soname no root provides is reported in one UserError.
 */
export async function libraryClosure(
  binaries: { path: string; file: string }[],
  roots: LibraryRoot[],
): Promise<{ path: string; file: string }[]> {
  const given = new Set(binaries.map((b) => b.path));
  const found = new Map<string, string>(); // image path → host file
  const seenFiles = new Set<string>();
  const missing: string[] = [];
  const queue = [...binaries];
  for (let item = queue.shift(); item; item = queue.shift()) {
    if (seenFiles.has(item.file)) continue;
    seenFiles.add(item.file);
    let info: ElfInfo | undefined;
    try {
      info = readElf(await readFile(item.file));
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`${item.path} (${item.file}): ${e.message}`);
      throw e;
    }
    if (!info) continue;

    const wants: { path: string; hit?: string }[] = [];
    if (info.interpreter) wants.push({ path: info.interpreter, hit: await resolveIn(roots, info.interpreter) });
    const origin = posix.dirname(item.path);
    const dirs = [...info.runpath.map((d) => d.replace(/\$(ORIGIN|\{ORIGIN\})/g, origin)), ...SYSTEM_DIRS];
    for (const soname of info.needed) {
      const hit = await findLibrary(roots, dirs, soname);
      if (hit) wants.push(hit);
      else missing.push(`${item.path} needs ${soname}`);
    }
    for (const want of wants) {
      if (!want.hit) {
        missing.push(`${item.path} needs its dynamic linker ${want.path}`);
        continue;
      }
      if (given.has(want.path) || found.has(want.path)) continue;
      found.set(want.path, want.hit);
      queue.push({ path: want.path, file: want.hit });
    }
  }
  if (missing.length) {
    const searched = roots.map((r) => r.root).join(', ') || '(no roots)';
    throw new UserError(
      `shared libraries not found in any package tree:\n  ${missing.join('\n  ')}\n` +
        `searched ${SYSTEM_DIRS.join(', ')} (and each binary's RUNPATH) under: ${searched}\n` +
        `add the Debian packages that ship them to the recipe's packages`,
    );
  }
  return [...found].map(([path, file]) => ({ path, file })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The first dir (in loader order) holding soname in any root, as { image path, real host file }. */
async function findLibrary(roots: LibraryRoot[], dirs: string[], soname: string): Promise<{ path: string; hit: string } | undefined> {
  for (const dir of dirs) {
    const path = posix.join(dir, soname);
    const hit = await resolveIn(roots, path);
    if (hit) return { path, hit };
  }
  return undefined;
}

/**
 * The host file an image path names when the roots are laid over each other (earlier roots win),
 * following symlinks as the image would: absolute targets start again at the image's root, and ".."
 * never leaves it. Undefined when the path is missing, dangling, loops, or is not a regular file.
 */
async function resolveIn(roots: LibraryRoot[], imagePath: string): Promise<string | undefined> {
  let todo = imagePath.split('/').filter(Boolean);
  let done: string[] = [];
  for (let hops = 0; todo.length > 0; ) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      done.pop();
      continue;
    }
    const rel = [...done, name].join('/');
    const layer = await firstExisting(roots, rel);
    if (!layer) return undefined;
    if (layer.isLink) {
      if (++hops > 40) return undefined; // ELOOP, as the kernel would say
      const target = await readlink(posix.join(layer.root, rel));
      if (target.startsWith('/')) done = [];
      todo = [...target.split('/').filter(Boolean), ...todo];
      continue;
    }
    if (todo.length === 0) return layer.isFile ? posix.join(layer.root, rel) : undefined;
    done.push(name);
  }
  return undefined;
}

/** The first root in which rel exists (without following a final symlink), and what it is there. */
async function firstExisting(roots: LibraryRoot[], rel: string) {
  for (const { root } of roots) {
    const st = await lstat(posix.join(root, rel)).catch(() => undefined);
    if (st) return { root, isLink: st.isSymbolicLink(), isFile: st.isFile() };
  }
  return undefined;
}
