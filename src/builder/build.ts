// The build, top to bottom: this function is the pipeline's table of contents.
//   recipe ─► host tools ─► fetch ─► agent ─► web page ─► netmap, dummynet (if on) ─► root filesystem ─► initramfs ─► outputs ─► manifest
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUTPUTS } from '../outputs/index.ts';
import { bundleAgent } from './agent.ts';
import { fetchInputs } from './fetch/index.ts';
import { ensureHostTools } from './hosttools.ts';
import { writeInitramfs } from './initramfs.ts';
import { log, stage } from './log.ts';
import { writeManifest } from './manifest.ts';
import { kernelRelease } from './kmods.ts';
import { loadRecipe } from './load.ts';
import { buildDummynet } from './dummynet.ts';
import { buildNetmap } from './netmap.ts';
import { bundlePage } from './page.ts';
import { assembleRootfs } from './rootfs.ts';
import type { BootArtifacts, SourceBuild } from './types.ts';
import { BOOT_PARAMS } from '../outputs/cmdline.ts';

export interface BuildOptions {
  /** where images go (images/) */
  outDir: string;
  /** the content-addressed download and part cache */
  cacheDir: string;
  /** SOURCE_DATE_EPOCH: every timestamp in the outputs */
  epoch: number;
  /** the repository root, for overlays */
  repoDir: string;
  /** install missing host tools with apt (as root) */
  installTools: boolean;
  version: string;
}

/** Builds every output the recipe asks for; returns the paths written. */
export async function build(recipePath: string, opts: BuildOptions): Promise<string[]> {
  const started = performance.now();
  const { recipe, lockFile } = await stage('check recipe', () => loadRecipe(recipePath));
  await stage('check host tools', () => ensureHostTools(['build'], { install: opts.installTools, log: log.info }));
  const fetched = await stage('fetch inputs', () => fetchInputs(recipe, { cacheDir: opts.cacheDir, lockFile, log }));
  const nodeMajor = Number(fetched.node.input.version.split('.')[0]);
  const bundle = await stage('bundle agent', () => bundleAgent({ nodeMajor }));
  const page = await stage('bundle web page', () => bundlePage());
  const built: SourceBuild[] = [];
  if (recipe.features.includes('netmap')) {
    const release = await kernelRelease(fetched.kernel.root);
    built.push(await stage('build netmap', () => buildNetmap(fetched, { cacheDir: opts.cacheDir, kernelRelease: release, drivers: recipe.features.includes('netmap-drivers'), log })));
    if (recipe.features.includes('dummynet')) built.push(await stage('build dummynet', () => buildDummynet(fetched, { cacheDir: opts.cacheDir, kernelRelease: release, log })));
  }
  const buildId = `${recipe.name}-${opts.epoch}`;
  const rootfs = await stage('assemble root filesystem', () =>
    assembleRootfs(recipe, fetched, { bundle, built }, { overlaysDir: join(opts.repoDir, 'overlays/rootfs'), version: opts.version, buildId, epoch: opts.epoch, cacheDir: opts.cacheDir }),
  );

  await mkdir(opts.outDir, { recursive: true });
  const workDir = await mkdtemp(join(tmpdir(), `picowire-${recipe.name}-`));
  try {
    const initrd = join(workDir, 'initrd.img');
    const parts = await stage('write initramfs', () =>
      writeInitramfs(
        [
          // the uncompressed part goes first: after a zstd archive the kernel (6.1) did not find the
          // start of a plain cpio ("invalid magic at start of compressed archive"); xz did not mind
          { name: 'node', entries: rootfs.node, compressed: false, epoch: 0 },
          { name: 'modules', entries: rootfs.modules, epoch: 0 },
          { name: 'base', entries: [...rootfs.base, ...page] },
        ],
        { compression: recipe.compression, epoch: opts.epoch, cacheDir: opts.cacheDir, out: initrd, log: log.info },
      ),
    );
    const boot: BootArtifacts = {
      kernel: rootfs.kernel,
      initrd,
      // each output puts the consoles in front (kernelCmdline), as the boot loader it writes needs
      cmdline: [BOOT_PARAMS, recipe.cmdline].filter(Boolean).join(' '),
    };
    const profileJson = JSON.stringify(recipe.profile, null, 2) + '\n';
    const written: string[] = [];
    for (const format of recipe.outputs) {
      const outWork = join(workDir, format);
      await mkdir(outWork);
      written.push(
        ...(await stage(`write ${format}`, () =>
          OUTPUTS[format](boot, { name: recipe.name, outDir: opts.outDir, workDir: outWork, epoch: opts.epoch, profileJson, log }),
        )),
      );
    }
    await stage('write manifest and checksums', () =>
      writeManifest({ recipe, fetched, rootfs, built: built.flatMap((b) => b.built), parts, outputs: written, outDir: opts.outDir, epoch: opts.epoch, version: opts.version }),
    );
    log.info(`built ${recipe.name} in ${((performance.now() - started) / 1000).toFixed(1)} s:`);
    for (const file of written) log.info(`  ${file}`);
    return written;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
