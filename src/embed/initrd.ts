// Settings in a PXE initrd: one more newc archive appended to it, holding /etc/picowire/<setting>.
// The kernel unpacks concatenated archives in order, so these files replace the image's own (the
// baked profile.json). The archive records the initrd it was appended to, so embedding again
// replaces it instead of stacking another, and the original can be checked and given back.
import { UserError } from '../common/errors.ts';
import { cpioArchive, readCpio, type CpioEntry } from '../builder/cpio.ts';
import type { Entry } from '../builder/types.ts';
import { sha256 } from './hash.ts';
import type { Setting } from './settings.ts';

/** Where the settings go in the image (the agent reads its baked settings there). */
export const SETTINGS_DIR = '/etc/picowire';
/** The record of an embedding, inside the appended archive. */
const RECORD = `${SETTINGS_DIR}/embedded.json`;
const RECORD_NAME = Buffer.from(`${RECORD.slice(1)}\0`);
/** How far from the end the appended archive is looked for: settings are small. */
const TAIL = 4 * 2 ** 20;

interface Record {
  /** the initrd before anything was appended */
  base: { bytes: number; sha256: string };
  files: string[];
}

/** The initrd as built, and the settings appended to it (none when nothing was). */
export function splitInitrd(initrd: Buffer, name: string): { base: Buffer; settings: CpioEntry[] } {
  // the record is the archive's last entry: read from its own header (110 bytes before its name) it
  // says where the initrd as built ends, and so where the appended archive starts
  const at = initrd.lastIndexOf(RECORD_NAME);
  const tail = at >= 110 && initrd.length - at < TAIL ? readCpio(initrd, at - 110) : undefined;
  if (!tail || tail.end !== initrd.length || tail.entries[0]?.path !== RECORD.slice(1)) return { base: initrd, settings: [] };
  const { base } = JSON.parse(tail.entries[0].data.toString('utf8')) as Record;
  const start = Math.ceil(base.bytes / 4) * 4;
  const archive = start < at ? readCpio(initrd, start) : undefined;
  const original = initrd.subarray(0, base.bytes);
  if (!archive || archive.end !== initrd.length || sha256(original) !== base.sha256) {
    throw new UserError(`${name}: the settings appended to this initrd do not match the initrd before them (changed after embedding?); embed into a fresh copy of the built initrd.img`);
  }
  const inDir = (e: CpioEntry) => e.path.startsWith(SETTINGS_DIR.slice(1) + '/') && e.path !== RECORD.slice(1) && (e.mode & 0o170000) === 0o100000;
  return { base: original, settings: archive.entries.filter(inDir) };
}

/** The initrd with these settings appended (replacing any appended before), the record included. */
export async function appendSettings(base: Buffer, settings: Setting[], epoch: number): Promise<Buffer> {
  const record: Record = { base: { bytes: base.length, sha256: sha256(base) }, files: settings.map((s) => s.name).sort() };
  const entries: Entry[] = [
    ...settings.map((s): Entry => ({ type: 'file', path: `${SETTINGS_DIR}/${s.name}`, mode: s.name === 'token' || s.name === 'tls_key' ? 0o600 : 0o644, data: s.data })),
    { type: 'file', path: RECORD, mode: 0o644, data: Buffer.from(JSON.stringify(record, null, 2) + '\n') },
  ];
  const chunks: Buffer[] = [base, Buffer.alloc((4 - (base.length % 4)) % 4)]; // the kernel reads an archive only at a multiple of 4
  for await (const chunk of cpioArchive(entries, { epoch })) chunks.push(chunk);
  return Buffer.concat(chunks);
}
