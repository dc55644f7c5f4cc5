// The netmap feature's build: netmap.ko for exactly the kernel the recipe pins (Debian's headers,
// src/builder/kbuild.ts), with the generic adapter, and with the `netmap-drivers` feature netmap's
// native drivers (virtio_net, e1000e, igb, ixgbe, i40e: the kernel's own driver sources from
// Debian's linux-source package, src/builder/kernel-source.ts, with netmap's patches for them), and the apps pkt-gen and
// bridge (in /usr/local/bin, last on PATH: netmap's bridge is not iproute2's /sbin/bridge), from
// the locked upstream archive plus patches/netmap/. A patched driver keeps its module's name and
// replaces the kernel's own on the image (src/builder/modtree.ts puts it under updates/): it loads by
// modalias as before and works as before until a netmap program opens its port, which then runs
// in netmap's native mode instead of the generic adapter's copy through the stack. No root: it is an ordinary
// out-of-tree module build in a temporary folder. The results are cached under a hash of every
// input (archive, headers, kernel source, patches, compiler, libc, flags), so a warm build does not compile again.
//
// Reproducible: the host's paths are mapped away (-ffile-prefix-map: the source reads as
// /usr/src/netmap-<commit>, the headers as /usr/src/linux-headers-*), kbuild's timestamp, user and
// host are fixed, and the module is stripped of debug info as Debian strips its own.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, ExecaError } from 'execa';
import { UserError } from '../common/errors.ts';
import { exists, settleInCache, tempBeside } from './cache.ts';
import type { FetchedInputs } from './fetch/index.ts';
import { runTool } from './fetch/host-tool.ts';
import { isKernelSource, kernelBuildTree, type KernelBuildTree } from './kbuild.ts';
import { kernelSourceFiles } from './kernel-source.ts';
import { seconds } from './log.ts';
import { sha256File } from './manifest.ts';
import { applyPatches, patchesFor, type Patch } from './patches.ts';
import type { Built, Logger, SourceBuild } from './types.ts';

// what is built and how: part of the cache key, so a change here builds again
// netmap's names for the drivers (virtio_net.c is one file, the Intel ones folders), and where each is in the kernel's tree
const DRIVERS = { 'virtio_net.c': 'drivers/net/virtio_net.c', e1000e: 'drivers/net/ethernet/intel/e1000e', igb: 'drivers/net/ethernet/intel/igb', ixgbe: 'drivers/net/ethernet/intel/ixgbe', i40e: 'drivers/net/ethernet/intel/i40e' };
const APPS_FLAGS = ['--apps=pkt-gen,bridge', '--no-utils'];
// the generic adapter only, or the kernel's drivers patched too (not Intel's out-of-tree releases netmap would download)
const CONFIGURE = { generic: ['--no-drivers', ...APPS_FLAGS], native: [`--drivers=${Object.keys(DRIVERS).join(',')}`, '--no-ext-drivers', ...APPS_FLAGS] };
// netmap picks its driver patch by kernel version; Debian's 6.1.176 virtio_net.c has 6.5's NAPI
// changes, and the 6.5-6.8 patch fits it once patches/netmap/0001 mends its one line of context
const CONFIG_MAK = 'virtio_net.c@patch := patches/vanilla--virtio_net.c--60500--60800\n';
// make's targets that copy each driver's source and apply netmap's patch to it (netmap.mak)
const PATCH_TARGETS = Object.keys(DRIVERS).map((d) => `get-${d}`);
// the build's record of netmap's patch for each driver
const DRIVER_PATCHES = 'driver-patches.json';
/** each driver's module and where the build leaves it, relative to the build folder */
const DRIVER_MODULES = [['virtio_net.ko', 'virtio_net.ko'], ['e1000e.ko', 'e1000e/e1000e.ko'], ['igb.ko', 'igb/igb.ko'], ['ixgbe.ko', 'ixgbe/ixgbe.ko'], ['i40e.ko', 'i40e/i40e.ko']] as const;
const APPS = ['pkt-gen', 'bridge'];
const APPS_DIR = '/usr/local/bin';
// nothing of the build machine's clock or name reaches the outputs
export const FIXED_ENV = { SOURCE_DATE_EPOCH: '0', KBUILD_BUILD_TIMESTAMP: '1970-01-01', KBUILD_BUILD_USER: 'picowire', KBUILD_BUILD_HOST: 'picowire', LC_ALL: 'C', TZ: 'UTC' };

