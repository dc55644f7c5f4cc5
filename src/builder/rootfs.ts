// The image's root filesystem as three lists of entries, split by how often they change so each can
// be cached as its own compressed cpio: the kernel modules, the Node runtime, and everything else.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { FILES } from '../agent/paths.ts';
import { plan } from '../agent/plan.ts';
import { BRIDGE_ADD } from '../agent/ports.ts';
import { UserError } from '../common/errors.ts';
import { libraryClosure, readElf } from './elf.ts';
import { FEATURES, HARDWARE_FEATURES, type Feature } from './features.ts';
import type { FetchedInputs } from './fetch/index.ts';
import { kernelRelease, moduleClosure, moduleName, type ModuleClosure } from './kmods.ts';
import { moduleTree } from './modtree.ts';
import { withoutSignature } from './module-signature.ts';
import { overlayEntries } from './overlays.ts';
import type { Recipe } from './recipe.ts';
import { nodeSquashfs } from './squashfs.ts';
import { stripped } from './strip.ts';
import { checkSymbolVersions } from './symvers.ts';
import { treeEntries, wanted } from './tree.ts';
import type { Entry, SourceBuild } from './types.ts';

export interface Rootfs {
  /** busybox, packages, libraries, agent, overlays, config */
  base: Entry[];
  /** /lib/modules/<version>/…: the closure of the features' modules */
  modules: Entry[];
  /** the Node runtime's squashfs (already compressed: its cpio is not compressed again) */
  node: Entry[];
  kernelVersion: string;
  /** host path of the kernel image */
  kernel: string;
  /** module names in load order, for the manifest */
  moduleOrder: string[];
}

/** where the Node runtime's squashfs sits in the image; rcS mounts it on /opt/node */
export const NODE_IMAGE = '/usr/lib/picowire/node.squashfs';

/** iproute2 and friends must win over busybox's applets of the same name (DESIGN.md: applet precedence). */
const APPLETS_LEFT_OUT = new Set(['ip', 'tc', 'bridge', 'ss', 'nft', 'ethtool', 'ipaddr', 'iplink', 'iproute', 'iprule', 'ipneigh', 'iptunnel', 'linuxrc']);

