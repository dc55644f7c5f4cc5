// Where a profile comes from, in order; the first source that has one wins:
//   1. the kernel command line, picowire.profile=<base64 JSON>   (a boot loader entry, PXE)
//   2. QEMU fw_cfg, opt/picowire/profile.json                    (-fw_cfg name=...,file=...)
//   3. profile.json on the FAT partition labelled PICOWIRE       (edited from any laptop)
//   4. /etc/picowire/profile.json, baked into the image
// A source that has a profile which does not parse is still the winner: the user meant it, so it
// is rejected with the reason rather than silently replaced by the next one.
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { firstLines, type Runner } from './exec.ts';
import { awaitConfigPartition, bootedFromMedium, configPartitionOnDisc } from './media.ts';
import { BIN, CONFIG_LABEL, FILES } from './paths.ts';

export type Found = { source: string; value: unknown } | { source: string; error: string };

export interface Context {
  /** "/" in the image; a temp dir standing in for /proc, /sys, /etc and /run in tests */
  root: string;
  run: Runner;
  /** warnings about sources that could not be read (not about the profile) */
  warn: (line: string) => void;
  /** how long a boot from a medium waits for its PICOWIRE partition (media.ts; tests shorten it) */
  mediaWaitMs?: number;
}

const ARG = 'picowire.profile=';

/** The profile of the first source that has one, or an error saying where it looked. */
export async function findProfile(ctx: Context): Promise<Found> {
  const sources = [fromCmdline, fromFwCfg, fromConfigPartition, fromBaked];
  for (const source of sources) {
    // a stick the image booted from may not be there yet (media.ts)
    if (source === fromConfigPartition && (await bootedFromMedium(ctx.root))) await awaitConfigPartition(ctx, ctx.mediaWaitMs);
    const found = await source(ctx);
    if (found) return found;
  }
  return { source: 'nowhere', error: `no profile found: looked at the kernel command line (${ARG}), fw_cfg opt/picowire/profile.json, a FAT partition labelled ${CONFIG_LABEL} and /${FILES.baked}` };
}

/** `picowire.profile=<base64 JSON>` on the kernel command line (plain JSON without spaces works too). */
async function fromCmdline(ctx: Context): Promise<Found | undefined> {
  const cmdline = await readText(join(ctx.root, FILES.cmdline));
  const arg = cmdline?.split(/\s+/).find((word) => word.startsWith(ARG));
  if (arg === undefined) return undefined;
  const source = `kernel command line (${ARG})`;
  const raw = arg.slice(ARG.length).replace(/^"|"$/g, '');
  if (raw.startsWith('{')) return parse(source, raw);
  // Buffer skips characters that are not base64, so check the text first to name the problem
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(raw) || raw === '') {
    return { source, error: `${source}: ${JSON.stringify(raw.slice(0, 20))}… is not base64; encode the profile with \`base64 -w0 profile.json\`` };
  }
  return parse(source, Buffer.from(raw, 'base64').toString('utf8'));
}

/** QEMU's fw_cfg file, present when QEMU ran with `-fw_cfg name=opt/picowire/profile.json,file=...`. */
async function fromFwCfg(ctx: Context): Promise<Found | undefined> {
  const text = await readText(join(ctx.root, FILES.fwCfg));
  return text === undefined ? undefined : parse('QEMU fw_cfg opt/picowire/profile.json', text);
}

/** profile.json on the PICOWIRE partition. */
export async function fromConfigPartition(ctx: Context): Promise<Found | undefined> {
  const file = await readConfigFile(ctx, 'profile.json');
  return file && parse(`profile.json on the ${CONFIG_LABEL} partition (${file.device})`, file.text);
}

/** A file at the root of the PICOWIRE partition, with the partition's device; undefined when there is no partition or no such file. */
export async function readConfigFile(ctx: Context, name: string): Promise<{ text: string; device: string } | undefined> {
  return onConfigPartition(ctx, 'ro', async (dir, device) => {
    const text = await readText(join(dir, name));
    return text === undefined ? undefined : { text, device };
  });
}

// one mount of the partition at a time: the boot, the watch and the token may each want it
let partitionQueue: Promise<unknown> = Promise.resolve();

/**
 * Runs `use` with the PICOWIRE partition mounted (read-only, or read-write just as long as `use`
 * takes), then unmounts it; undefined when there is none or it cannot be mounted (a warning says
 * why). iocharset=utf8: Debian's default, ascii, is a module the image need not carry.
 */
export function onConfigPartition<T>(ctx: Context, mode: 'ro' | 'rw', use: (dir: string, device: string) => Promise<T | undefined>): Promise<T | undefined> {
  const work = partitionQueue.then(async () => {
    const findfs = await ctx.run(BIN.busybox, ['findfs', `LABEL=${CONFIG_LABEL}`]);
    // no partition the kernel shows: booted from a CD, it is on the disc all the same (media.ts), read-only
    const disc = findfs.code === 0 && findfs.stdout.trim() ? undefined : mode === 'ro' ? await configPartitionOnDisc(ctx.root, true) : undefined;
    const device = disc?.device ?? findfs.stdout.trim();
    if (!disc && (findfs.code !== 0 || !device)) return undefined;
    const dir = join(ctx.root, FILES.configMount);
    await mkdir(dir, { recursive: true });
    const options = [mode, 'nodev', 'nosuid', 'noexec', 'iocharset=utf8', ...(disc ? ['loop'] : [])].join(',');
    const mount = await ctx.run(BIN.busybox, ['mount', '-t', 'vfat', '-o', options, disc?.image ?? device, dir]);
    if (mount.code !== 0) {
      ctx.warn(`cannot mount the ${CONFIG_LABEL} partition ${device}${mode === 'rw' ? ' for writing' : ''}: ${firstLines(mount.stderr)}`);
      return undefined;
    }
    try {
      return await use(dir, device);
    } finally {
      const umount = await ctx.run(BIN.busybox, ['umount', '-d', dir]); // -d: frees the loop device of a disc's copy
      if (umount.code !== 0) ctx.warn(`cannot unmount ${dir}: ${firstLines(umount.stderr)}`);
    }
  });
  partitionQueue = work.catch(() => undefined);
  return work;
}

/** The profile baked into the image by its recipe. */
async function fromBaked(ctx: Context): Promise<Found | undefined> {
  const text = await readText(join(ctx.root, FILES.baked));
  return text === undefined ? undefined : parse(`/${FILES.baked}`, text);
}

/** JSON text as a value, or an error naming the source and where the JSON broke. */
function parse(source: string, text: string): Found {
  try {
    return { source, value: JSON.parse(text) };
  } catch (e) {
    return { source, error: `${source}: not valid JSON: ${(e as Error).message}` };
  }
}

/** A file's text, or undefined when it does not exist (or is not readable: fw_cfg files may be root-only). */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