/** Builds (or takes from the cache) netmap.ko, with `drivers` its native drivers, and the apps for the fetched kernel. */
export async function buildNetmap(fetched: FetchedInputs, opts: { cacheDir: string; kernelRelease: string; drivers: boolean; log: Logger }): Promise<SourceBuild> {
  const source = fetched.sources.get('netmap');
  if (!source) throw new UserError('the netmap feature needs recipe.sources.netmap pinned in the lock; run `make lock`');
  const tree = await kernelBuildTree(fetched.headers, opts.kernelRelease, opts.cacheDir);
  const kernelSource = opts.drivers ? await kernelSourceFiles(fetched.headers, Object.values(DRIVERS), opts.cacheDir) : undefined;
  const patches = await patchesFor('netmap');
  const how = opts.drivers ? { configure: CONFIGURE.native, CONFIG_MAK, DRIVERS, PATCH_TARGETS } : { configure: CONFIGURE.generic };
  const key = createHash('sha256')
    .update(JSON.stringify({ how, APPS, FIXED_ENV, source: source.integrity, headers: fetched.headers.map((h) => h.input.integrity).sort(), patches: patches.map((p) => [p.name, p.sha256]) }))
    .update(await toolVersions(tree.compiler))
    .digest('hex')
    .slice(0, 24);
  const out = join(opts.cacheDir, 'built', `netmap-${key}`);
  if (await exists(out)) opts.log.info(`netmap ${source.version.slice(0, 12)} for ${opts.kernelRelease}: cached (${out})`);
  else await compile({ archive: source.path, commit: source.version, tree, kernelSource, patches, out, log: opts.log, release: opts.kernelRelease });

  const origin = { source: 'netmap', repo: source.url.replace(/\/archive\/.*$/, ''), commit: source.version, archiveSha256: source.integrity.slice('sha256-'.length), patches: patches.map(({ name, sha256 }) => ({ name, sha256 })) };
  const built = async (name: string, path: string, more = {}): Promise<Built> => ({ name, path, sha256: await sha256File(join(out, name)), ...origin, ...more });
  const drivers = opts.drivers ? DRIVER_MODULES : [];
  // a driver names the kernel source it was patched from too (the package the lock pins), and netmap's patch it got
  const driverOrigin = async (ko: string) => {
    const linuxSource = fetched.headers.find(isKernelSource)!;
    const chosen = JSON.parse(await readFile(join(out, DRIVER_PATCHES), 'utf8')) as Record<string, string>;
    const kernelSource = { name: linuxSource.package, version: linuxSource.input.version, sha256: linuxSource.input.integrity.slice('sha256-'.length) };
    return { kernelSource, netmapPatch: chosen[Object.keys(DRIVERS).find((d) => `${d.replace(/\.c$/, '')}.ko` === ko)!] };
  };
  const modules = ['netmap.ko', ...drivers.map(([ko]) => ko)];
  return {
    modules: modules.map((ko) => join(out, ko)),
    files: APPS.map((app) => ({ type: 'file', path: `${APPS_DIR}/${app}`, mode: 0o755, source: join(out, app) })),
    built: [
      await built('netmap.ko', `/lib/modules/${opts.kernelRelease}/extra/netmap.ko`),
      ...(await Promise.all(drivers.map(async ([ko]) => built(ko, `/lib/modules/${opts.kernelRelease}/updates/${ko}`, await driverOrigin(ko))))),
      ...(await Promise.all(APPS.map((app) => built(app, `${APPS_DIR}/${app}`)))),
    ],
  };
}

