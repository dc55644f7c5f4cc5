// The netmap feature's build: netmap.ko for exactly the kernel the recipe pins (Debian's headers,
// src/builder/kbuild.ts), with the generic adapter and no native drivers, and the apps pkt-gen and
// bridge (in /usr/local/bin, last on PATH: netmap's bridge is not iproute2's /sbin/bridge), from
// the locked upstream archive plus patches/netmap/. No root: it is an ordinary
// out-of-tree module build in a temporary folder. The results are cached under a hash of every
// input (archive, headers, patches, compiler, libc, flags), so a warm build does not compile again.
//
// Reproducible: the host's paths are mapped away (-ffile-prefix-map: the source reads as
// /usr/src/netmap-<commit>, the headers as /usr/src/linux-headers-*), kbuild's timestamp, user and
// host are fixed, and the module is stripped of debug info as Debian strips its own.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, ExecaError } from 'execa';
import { UserError } from '../common/errors.ts';
import { exists, settleInCache, tempBeside } from './cache.ts';
import type { FetchedInputs } from './fetch/index.ts';
import { runTool } from './fetch/host-tool.ts';
import { kernelBuildTree, type KernelBuildTree } from './kbuild.ts';
import { seconds } from './log.ts';
import { sha256File } from './manifest.ts';
import { applyPatches, patchesFor, type Patch } from './patches.ts';
import type { Built, Logger, SourceBuild } from './types.ts';

// what is built and how: part of the cache key, so a change here builds again
const CONFIGURE = ['--no-drivers', '--apps=pkt-gen,bridge', '--no-utils'];
const APPS = ['pkt-gen', 'bridge'];
const APPS_DIR = '/usr/local/bin';
// nothing of the build machine's clock or name reaches the outputs
export const FIXED_ENV = { SOURCE_DATE_EPOCH: '0', KBUILD_BUILD_TIMESTAMP: '1970-01-01', KBUILD_BUILD_USER: 'picowire', KBUILD_BUILD_HOST: 'picowire', LC_ALL: 'C', TZ: 'UTC' };

/** Builds (or takes from the cache) netmap.ko and the apps for the fetched kernel. */
export async function buildNetmap(fetched: FetchedInputs, opts: { cacheDir: string; kernelRelease: string; log: Logger }): Promise<SourceBuild> {
  const source = fetched.sources.get('netmap');
  if (!source) throw new UserError('the netmap feature needs recipe.sources.netmap pinned in the lock; run `make lock`');
  const tree = await kernelBuildTree(fetched.headers, opts.kernelRelease, opts.cacheDir);
  const patches = await patchesFor('netmap');
  const key = createHash('sha256')
    .update(JSON.stringify({ CONFIGURE, APPS, FIXED_ENV, source: source.integrity, headers: fetched.headers.map((h) => h.input.integrity).sort(), patches: patches.map((p) => [p.name, p.sha256]) }))
    .update(await toolVersions(tree.compiler))
    .digest('hex')
    .slice(0, 24);
  const out = join(opts.cacheDir, 'built', `netmap-${key}`);
  if (await exists(out)) opts.log.info(`netmap ${source.version.slice(0, 12)} for ${opts.kernelRelease}: cached (${out})`);
  else await compile({ archive: source.path, commit: source.version, tree, patches, out, log: opts.log, release: opts.kernelRelease });

  const origin = { source: 'netmap', repo: source.url.replace(/\/archive\/.*$/, ''), commit: source.version, archiveSha256: source.integrity.slice('sha256-'.length), patches: patches.map(({ name, sha256 }) => ({ name, sha256 })) };
  const built = async (name: string, path: string): Promise<Built> => ({ name, path, sha256: await sha256File(join(out, name)), ...origin });
  return {
    modules: [join(out, 'netmap.ko')],
    files: APPS.map((app) => ({ type: 'file', path: `${APPS_DIR}/${app}`, mode: 0o755, source: join(out, app) })),
    built: [await built('netmap.ko', `/lib/modules/${opts.kernelRelease}/extra/netmap.ko`), ...(await Promise.all(APPS.map((app) => built(app, `${APPS_DIR}/${app}`))))],
  };
}

