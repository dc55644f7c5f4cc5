// Kernel parameters against each other on the boot: boots images/default-pxe directly with each set
// of extra parameters in turn (A, B, A, B, ... so a noisy stretch of the machine hits both), and
// prints each boot's timeline and the medians. How the boot parameters in src/outputs/cmdline.ts
// were chosen.
//   npx tsx bench/boot-ab.ts [--pairs 3] "" "initramfs_async=0"
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../src/lab/stats.ts';
import { bootTimeline, round, timeBoot, type BootTime } from './boot.ts';

const { values, positionals } = parseArgs({ options: { pairs: { type: 'string', default: '3' } }, allowPositionals: true });
const pairs = Number(values.pairs);
if (positionals.length < 2 || !Number.isInteger(pairs) || pairs < 1) {
  console.error('usage: boot-ab.ts [--pairs N] "PARAMS A" "PARAMS B" [...]  (each a kernel command line addition; "" for none)');
  process.exit(2);
}
const image = join(resolve(import.meta.dirname, '..'), process.env.PICOWIRE_IMAGES ?? 'images', 'default-pxe');
const runs = new Map<string, BootTime[]>(positionals.map((p) => [p, []]));
for (let i = 0; i < pairs; i++) {
  for (const params of positionals) {
    const t = await timeBoot(image, 'direct', params);
    runs.get(params)!.push(t);
    console.log(`[${JSON.stringify(params)}] /init ${round(t.initS)} s, node ${round(t.nodeS)} s, main() ${round(t.mainS)} s, agent ready ${round(t.uptimeS)} s of uptime`);
  }
}
for (const [params, r] of runs) {
  console.log(`${JSON.stringify(params)}: agent ready at ${round(median(r.map((x) => x.uptimeS)))} s of uptime (median of ${r.length}; ${r.map((x) => round(x.uptimeS)).join(", ")})`);
  console.log(`   ${Object.entries(bootTimeline(r)).map(([k, v]) => `${k} ${v} s`).join('; ')}`);
}
