// The initramfs format: a newc ("070701") cpio archive written straight from image entries, so no
// file tree, root or fakeroot is needed. Same entries and epoch in, same bytes out.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Entry } from './types.ts';

const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000, S_IFCHR = 0o020000;
const MAX_U32 = 0xffffffff;

/**
 * Streams entries as a newc cpio: sorted by path (parents first), missing parent directories added
 * with mode 0755, owner 0:0, mtime = epoch, inodes numbered in that order, paths without the
 * leading "/" as the kernel's unpacker expects. Two entries at one path are an error: the caller
 * decides which one wins before calling.
 */
export async function* cpioArchive(entries: Entry[], opts: { epoch: number }): AsyncGenerator<Buffer> {
  if (!Number.isInteger(opts.epoch) || opts.epoch < 0 || opts.epoch > MAX_U32) {
    throw new Error(`cpio mtime must be a whole number of seconds from 0 to ${MAX_U32} (SOURCE_DATE_EPOCH), got ${opts.epoch}`);
  }
  let ino = 0;
  for (const e of withParents(entries)) {
    ino += 1;
    const fields = { ino, mtime: opts.epoch, nlink: 1, size: 0, rdevmajor: 0, rdevminor: 0, mode: 0 };
    if (e.type === 'dir') {
      yield header(e.path, { ...fields, mode: S_IFDIR | (e.mode & 0o7777), nlink: 2 });
    } else if (e.type === 'symlink') {
      const target = Buffer.from(e.target);
      yield header(e.path, { ...fields, mode: S_IFLNK | 0o777, size: target.length });
      yield padded(target);
    } else if (e.type === 'chardev') {
      yield header(e.path, { ...fields, mode: S_IFCHR | (e.mode & 0o7777), rdevmajor: e.major, rdevminor: e.minor });
    } else if ('data' in e) {
      yield header(e.path, { ...fields, mode: S_IFREG | (e.mode & 0o7777), size: e.data.length });
      yield padded(e.data);
    } else {
      const { size } = await stat(e.source);
      if (size > MAX_U32) throw new Error(`${e.source} (${e.path}) is ${size} bytes; a newc cpio holds at most ${MAX_U32} per file`);
      yield header(e.path, { ...fields, mode: S_IFREG | (e.mode & 0o7777), size });
      yield* fileContent(e.source, size);
    }
  }
  yield header('TRAILER!!!', { ino: 0, mtime: 0, nlink: 1, size: 0, rdevmajor: 0, rdevminor: 0, mode: 0 });
}

/** Entries with archive paths ("bin/busybox"), missing parent dirs added, sorted so parents come first. */
function withParents(entries: Entry[]): Entry[] {
  const byPath = new Map<string, Entry>();
  for (const e of entries) {
    const path = archivePath(e.path);
    if (byPath.has(path)) throw new Error(`two image entries at /${path} (${byPath.get(path)!.type} and ${e.type}); keep one before writing the cpio`);
    byPath.set(path, { ...e, path });
  }
  for (const path of [...byPath.keys()]) {
    for (let dir = posix.dirname(path); dir !== '.'; dir = posix.dirname(dir)) {
      const parent = byPath.get(dir);
      if (!parent) byPath.set(dir, { type: 'dir', path: dir, mode: 0o755 });
      else if (parent.type !== 'dir') throw new Error(`/${path} is inside /${dir}, which is a ${parent.type}, not a directory`);
    }
  }
  // plain code-unit order puts "a" before "a/b": a prefix sorts first, so parents precede children
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** "/usr/bin/x" → "usr/bin/x"; rejects paths that are empty, the root itself, or climb with "..". */
function archivePath(path: string): string {
  const rel = posix.normalize(path).replace(/^\/+/, '').replace(/\/+$/, '');
  if (rel === '' || rel === '.' || path.split('/').includes('..')) {
    throw new Error(`image path "${path}" is not a path below the root (like /usr/bin/node)`);
  }
  return rel;
}

/** One newc header plus the NUL-terminated name, padded to a multiple of 4 bytes. */
function header(name: string, f: { ino: number; mode: number; nlink: number; mtime: number; size: number; rdevmajor: number; rdevminor: number }): Buffer {
  const nameBytes = Buffer.from(name + '\0');
  // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
  const values = [f.ino, f.mode, 0, 0, f.nlink, f.mtime, f.size, 0, 0, f.rdevmajor, f.rdevminor, nameBytes.length, 0];
  const hex = values.map((v) => v.toString(16).padStart(8, '0')).join('');
  return padded(Buffer.concat([Buffer.from('070701' + hex, 'ascii'), nameBytes]));
}

/** buf followed by the NULs that bring it to a multiple of 4 bytes (header and data are aligned apart). */
function padded(buf: Buffer): Buffer {
  const pad = (4 - (buf.length % 4)) % 4;
  return pad ? Buffer.concat([buf, Buffer.alloc(pad)]) : buf;
}

/** A host file's bytes, checked against the size already written in its header, then padding. */
async function* fileContent(source: string, size: number): AsyncGenerator<Buffer> {
  let read = 0;
  for await (const chunk of createReadStream(source) as AsyncIterable<Buffer>) {
    read += chunk.length;
    if (read > size) break;
    yield chunk;
  }
  if (read !== size) throw new Error(`${source} changed size while being archived (expected ${size} bytes, read ${read})`);
  const pad = (4 - (size % 4)) % 4;
  if (pad) yield Buffer.alloc(pad);
}

/** One entry read back from a newc archive. */
export interface CpioEntry {
  path: string;
  mode: number;
  data: Buffer;
}

/**
 * Reads a whole uncompressed newc archive (as cpioArchive writes one), up to its trailer; returns its
 * entries and where the trailer ends, or undefined where `buf` at `start` is not such an archive.
 */
export function readCpio(buf: Buffer, start = 0): { entries: CpioEntry[]; end: number } | undefined {
  const entries: CpioEntry[] = [];
  const align = (n: number) => start + Math.ceil((n - start) / 4) * 4;
  for (let at = start; at + 110 <= buf.length; ) {
    if (buf.toString('latin1', at, at + 6) !== '070701') return undefined;
    const field = (i: number) => Number.parseInt(buf.toString('latin1', at + 6 + i * 8, at + 14 + i * 8), 16);
    const mode = field(1), size = field(6), nameSize = field(11);
    if (![mode, size, nameSize].every(Number.isFinite) || nameSize < 1) return undefined;
    const path = buf.toString('utf8', at + 110, at + 110 + nameSize - 1);
    const dataAt = align(at + 110 + nameSize);
    if (dataAt + size > buf.length) return undefined;
    if (path === 'TRAILER!!!') return { entries, end: dataAt };
    entries.push({ path, mode, data: buf.subarray(dataAt, dataAt + size) });
    at = align(dataAt + size);
  }
  return undefined;
}
