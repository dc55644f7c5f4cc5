// The PICOWIRE config partition: a small FAT filesystem with profile.json that anyone can edit from
// any laptop after writing the image to a USB stick. The agent reads it at boot by its label.
import { join } from 'node:path';
import type { OutputContext } from '../builder/types.ts';
import { makeFat } from './fat.ts';
import { stableSerial } from './ids.ts';

/** The volume label the agent looks for. No other filesystem of an image carries it. */
export const CONFIG_LABEL = 'PICOWIRE';
/** 256 KiB: a profile with a 1000-sample empirical delay table is 34 KB as compact JSON, 84 KB indented, and every KiB here is a KiB of the ISO. */
export const CONFIG_SIZE_KIB = 256;

/** What README.txt on the partition says. */
function readme(name: string): string {
  return [
    `picowire ${name}: configuration`,
    '',
    'profile.json is the emulation profile this appliance applies when it boots:',
    'the pipes (bandwidth, delay, loss, queues) and the rules that send traffic into them.',
    '',
    'To change it: open profile.json with any text editor, save it, eject the stick',
    'safely, and boot the appliance from it again. A profile with mistakes is refused',
    'as a whole: the console lists every mistake and the previous profile stays in force.',
    '',
    'On a CD, this partition is read from the disc as it was written (picowire embed puts',
    'settings into the ISO before it is burned).',
    '',
  ].join('\r\n'); // CRLF: Notepad on older Windows shows a bare LF file as one line
}

/** Writes the config partition image with the recipe's default profile; returns its path. */
export async function makeConfigPartition(ctx: OutputContext, out: string, output: string): Promise<string> {
  const profile = ctx.profileJson.endsWith('\n') ? ctx.profileJson : ctx.profileJson + '\n';
  await makeFat({
    out,
    label: CONFIG_LABEL,
    serial: stableSerial(ctx, 'config'),
    sizeKiB: CONFIG_SIZE_KIB,
    files: [
      { path: '/profile.json', data: profile },
      { path: '/README.txt', data: readme(ctx.name) },
    ],
    workDir: join(ctx.workDir, 'config'),
    epoch: ctx.epoch,
    output,
  });
  return out;
}
