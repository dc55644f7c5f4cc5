// A quick look at the boot budget (agent ready at ≤ 6 s of kernel uptime) in the main boot modes,
// N boots each, without the whole of `make bench`: for checking a change before the full run.
//   npx tsx bench/boot-check.ts [boots per mode, default 2]
//   npx tsx bench/boot-check.ts --against OTHER/images [pairs, default 3]
// With --against, direct boots of OTHER's PXE image and this tree's alternate: whether a change made
// the boot slower, on one machine in one hour (figures from different days are not comparable).
import { join, resolve } from 'node:path';
import { median } from '../src/lab/stats.ts';
import type { BootMode } from '../src/lab/qemu.ts';
import { bootTimeline, timeBoot, type BootTime } from './boot.ts';

const IMAGES = join(resolve(import.meta.dirname, '..'), process.env.PICOWIRE_IMAGES ?? 'images');
const against = process.argv[2] === '--against' ? process.argv[3] : undefined;
const BOOTS = Number(process.argv[against ? 4 : 2] ?? (against ? 3 : 2));

if (against) {
  const sets = { [against]: [] as BootTime[], [IMAGES]: [] as BootTime[] };
  for (let i = 0; i < BOOTS; i++) for (const dir of Object.keys(sets)) sets[dir]!.push(await timeBoot(join(dir, 'default-pxe'), 'direct'));
  for (const [dir, runs] of Object.entries(sets)) {
    const ready = runs.map((r) => r.uptimeS);
    console.log(`${dir}: agent ready at a median ${median(ready).toFixed(2)} s of uptime (${ready.map((r) => r.toFixed(2)).join(', ')}), direct boots`);
    // by phase too: a change to one phase shows there even when the machine's noise hides it in the total
    console.log(`   ${Object.entries(bootTimeline(runs)).map(([k, v]) => `${k} ${v} s`).join('; ')}`);
  }
  process.exit(0);
}
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