/** Assembles the image's file lists from the fetched inputs, the agent bundle and the overlays. */
export async function assembleRootfs(
  recipe: Recipe,
  fetched: FetchedInputs,
  made: { bundle: Buffer; built: SourceBuild[] },
  opts: { overlaysDir: string; version: string; buildId: string; epoch: number; cacheDir: string },
): Promise<Rootfs> {
  const builtModules = made.built.flatMap((b) => b.modules);
  const { kernelVersion, kernel, moduleEntries, order, bootModules, entropyModules } = await kernelParts(recipe, fetched.kernel.root, builtModules, opts.cacheDir);
  const builtFiles = made.built.flatMap((b) => b.files);

  for (const name of Object.keys(recipe.only)) {
    if (!recipe.packages.includes(name)) throw new UserError(`recipe.only.${name}: "${name}" is not one of recipe.packages (${recipe.packages.join(', ')})`);
  }
  const packageEntries = (await Promise.all(fetched.packages.map((p) => treeEntries(p.root, selector(recipe.only[p.package]))))).flat();
  const busybox = await busyboxLinks(fetched, new Set(packageEntries.map((e) => e.path)));
  const node = await stripped(fetched.node.binary);
  const nodeImage = await nodeSquashfs(node, { compression: recipe.compression, icu: recipe.node.icu, typescript: recipe.node.typescript });
  const nodeEntries: Entry[] = [
    { type: 'file', path: NODE_IMAGE, mode: 0o644, source: nodeImage },
    { type: 'symlink', path: '/usr/bin/node', target: '/opt/node/bin/node' },
  ];

  // shared libraries come from the binaries' ELF headers, searched in every fetched package
  const binaries = await elfFiles([...packageEntries, ...builtFiles, { type: 'file', path: '/usr/bin/node', mode: 0o755, source: node }]);
  const roots = [...fetched.packages, ...fetched.libraries].map((p) => ({ root: p.root }));
  const libs = (await libraryClosure(binaries, roots)).map(({ path, file }) => ({ path, file }));
  const libEntries: Entry[] = libs.map(({ path, file }) => ({ type: 'file', path, mode: 0o755, source: file }));
  // programs compiled here (netmap's apps) must not need a newer libc than the image's
  await checkSymbolVersions(builtFiles.flatMap((e) => (e.type === 'file' && 'source' in e ? [{ path: e.path, file: e.source }] : [])), libs);

  const context = { recipe, kernelVersion, modules: bootModules, version: opts.version, buildId: opts.buildId };
  const config: Entry[] = [
    { type: 'file', path: '/etc/picowire/profile.json', mode: 0o644, data: Buffer.from(JSON.stringify(recipe.profile, null, 2) + '\n') },
    { type: 'file', path: '/etc/picowire/ports.json', mode: 0o644, data: Buffer.from(JSON.stringify(recipe.ports) + '\n') },
    // the API's token, when the recipe gives one: the last of its sources (src/agent/api/token.ts), readable by root only
    ...(recipe.token === undefined ? [] : [{ type: 'file' as const, path: '/etc/picowire/token', mode: 0o600, data: Buffer.from(`${recipe.token}\n`) }]),
    // SSH's authorized_keys, when the recipe gives them: the last of their sources (src/agent/ssh.ts)
    ...(recipe.authorized_keys === undefined ? [] : [{ type: 'file' as const, path: '/etc/picowire/authorized_keys', mode: 0o644, data: Buffer.from(`${recipe.authorized_keys.trim()}\n`) }]),
    { type: 'file', path: '/etc/picowire/modules.boot', mode: 0o644, data: Buffer.from(bootModules.join('\n') + '\n') },
    { type: 'file', path: '/etc/picowire/modules.entropy', mode: 0o644, data: Buffer.from(entropyModules.map((m) => `${m}\n`).join('')) },
    { type: 'file', path: '/opt/picowire/agent.mjs', mode: 0o644, data: made.bundle },
    // the bridge and its closed table, which rcS makes beside node's start (the agent's own commands)
    { type: 'file', path: `/${FILES.bridgeIp}`, mode: 0o644, data: Buffer.from(`${BRIDGE_ADD.join(' ')}\n`) },
    { type: 'file', path: `/${FILES.closedNft}`, mode: 0o644, data: Buffer.from(plan(null, { qdiscs: [] }).nft) },
  ];

  const base = layer(skeleton(), packageEntries, busybox, builtFiles, libEntries, config, await overlayEntries(opts.overlaysDir, context));
  return { base, modules: moduleEntries, node: nodeEntries, kernelVersion, kernel, moduleOrder: order };
}

