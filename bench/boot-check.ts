// A quick look at the boot budget (agent ready at ≤ 6 s of kernel uptime) in the main boot modes,
// N boots each, without the whole of `make bench`: for checking a change before the full run.
//   npx tsx bench/boot-check.ts [boots per mode, default 2]
import { join, resolve } from 'node:path';
import type { BootMode } from '../src/lab/qemu.ts';
import { timeBoot } from './boot.ts';

const IMAGES = join(resolve(import.meta.dirname, '..'), process.env.PICOWIRE_IMAGES ?? 'images');
const BOOTS = Number(process.argv[2] ?? 2);
const CASES: [string, BootMode][] = [
  ['default-pxe', 'direct'],
  ['default.iso', 'bios-usb'],
  ['default.iso', 'uefi-usb'],
  ['default.iso', 'bios-cd'],
  ['default.iso', 'uefi-cd'],
  ['default.img', 'bios-disk'],
];

for (const [image, mode] of CASES) {
  const runs = [];
  for (let i = 0; i < BOOTS; i++) runs.push(await timeBoot(join(IMAGES, image), mode));
  const ready = runs.map((r) => r.uptimeS.toFixed(2)).join(', ');
  console.log(`${image} ${mode}: agent ready at ${ready} s of uptime (target <= 6); applied at ${runs.map((r) => r.wallS.toFixed(1)).join(', ')} s after QEMU started`);
}