/** Unpacks, patches, configures and makes netmap in a temporary folder; strips the results into `out`. */
async function compile(b: { archive: string; commit: string; tree: KernelBuildTree; patches: Patch[]; out: string; release: string; log: Logger }): Promise<void> {
  const started = performance.now();
  await buildInFolder('picowire-netmap-', b.out, async (work, temp) => {
    const src = join(work, `netmap-${b.commit}`);
    const logFile = join(work, 'build.log');
    await runTool('tar', ['-xzf', b.archive, '-C', work, '--no-same-owner'], 'tar', `unpack ${b.archive}`);
    if (!(await exists(src))) throw new UserError(`${b.archive} does not unpack to netmap-${b.commit}/: is it upstream's archive of that commit?`);
    await applyPatches(b.patches, src);
    // the host paths of the source and of the kernel tree never reach the outputs
    const maps = `-ffile-prefix-map=${work}=/usr/src -ffile-prefix-map=${b.tree.root}/=/`;
    // an outer make's job server and flags (make runs picowire) mean nothing to this one
    const env = { ...FIXED_ENV, KCFLAGS: maps, MAKEFLAGS: '', MFLAGS: '', MAKELEVEL: '' };
    b.log.info(`netmap ${b.commit.slice(0, 12)}: configure for ${b.release} with ${b.tree.compiler} (${CONFIGURE.join(' ')}); log in ${logFile}`);
    await step(['./configure', `--kernel-dir=${b.tree.dir}`, ...CONFIGURE, `--cc=${b.tree.compiler} ${maps}`], src, env, logFile);
    b.log.info(`netmap ${b.commit.slice(0, 12)}: make -j${availableParallelism()} (netmap.ko, ${APPS.join(', ')})`);
    await step(['make', `-j${availableParallelism()}`], src, env, logFile);

    await runTool('strip', ['--strip-debug', '-o', join(temp, 'netmap.ko'), join(src, 'netmap.ko')], 'binutils', 'strip netmap.ko');
    for (const app of APPS) await runTool('strip', ['--strip-all', '-o', join(temp, app), join(src, 'build-apps', app, app)], 'binutils', `strip ${app}`);
  });
  const size = (await stat(join(b.out, 'netmap.ko'))).size;
  b.log.info(`netmap ${b.commit.slice(0, 12)}: built netmap.ko (${Math.round(size / 1024)} KiB), ${APPS.join(', ')} in ${seconds(performance.now() - started)}`);
}

/**
 * Runs a source build in a fresh folder under the system's temporary folder, with `temp` (beside
 * `out`) for what it makes; a success settles `temp` into the cache as `out` and removes the build
 * folder, a failure keeps the folder for a look and says where it is.
 */
export async function buildInFolder(prefix: string, out: string, build: (work: string, temp: string) => Promise<void>): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), prefix));
  const temp = tempBeside(out);
  try {
    await mkdir(temp, { recursive: true });
    await build(work, temp);
    await settleInCache(temp, out);
    await rm(work, { recursive: true, force: true });
  } catch (error) {
    if (error instanceof UserError) throw new UserError(`${error.message}\n(the build folder ${work} is kept)`);
    throw error;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** Runs one build command in `cwd`, its output appended to logFile; a failure shows the output's last lines. */
export async function step(command: string[], cwd: string, env: Record<string, string>, logFile: string, what = 'netmap'): Promise<void> {
  try {
    await execa(command[0]!, command.slice(1), { cwd, env, stdin: 'ignore', stdout: { file: logFile, append: true }, stderr: { file: logFile, append: true } });
  } catch (error) {
    if (!(error instanceof ExecaError)) throw error;
    const tail = (await readFile(logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-25).join('\n');
    const how = error.code === 'ENOENT' ? `is not installed (run \`make\` as root to install the build host tools)` : `failed (exit ${error.exitCode ?? error.signal})`;
    throw new UserError(`building ${what}: \`${command.join(' ')}\` ${how}; the end of ${logFile}:\n${tail}`);
  }
}

/** The versions of the tools whose output lands in the built files, for the cache key. */
export async function toolVersions(compiler: string): Promise<string> {
  const first = async (cmd: string, args: string[]) => (await execa(cmd, args).catch((e: ExecaError) => e)).stdout?.toString().split('\n')[0] ?? `${cmd}: missing`;
  return [await first(compiler, ['--version']), await first('ldd', ['--version']), await first('strip', ['--version']), await first('make', ['--version'])].join('\n');
}