/** The directories and device node the kernel and init expect before anything is mounted. */
function skeleton(): Entry[] {
  const dirs = ['/dev', '/proc', '/sys', '/run', '/root', '/etc', '/bin', '/sbin', '/usr/bin', '/usr/sbin', '/mnt', '/var'];
  return [
    ...dirs.map((path): Entry => ({ type: 'dir', path, mode: 0o755 })),
    { type: 'dir', path: '/tmp', mode: 0o1777 },
    { type: 'symlink', path: '/var/run', target: '/run' },
    { type: 'chardev', path: '/dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'chardev', path: '/dev/null', mode: 0o666, major: 1, minor: 3 },
    { type: 'symlink', path: '/init', target: 'bin/busybox' },
  ];
}

/** Stacks entry lists: a later list's file replaces an earlier one at the same path; a directory stays. */
export function layer(...lists: Entry[][]): Entry[] {
  const byPath = new Map<string, Entry>();
  for (const e of lists.flat()) {
    const prev = byPath.get(e.path);
    if (prev?.type === 'dir' && e.type === 'dir') continue;
    byPath.set(e.path, e);
  }
  return [...byPath.values()];
}

/** The kernel image, its version, the closure of the features' modules (those built from source
 * included), and the module indexes busybox's modprobe reads. */
async function kernelParts(recipe: Recipe, root: string, built: string[], cacheDir: string) {
  const kernelVersion = await kernelRelease(root);
  let modulesDir = join(root, 'lib/modules', kernelVersion);
  // Debian's kernel package ships no modules.dep (its postinst runs depmod): make it once, in the cache
  if (!existsSync(join(modulesDir, 'modules.dep'))) await execa('depmod', ['-b', root, kernelVersion]);
  if (built.length > 0) modulesDir = await moduleTree(root, kernelVersion, built, cacheDir);
  const features = recipe.features as Feature[];
  // squashfs and loop carry the Node runtime (src/builder/squashfs.ts), whatever the features
  const always = ['squashfs', 'loop', ...features.filter((f) => !HARDWARE_FEATURES.has(f)).flatMap((f) => FEATURES[f]), ...recipe.modules];
  // loaded first, ahead of the rest (see the feature)
  const entropy = features.includes('entropy') ? await moduleClosure(modulesDir, [...FEATURES.entropy]) : { order: [] };
  const hardware = features.filter((f) => HARDWARE_FEATURES.has(f)).flatMap((f) => FEATURES[f]);
  const closure = await moduleClosure(modulesDir, [...always, ...hardware]);
  // loaded at every boot, in dependency order (softdeps included); drivers load by modalias instead
  const boot = await moduleClosure(modulesDir, always);
  const dir = `/lib/modules/${kernelVersion}`;
  const moduleEntries: Entry[] = [
    // without Debian's signatures, which the kernel would check at every load (module-signature.ts)
    ...(await Promise.all(closure.files.map(async (file): Promise<Entry> => ({ type: 'file', path: `${dir}/${file}`, mode: 0o644, data: withoutSignature(await readFile(join(modulesDir, file)), file) })))),
    ...(await moduleIndexes(modulesDir, closure)).map(([name, text]): Entry => ({ type: 'file', path: `${dir}/${name}`, mode: 0o644, data: Buffer.from(text) })),
  ];
  return { kernelVersion, kernel: join(root, 'boot', `vmlinuz-${kernelVersion}`), moduleEntries, order: closure.order, bootModules: boot.order, entropyModules: entropy.order };
}

/** modules.dep and modules.alias cut down to the modules in the image, so modprobe and the kernel's autoload find only what is there. */
async function moduleIndexes(modulesDir: string, closure: ModuleClosure): Promise<[string, string][]> {
  const files = new Set(closure.files);
  const names = new Set(closure.order.map(moduleName));
  const dep = (await readFile(join(modulesDir, 'modules.dep'), 'utf8')).split('\n').filter((l) => files.has(l.split(':')[0]!));
  const alias = (await readFile(join(modulesDir, 'modules.alias'), 'utf8'))
    .split('\n')
    .filter((l) => l.startsWith('alias ') && names.has(moduleName(l.split(' ').at(-1)!)));
  return [
    ['modules.dep', dep.join('\n') + '\n'],
    ['modules.alias', alias.join('\n') + '\n'],
  ];
}

/** Which paths of a package go into the image: all wanted ones, or only those under the listed paths (and their parent folders). */
function selector(only: string[] | undefined): (path: string) => boolean {
  if (!only) return wanted;
  return (path) => wanted(path) && only.some((o) => path === o || path.startsWith(o + '/') || o.startsWith(path + '/'));
}

/** Symlinks for busybox's applets at the paths busybox names, except where a package or iproute2 must win. */
async function busyboxLinks(fetched: FetchedInputs, taken: Set<string>): Promise<Entry[]> {
  const owner = fetched.packages.find((p) => p.package.startsWith('busybox'));
  if (!owner) throw new UserError('recipe.packages: no busybox package; add "busybox-static" (init and the shell come from it)');
  const { stdout } = await execa(join(owner.root, 'bin/busybox'), ['--list-full']);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((rel) => '/' + rel)
    .filter((path) => !taken.has(path) && !APPLETS_LEFT_OUT.has(path.replace(/^.*\//, '')))
    .map((path): Entry => ({ type: 'symlink', path, target: '/bin/busybox' }));
}

/** The regular files among entries that are dynamically linked ELF programs or libraries. */
async function elfFiles(entries: Entry[]): Promise<{ path: string; file: string }[]> {
  const out: { path: string; file: string }[] = [];
  for (const e of entries) {
    if (e.type !== 'file' || !('source' in e) || (e.mode & 0o111) === 0) continue;
    const head = await readFile(e.source);
    if (readElf(head)?.needed.length) out.push({ path: e.path, file: e.source });
  }
  return out;
}