/** Unpacks, patches, configures and makes netmap in a temporary folder; strips the results into `out`. */
async function compile(b: { archive: string; commit: string; tree: KernelBuildTree; kernelSource: string | undefined; patches: Patch[]; out: string; release: string; log: Logger }): Promise<void> {
  const drivers = b.kernelSource ? DRIVER_MODULES : [];
  const configure = b.kernelSource ? [`--kernel-sources=${b.kernelSource}`, ...CONFIGURE.native] : CONFIGURE.generic;
  const started = performance.now();
  await buildInFolder('picowire-netmap-', b.out, async (work, temp) => {
    const src = join(work, `netmap-${b.commit}`);
    const logFile = join(work, 'build.log');
    await runTool('tar', ['-xzf', b.archive, '-C', work, '--no-same-owner'], 'tar', `unpack ${b.archive}`);
    if (!(await exists(src))) throw new UserError(`${b.archive} does not unpack to netmap-${b.commit}/: is it upstream's archive of that commit?`);
    await applyPatches(b.patches, src);
    // the host paths of the source and of the kernel tree never reach the outputs
    const maps = [`-ffile-prefix-map=${work}=/usr/src`, `-ffile-prefix-map=${b.tree.root}/=/`, ...(b.kernelSource ? [`-ffile-prefix-map=${b.kernelSource}=/usr/src/linux-source`] : [])].join(' ');
    // an outer make's job server and flags (make runs picowire) mean nothing to this one
    const env = { ...FIXED_ENV, KCFLAGS: maps, MAKEFLAGS: '', MFLAGS: '', MAKELEVEL: '' };
    b.log.info(`netmap ${b.commit.slice(0, 12)}: configure for ${b.release} with ${b.tree.compiler} (${configure.join(' ')}); log in ${logFile}`);
    if (b.kernelSource) await writeFile(join(src, 'config.mak'), CONFIG_MAK);
    await step(['./configure', `--kernel-dir=${b.tree.dir}`, ...configure, `--cc=${b.tree.compiler} ${maps}`], src, env, logFile);
    if (b.kernelSource) {
      // which of netmap's patches each driver got (drivers.mak: "igb@patch := patches/vanilla--igb--50c00--99999"), for the manifest
      const chosen = Object.fromEntries([...(await readFile(join(src, 'drivers.mak'), 'utf8')).matchAll(/^(\S+)@patch := patches\/(\S+)$/gm)].map((m) => [m[1]!, `LINUX/final-patches/${m[2]}`]));
      await writeFile(join(temp, DRIVER_PATCHES), JSON.stringify(chosen, null, 2) + '\n');
      // netmap's `all` copies and patches the drivers while, with -j, the module build may already
      // compile them: copy and patch first, one at a time
      await step(['make', ...PATCH_TARGETS], src, env, logFile);
    }
    b.log.info(`netmap ${b.commit.slice(0, 12)}: make -j${availableParallelism()} (${['netmap.ko', ...drivers.map(([ko]) => ko), ...APPS].join(', ')})`);
    await step(['make', `-j${availableParallelism()}`], src, env, logFile);

    await runTool('strip', ['--strip-debug', '-o', join(temp, 'netmap.ko'), join(src, 'netmap.ko')], 'binutils', 'strip netmap.ko');
    // configure leaves out a driver whose patch does not apply or that does not build, saying so only in its log
    for (const [ko, made] of drivers) {
      if (!(await exists(join(src, made)))) throw new UserError(`building netmap: its native driver ${ko} was not built (configure left it out or make failed); see ${logFile} and ${join(src, 'config.log')}`);
      // a driver netmap's patch reached calls into netmap.ko; one that does not was built unpatched
      const depends = (await runTool('modinfo', ['-F', 'depends', join(src, made)], 'kmod', `read ${ko}'s dependencies`)).toString('utf8').trim().split(',');
      if (!depends.includes('netmap')) throw new UserError(`building netmap: ${ko} does not depend on netmap.ko (depends: ${depends.join(',') || 'nothing'}), so netmap's patch did not reach it; see ${logFile}`);
      await runTool('strip', ['--strip-debug', '-o', join(temp, ko), join(src, made)], 'binutils', `strip ${ko}`);
    }
    for (const app of APPS) await runTool('strip', ['--strip-all', '-o', join(temp, app), join(src, 'build-apps', app, app)], 'binutils', `strip ${app}`);
  });
  const size = (await stat(join(b.out, 'netmap.ko'))).size;
  b.log.info(`netmap ${b.commit.slice(0, 12)}: built netmap.ko (${Math.round(size / 1024)} KiB), ${[...drivers.map(([ko]) => ko), ...APPS].join(', ')} in ${seconds(performance.now() - started)}`);
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
