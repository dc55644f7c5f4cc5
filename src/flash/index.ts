// `picowire flash IMAGE DEVICE`: writes an ISO or raw disk image to a USB stick or SD card, after
// refusing every device that could hold someone's data (see device.ts), showing the device and
// asking; then reads it back and compares. Settings can be embedded on the way (a copy is flashed).
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { mb } from '../builder/fetch/progress.ts';
import { embed, imageKind } from '../embed/index.ts';
import type { Setting } from '../embed/settings.ts';
import { context, describe, inspect, refusals } from './device.ts';
import { verifyImage, writeImage } from './write.ts';

export interface FlashOptions {
  /** write without asking (scripts) */
  yes: boolean;
  /** settings to embed into a copy of the image first */
  settings: Setting[];
  log: (line: string) => void;
  /** asks the user; by default on the terminal */
  confirm?: (question: string) => Promise<boolean>;
}

/** Asks on the terminal; refuses when there is none to ask on. */
async function askOnTerminal(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UserError(`${question.split('\n')[0]}\nnot asked: standard input is not a terminal; give --yes to write without asking`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Flashes `image` onto `device`; returns the lines that say what was done. */
export async function flash(image: string, device: string, opts: FlashOptions): Promise<void> {
  if (process.platform !== 'linux') {
    throw new UserError(`picowire flash writes disks on Linux only; on ${process.platform}, write ${basename(image)} with balenaEtcher or Raspberry Pi Imager (any image, "use custom"), or with dd to the raw disk (macOS: /dev/rdiskN after diskutil unmountDisk), then \`picowire embed --show\` to check it`);
  }
  const kind = await imageKind(image);
  if (kind !== 'iso' && kind !== 'img') {
    throw new UserError(`${image} is a ${kind === 'qcow2' ? 'qcow2 (a VM disk)' : 'PXE boot file set'}; flash the .iso or the .img to a stick`);
  }
  const scratch = opts.settings.length ? await mkdtemp(join(tmpdir(), 'picowire-flash-')) : undefined;
  try {
    let source = image;
    if (scratch) {
      source = join(scratch, basename(image));
      await embed(image, opts.settings, { out: source, log: opts.log });
    }
    const bytes = (await stat(source)).size;
    const dev = await inspect(device);
    const why = refusals(dev, await context(dev), bytes);
    if (why.length) throw new UserError(`not writing ${device}:\n${why.map((w) => `  ${w}`).join('\n')}`);
    const question = `${describe(dev)}\nwrite ${basename(image)} (${mb(bytes)}) to it? Everything on ${dev.path} is lost.`;
    if (!opts.yes) {
      if (!(await (opts.confirm ?? askOnTerminal)(question))) throw new UserError(`not writing ${device}: not confirmed`);
    } else opts.log(`${describe(dev)}: writing ${basename(image)} (${mb(bytes)})`);
    opts.log(await writeImage(source, dev.path, opts.log));
    opts.log(await verifyImage(source, dev.path, opts.log));
    opts.log(`${dev.path} holds ${basename(image)}${opts.settings.length ? ` with ${opts.settings.map((s) => s.name).join(', ')}` : ''}; eject it before you pull it out`);
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
