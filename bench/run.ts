// `make bench`: cold and warm build time, output sizes, and boot time in every mode, written to
// bench/results.json and as a table into README.md. Also the initramfs compression trade-off
// (image size against unpack time at boot). Figures carry the machine they came from.
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, type BuildOptions } from '../src/builder/build.ts';
import { bootClaims } from '../src/lab/claims.ts';
import type { BootMode } from '../src/lab/qemu.ts';
import { median } from '../src/lab/stats.ts';
import { bootTimeline, round, timeBoot, type BootTime } from './boot.ts';
import { writeReadmeBlock } from './readme.ts';

const REPO = resolve(import.meta.dirname, '..');
// boots per mode: one boot in several lands in a busy stretch of this shared machine (0.5-1 s late); the median of three outvotes it
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const epoch = 1_700_000_000;

/** Builds a variant of the default recipe into its own folder; returns the seconds it took. */
async function buildVariant(dir: string, name: string, override: Record<string, unknown>, opts: Omit<BuildOptions, 'outDir'>): Promise<number> {
  const recipe = join(dir, `${name}.ts`);
  await writeFile(recipe, `import base from '${join(REPO, 'recipes/default.ts')}';\nexport default { ...base, name: '${name}', ...${JSON.stringify(override)} };\n`);
  await copyFile(join(REPO, 'recipes/default.lock.json'), join(dir, `${name}.lock.json`)); // same pins
  const started = performance.now();
  await build(recipe, { ...opts, outDir: join(dir, 'images') });
  return (performance.now() - started) / 1000;
}

const mb = (bytes: number) => round(bytes / 1e6, 1);

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'picowire-bench-'));
  const cache = join(work, 'cache');
  const base = { cacheDir: cache, epoch, repoDir: REPO, installTools: false, version: 'bench' };
  try {
    console.log('== cold build (empty cache: downloads, unpacking, compression)');
    const coldS = await buildVariant(work, 'bench', {}, base);
    console.log('== warm build (everything cached)');
    const warmS = await buildVariant(work, 'bench', {}, base);
    const images = join(work, 'images');
    const manifest = JSON.parse(await readFile(join(images, 'bench.manifest.json'), 'utf8')) as { initramfs: { name: string; bytes: number }[] };
    const sizes: Record<string, number> = {};
    for (const f of ['bench.iso', 'bench.img', 'bench.qcow2', 'bench-pxe/initrd.img', 'bench-pxe/vmlinuz']) sizes[f.replace('bench', 'default')] = mb((await stat(join(images, f))).size);

    const boots: { output: string; mode: BootMode; wallS: number; uptimeS: number; unpackS: number }[] = [];
    const timelines: BootTime[] = [];
    for (const [file, modes] of bootClaims('bench')) {
      for (const mode of modes) {
        const runs: BootTime[] = [];
        for (let i = 0; i < REPEAT; i++) runs.push(await timeBoot(join(images, file), mode));
        timelines.push(...runs);
        const row = { output: file.replace('bench', 'default'), mode, wallS: round(median(runs.map((r) => r.wallS))), uptimeS: round(median(runs.map((r) => r.uptimeS))), unpackS: round(median(runs.map((r) => r.unpackS))) };
        console.log(`   ${row.output} ${mode}: applied at ${row.wallS} s wall, agent ready at ${row.uptimeS} s uptime`);
        boots.push(row);
      }
    }

    console.log('== initramfs compression: size against unpack time');
    const compression = [];
    for (const c of ['xz', 'zstd', 'gzip'] as const) {
      const dir = join(work, c);
      await mkdir(dir);
      await buildVariant(dir, `bench-${c}`, { compression: c, outputs: ['iso', 'pxe'] }, base);
      const runs: BootTime[] = [];
      for (let i = 0; i < REPEAT; i++) runs.push(await timeBoot(join(dir, 'images', `bench-${c}-pxe`), 'direct'));
      const row = {
        compression: c,
        isoMB: mb((await stat(join(dir, 'images', `bench-${c}.iso`))).size),
        initrdMB: mb((await stat(join(dir, 'images', `bench-${c}-pxe/initrd.img`))).size),
        unpackS: round(median(runs.map((r) => r.unpackS))),
        uptimeS: round(median(runs.map((r) => r.uptimeS))),
      };
      console.log(`   ${c}: iso ${row.isoMB} MB, unpack ${row.unpackS} s, agent ready at ${row.uptimeS} s uptime`);
      compression.push(row);
    }

    const results = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, qemu: 'TCG (no KVM)', repeat: REPEAT },
      build: { coldS: round(coldS, 1), warmS: round(warmS, 1) },
      sizesMB: sizes,
      initramfsPartsMB: Object.fromEntries(manifest.initramfs.map((p) => [p.name, mb(p.bytes)])),
      boots,
      timeline: bootTimeline(timelines),
      compression,
    };
    await writeFile(join(REPO, 'bench/results.json'), JSON.stringify(results, null, 2) + '\n');
    await updateReadme(results);
    console.log('wrote bench/results.json and the table in README.md');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Replaces the table between the bench markers in README.md with these results. */
async function updateReadme(r: { date: string; machine: { cpus: number; model?: string }; build: { coldS: number; warmS: number }; sizesMB: Record<string, number>; boots: { output: string; mode: string; wallS: number; uptimeS: number }[]; timeline: Record<string, number>; compression: { compression: string; isoMB: number; initrdMB: number; unpackS: number; uptimeS: number }[] }): Promise<void> {
  const lines = [
    `Measured ${r.date.slice(0, 10)} on ${r.machine.cpus} cores (${r.machine.model}), QEMU under TCG; medians of ${REPEAT} runs.`,
    '',
    `| build | seconds | target |`,
    `| --- | --- | --- |`,
    `| cold (empty cache) | ${r.build.coldS} | |`,
    `| warm | ${r.build.warmS} | <= 20 |`,
    '',
    `| output | MB |`,
    `| --- | --- |`,
    ...Object.entries(r.sizesMB).map(([f, s]) => `| ${f} | ${s}${f.endsWith('.iso') ? ' (target <= 40)' : ''} |`),
    '',
    `| output | boot mode | QEMU start to applied line (s) | kernel uptime at agent ready (s), target <= 6 |`,
    `| --- | --- | --- | --- |`,
    ...r.boots.map((b) => `| ${b.output} | ${b.mode} | ${b.wallS} | ${b.uptimeS} |`),
    '',
    `| where the uptime at agent ready goes (medians over all boots) | s |`,
    `| --- | --- |`,
    ...Object.entries(r.timeline).map(([what, s]) => `| ${what} | ${s} |`),
    '',
    `| initramfs compression | ISO MB | initrd MB | unpack at boot (s) | agent ready (s uptime) |`,
    `| --- | --- | --- | --- | --- |`,
    ...r.compression.map((c) => `| ${c.compression} | ${c.isoMB} | ${c.initrdMB} | ${c.unpackS} | ${c.uptimeS} |`),
  ];
  await writeReadmeBlock(join(REPO, 'README.md'), 'bench', lines);
}

await main();
