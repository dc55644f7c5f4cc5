// The dummynet feature's build: netmap-ipfw's kipfw (FreeBSD's ipfw and dummynet running in
// userspace between two netmap ports) and its ipfw command (which talks to kipfw over TCP
// 127.0.0.1:5555), from the locked upstream archive plus patches/netmap-ipfw/, against the netmap
// headers of the locked netmap archive. Both go to /usr/local/bin, stripped. No root; cached under
// a hash of every input (both archives, patches, compiler, libc, flags). Upstream's code needs
// `-fcommon` with gcc 10 and later (its headers define variables that several files include).
//
// Reproducible: the build folder's path is mapped away (-ffile-prefix-map), and nothing else of the
// build machine (clock, user, host) reaches the binaries.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { exists } from './cache.ts';
import type { FetchedInputs } from './fetch/index.ts';
import { runTool } from './fetch/host-tool.ts';
import { kernelBuildTree } from './kbuild.ts';
import { seconds } from './log.ts';
import { sha256File } from './manifest.ts';
import { buildInFolder, FIXED_ENV, step, toolVersions } from './netmap.ts';
import { applyPatches, patchesFor, type Patch } from './patches.ts';
import type { Built, Logger, SourceBuild } from './types.ts';

/** The programs and where upstream's make leaves them. */
const PROGRAMS = { kipfw: 'kipfw', ipfw: 'ipfw/ipfw' } as const;
const PROGRAMS_DIR = '/usr/local/bin';
// part of the cache key: a change here builds again
const CC_FLAGS = ['-fcommon'];

/** Builds (or takes from the cache) kipfw and ipfw. */
export async function buildDummynet(fetched: FetchedInputs, opts: { cacheDir: string; kernelRelease: string; log: Logger }): Promise<SourceBuild> {
  const source = fetched.sources.get('netmap-ipfw');
  const netmap = fetched.sources.get('netmap');
  if (!source || !netmap) throw new UserError("the dummynet feature needs recipe.sources['netmap-ipfw'] and recipe.sources.netmap pinned in the lock; run `make lock`");
  // the compiler the kernel was built with, as netmap's own programs use
  const { compiler } = await kernelBuildTree(fetched.headers, opts.kernelRelease, opts.cacheDir);
  const patches = await patchesFor('netmap-ipfw');
  const key = createHash('sha256')
    .update(JSON.stringify({ PROGRAMS, CC_FLAGS, FIXED_ENV, source: source.integrity, netmap: netmap.integrity, patches: patches.map((p) => [p.name, p.sha256]) }))
    .update(await toolVersions(compiler))
    .digest('hex')
    .slice(0, 24);
  const out = join(opts.cacheDir, 'built', `netmap-ipfw-${key}`);
  if (await exists(out)) opts.log.info(`netmap-ipfw ${source.version.slice(0, 12)}: cached (${out})`);
  else await compile({ archive: source.path, commit: source.version, netmapArchive: netmap.path, netmapCommit: netmap.version, compiler, patches, out, log: opts.log });

  const origin = { source: 'netmap-ipfw', repo: source.url.replace(/\/archive\/.*$/, ''), commit: source.version, archiveSha256: source.integrity.slice('sha256-'.length), patches: patches.map(({ name, sha256 }) => ({ name, sha256 })) };
  const names = Object.keys(PROGRAMS);
  return {
    modules: [],
    files: names.map((name) => ({ type: 'file', path: `${PROGRAMS_DIR}/${name}`, mode: 0o755, source: join(out, name) })),
    built: await Promise.all(names.map(async (name): Promise<Built> => ({ name, path: `${PROGRAMS_DIR}/${name}`, sha256: await sha256File(join(out, name)), ...origin }))),
  };
}

/** Unpacks netmap's headers and netmap-ipfw, patches and makes it in a temporary folder; strips the programs into `out`. */
async function compile(b: { archive: string; commit: string; netmapArchive: string; netmapCommit: string; compiler: string; patches: Patch[]; out: string; log: Logger }): Promise<void> {
  const started = performance.now();
  await buildInFolder('picowire-netmap-ipfw-', b.out, async (work, temp) => {
    const src = join(work, `netmap-ipfw-${b.commit}`);
    const netmapSys = join(work, `netmap-${b.netmapCommit}`, 'sys');
    const logFile = join(work, 'build.log');
    await runTool('tar', ['-xzf', b.archive, '-C', work, '--no-same-owner'], 'tar', `unpack ${b.archive}`);
    if (!(await exists(src))) throw new UserError(`${b.archive} does not unpack to netmap-ipfw-${b.commit}/: is it upstream's archive of that commit?`);
    // only netmap's user-space headers (net/netmap.h, net/netmap_user.h)
    await runTool('tar', ['-xzf', b.netmapArchive, '-C', work, '--no-same-owner', `netmap-${b.netmapCommit}/sys/net`], 'tar', `unpack netmap's headers from ${b.netmapArchive}`);
    await applyPatches(b.patches, src);
    const cc = [b.compiler, ...CC_FLAGS, `-ffile-prefix-map=${work}=/usr/src`].join(' ');
    const env = { ...FIXED_ENV, MAKEFLAGS: '', MFLAGS: '', MAKELEVEL: '' };
    b.log.info(`netmap-ipfw ${b.commit.slice(0, 12)}: make -j${availableParallelism()} (kipfw, ipfw) with ${cc.split(' ').slice(0, 2).join(' ')}; log in ${logFile}`);
    await step(['make', `-j${availableParallelism()}`, `NETMAP_INC=${netmapSys}`, `CC=${cc}`], src, env, logFile, 'netmap-ipfw');
    for (const [name, path] of Object.entries(PROGRAMS)) await runTool('strip', ['--strip-all', '-o', join(temp, name), join(src, path)], 'binutils', `strip ${name}`);
  });
  const sizes = await Promise.all(Object.keys(PROGRAMS).map(async (name) => `${name} ${Math.round((await stat(join(b.out, name))).size / 1024)} KiB`));
  b.log.info(`netmap-ipfw ${b.commit.slice(0, 12)}: built ${sizes.join(', ')} in ${seconds(performance.now() - started)}`);
}
