// Every identifier an output carries (GPT disk and partition GUIDs, FAT serials, ISO volume id, the
// marker GRUB looks for) is derived from the recipe name and the epoch, never drawn at random, so two
// builds of one recipe at one epoch are byte-identical.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { BootArtifacts, OutputContext } from '../builder/types.ts';

type Seed = Pick<OutputContext, 'name' | 'epoch'>;

/** 32 bytes that depend only on the recipe name, the epoch and what the id is for. */
function digest(seed: Seed, role: string): Buffer {
  return createHash('sha256').update(`picowire\0${seed.name}\0${seed.epoch}\0${role}`).digest();
}

/** A GUID for one role (e.g. "disk", "esp"), formatted 8-4-4-4-12, with RFC 4122 version 4 and variant bits. */
export function stableGuid(seed: Seed, role: string): string {
  const b = digest(seed, `guid:${role}`).subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A FAT volume serial (8 hex digits, as mkfs.fat -i takes it) for one role. */
export function stableSerial(seed: Seed, role: string): string {
  return digest(seed, `serial:${role}`).subarray(0, 4).toString('hex');
}

/** The ISO 9660 volume id: PICOWIRE_<NAME> in the d-characters ISO 9660 allows, at most 32. */
export function isoVolumeId(name: string): string {
  return `PICOWIRE_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`.slice(0, 32);
}

/** ECMA-119 timestamp (YYYYMMDDhhmmsscc, UTC) of an epoch, as xorriso's --modification-date takes it. */
export function isoTimestamp(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + '00';
}

/** Hashes a file's content. */
async function hashFile(path: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * The path of the empty file that marks one output's boot media, e.g. /picowire/default-iso-1a2b3c4d5e6f.
 * GRUB searches every disk for it; the hash of kernel, initrd and command line means another picowire
 * stick or disk in the same machine (an older build) is never taken for this one.
 */
export async function bootMarker(boot: BootArtifacts, ctx: Seed, format: string): Promise<string> {
  const hash = createHash('sha256').update(`${ctx.name}\0${ctx.epoch}\0${format}\0${boot.cmdline}\0`);
  await hashFile(boot.kernel, hash);
  await hashFile(boot.initrd, hash);
  return `/picowire/${ctx.name}-${format}-${hash.digest('hex').slice(0, 12)}`;
}
