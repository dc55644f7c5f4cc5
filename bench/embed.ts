// `make bench`, embed: how long `picowire embed` takes to put a profile, a token and a key into each
// output, as a user runs it (the command's whole wall time, node's start included), against a warm
// rebuild of the recipe with that profile baked in. Target: embed under 1 s. Written to
// bench/embed-results.json and as a table into README.md.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { build } from '../src/builder/build.ts';
import { median } from '../src/lab/stats.ts';
import { round } from './boot.ts';
import { writeReadmeBlock } from './readme.ts';

const REPO = resolve(import.meta.dirname, '..');
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const OUTPUTS = ['bench.iso', 'bench.img', 'bench.qcow2', 'bench-pxe'];
const PROFILE = { name: 'bench', pipes: { up: { bw: '4Mbit/s', delay: '20ms' } }, rules: [{ from: 'a', pipe: 'up' }] };
const KEY = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 1)]).toString('base64')} bench`;

/** Seconds `fn` takes. */
async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'picowire-bench-embed-'));
  try {
    const recipe = (profile: object) => `import base from '${join(REPO, 'recipes/default.ts')}';\nexport default { ...base, name: 'bench', profile: ${JSON.stringify(profile)} };\n`;
    await writeFile(join(work, 'bench.ts'), recipe({ name: 'passthrough', pipes: {}, rules: [] }));
    await copyFile(join(REPO, 'recipes/default.lock.json'), join(work, 'bench.lock.json'));
    const opts = { outDir: join(work, 'images'), cacheDir: process.env.PICOWIRE_CACHE ?? join(homedir(), '.cache/picowire'), epoch: 1_700_000_000, repoDir: REPO, installTools: false, version: 'bench' };
    console.log('== build once (warms the cache)');
    await build(join(work, 'bench.ts'), opts);

    await writeFile(join(work, 'profile.json'), JSON.stringify(PROFILE));
    await writeFile(join(work, 'keys'), KEY + '\n');
    const embed = [];
    for (const output of OUTPUTS) {
      const runs: number[] = [];
      for (let i = 0; i < REPEAT; i++) {
        const out = join(work, `embedded-${i}-${output}`);
        const args = ['embed', join(opts.outDir, output), '--profile', join(work, 'profile.json'), '--token', 'bench-token-0123456789', '--authorized-keys', join(work, 'keys'), '-o', out];
        runs.push(await seconds(() => execa('node', [join(REPO, 'bin/picowire.js'), ...args])));
        await rm(out, { recursive: true, force: true });
      }
      const row = { output: output.replace('bench', 'default'), seconds: round(median(runs)) };
      console.log(`   embed into ${row.output}: ${row.seconds} s (median of ${REPEAT})`);
      embed.push(row);
    }

    console.log('== rebuild with the profile baked in (warm cache, all outputs)');
    const rebuilds: number[] = [];
    for (let i = 0; i < 3; i++) {
      await writeFile(join(work, 'bench.ts'), recipe({ ...PROFILE, description: `rebuild ${i}` }));
      rebuilds.push(await seconds(() => build(join(work, 'bench.ts'), { ...opts, outDir: join(work, `rebuilt-${i}`) })));
    }
    const rebuildS = round(median(rebuilds));
    const results = { date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model }, repeat: REPEAT, embed, rebuildS };
    await writeFile(join(REPO, 'bench/embed-results.json'), JSON.stringify(results, null, 2) + '\n');
    await writeReadmeBlock(join(REPO, 'README.md'), 'embed', [
      `Measured ${results.date.slice(0, 10)} on ${results.machine.cpus} cores (${results.machine.model}) by \`npx tsx bench/embed.ts\`: the whole command, node's start included, medians of ${REPEAT}; a profile, a token and a key.`,
      '',
      '| embed into | seconds (target < 1) | against a warm rebuild of all outputs |',
      '| --- | --- | --- |',
      ...embed.map((e) => `| ${e.output} | ${e.seconds} | ${round(rebuildS / e.seconds, 1)}× faster |`),
      '',
      `A warm rebuild of the recipe with the profile baked in: ${rebuildS} s (median of 3).`,
    ]);
    console.log(`rebuild: ${rebuildS} s; wrote bench/embed-results.json and the table in README.md`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
