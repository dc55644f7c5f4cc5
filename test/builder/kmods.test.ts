import { readFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { BUILDS_MODULES, FEATURES, type Feature } from '../../src/builder/features.ts';
import { moduleClosure, moduleName, type ModuleClosure } from '../../src/builder/kmods.ts';

const DEP = `
kernel/net/llc/llc.ko:
kernel/net/802/stp.ko: kernel/net/llc/llc.ko
kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko
kernel/net/netfilter/nfnetlink.ko:
kernel/lib/libcrc32c.ko:
kernel/net/netfilter/nf_tables.ko: kernel/net/netfilter/nfnetlink.ko kernel/lib/libcrc32c.ko
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/sound/pci/hda/snd-hda-codec-hdmi.ko:
kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko:
kernel/test/cyc_a.ko: kernel/test/base.ko
kernel/test/cyc_b.ko:
kernel/test/base.ko:
kernel/test/post_x.ko:
kernel/test/aa_after.ko:
kernel/drivers/usb/host/ehci-pci.ko:
kernel/drivers/usb/host/ohci-pci.ko:
`;
const SOFTDEP = `# Soft dependencies extracted from modules themselves.
softdep libcrc32c pre: crc32c
softdep cyc_a pre: cyc_b
softdep cyc_b pre: cyc_a
softdep base pre: cyc_b
softdep post_x post: aa_after no_such_module
softdep cifs gcm
softdep ohci_pci pre: ehci_pci
softdep ohci_pci pre: platform:nothing-here
`;
const BUILTIN = 'kernel/net/sched/sch_fq_codel.ko\nkernel/drivers/usb/common/usb-common.ko\n';
const ALIAS = `# Aliases extracted from modules themselves.
alias crypto-crc32c-intel crc32c_intel
alias crc32c-intel crc32c_intel
alias crc32c crc32c_intel
alias crc32c crc32c_generic
alias crypto-crc32c crc32c_generic
alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e
`;

/** A lib/modules/<version> directory holding the given depmod files. */
async function modulesDir(t: { teardown(fn: () => Promise<void>): void }, files: Record<string, string> = { 'modules.dep': DEP, 'modules.softdep': SOFTDEP, 'modules.builtin': BUILTIN, 'modules.alias': ALIAS }) {
  const base = await mkdtemp(join(tmpdir(), 'picowire-kmods-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const dir = join(base, '6.1.0-test-amd64');
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

/** The modules that must load before m: its modules.dep line plus its pre softdeps (as names). */
async function checkTopological(t: { true(v: boolean, m?: string): void }, dir: string, c: ModuleClosure) {
  const pos = new Map(c.order.map((m, i) => [m, i]));
  for (const line of (await readFile(join(dir, 'modules.dep'), 'utf8')).split('\n').filter(Boolean)) {
    const [file, deps = ''] = line.split(':');
    const m = moduleName(file!);
    if (!pos.has(m)) continue;
    for (const d of deps.split(' ').filter(Boolean).map(moduleName)) t.true(pos.get(d)! < pos.get(m)!, `${d} loads before ${m}`);
  }
}

test('a module comes after everything modules.dep says it needs', async (t) => {
  const dir = await modulesDir(t);
  const c = await moduleClosure(dir, ['bridge']);
  t.deepEqual(c, { order: ['llc', 'stp', 'bridge'], files: ['kernel/net/llc/llc.ko', 'kernel/net/802/stp.ko', 'kernel/net/bridge/bridge.ko'], builtin: [] });
});

test('softdeps are followed transitively: nf_tables brings libcrc32c, which brings every crc32c before it', async (t) => {
  const dir = await modulesDir(t);
  const c = await moduleClosure(dir, ['nf_tables']);
  t.deepEqual(c.order, ['crc32c_generic', 'crc32c_intel', 'libcrc32c', 'nfnetlink', 'nf_tables']);
  t.is(c.files[c.order.indexOf('crc32c_intel')], 'kernel/arch/x86/crypto/crc32c-intel.ko');
  await checkTopological(t, dir, c);
});

test('a post softdep loads after its module, and a softdep naming nothing is skipped as modprobe does', async (t) => {
  const c = await moduleClosure(await modulesDir(t), ['post_x', 'ohci-pci']);
  // aa_after would sort first; only its post: softdep puts it after post_x
  t.deepEqual(c.order, ['ehci_pci', 'ohci_pci', 'post_x', 'aa_after']);
});

test('"-" and "_" name the same module, in wanted names and in file names', async (t) => {
  const c = await moduleClosure(await modulesDir(t), ['crc32c-intel', 'snd_hda_codec_hdmi', 'snd-hda-codec-hdmi']);
  t.deepEqual(c.order, ['crc32c_intel', 'snd_hda_codec_hdmi']);
  t.deepEqual(c.files, ['kernel/arch/x86/crypto/crc32c-intel.ko', 'kernel/sound/pci/hda/snd-hda-codec-hdmi.ko']);
});

test('a wanted module built into the kernel is listed as built in and needs no file', async (t) => {
  const c = await moduleClosure(await modulesDir(t), ['sch_fq_codel', 'usb_common', 'llc']);
  t.deepEqual(c, { order: ['llc'], files: ['kernel/net/llc/llc.ko'], builtin: ['sch_fq_codel', 'usb_common'] });
});

test('a wanted alias stands for every module it matches, globs included', async (t) => {
  const dir = await modulesDir(t);
  t.deepEqual((await moduleClosure(dir, ['crc32c'])).order, ['crc32c_generic', 'crc32c_intel']);
  t.deepEqual((await moduleClosure(dir, ['pci:v00008086d000010D3sv00001234sd00005678bc02sc00i00'])).order, ['e1000e']);
});

test('every unknown name is listed in one error with the kernel version', async (t) => {
  const error = await t.throwsAsync(moduleClosure(await modulesDir(t), ['bridge', 'nft_counter', 'sch_nope', 'nft_counter']), { instanceOf: UserError });
  t.regex(error.message, /kernel 6\.1\.0-test-amd64 has no module, built-in or alias named nft_counter, sch_nope \(/);
});

test('a softdep cycle ends, keeps hard dependencies first, and always gives the same order', async (t) => {
  const dir = await modulesDir(t);
  const c = await moduleClosure(dir, ['cyc_a']);
  // base wants cyc_b (soft), cyc_a needs base (hard) and wants cyc_b (soft), cyc_b wants cyc_a (soft):
  // stuck, the first name whose hard dependencies are loaded goes next, softdeps or not
  t.deepEqual(c.order, ['base', 'cyc_a', 'cyc_b']);
  t.deepEqual((await moduleClosure(dir, ['cyc_b', 'cyc_a'])).order, c.order);
  await checkTopological(t, dir, c);
});

test('the order does not depend on the order or repetition of wanted names', async (t) => {
  const dir = await modulesDir(t);
  const names = ['bridge', 'nf_tables', 'e1000e', 'post_x', 'sch_fq_codel'];
  const one = await moduleClosure(dir, names);
  t.deepEqual(await moduleClosure(dir, [...names].reverse().concat(names)), one);
  await checkTopological(t, dir, one);
});

test('only modules.dep is required; without it the error says to run depmod', async (t) => {
  t.deepEqual((await moduleClosure(await modulesDir(t, { 'modules.dep': DEP }), ['bridge'])).order, ['llc', 'stp', 'bridge']);
  await t.throwsAsync(moduleClosure(await modulesDir(t, { 'modules.builtin': BUILTIN }), ['bridge']), {
    instanceOf: UserError,
    message: /modules\.dep is missing: .*depmod -b <package root> 6\.1\.0-test-amd64/,
  });
});

// The real thing, when a depmod-ed Debian kernel tree is at hand (the fixtures above stand in otherwise).
// PICOWIRE_TEST_MODULES_DIR, or the kernel tree a build unpacked and depmod-ed in the cache.
function builtKernelTree(): string | undefined {
  const unpacked = join(process.env.PICOWIRE_CACHE ?? join(homedir(), '.cache/picowire'), 'unpacked');
  if (!existsSync(unpacked)) return undefined;
  for (const pkg of readdirSync(unpacked)) {
    const modules = join(unpacked, pkg, 'lib/modules');
    if (!existsSync(modules)) continue;
    for (const version of readdirSync(modules)) if (existsSync(join(modules, version, 'modules.dep'))) return join(modules, version);
  }
  return undefined;
}
const REAL = process.env.PICOWIRE_TEST_MODULES_DIR ?? builtKernelTree();
const why = 'no depmod-ed kernel tree: run `make` first, or set PICOWIRE_TEST_MODULES_DIR to a lib/modules/<version>';
const real = REAL ? test : process.env.CI ? (title: string) => test(title, (t) => t.fail(`cannot run in CI: ${why}`)) : test.skip;
if (!REAL) console.log(`skipping the real-kernel module tests: ${why}`);

real('on the real kernel, libcrc32c comes with crc32c_generic loaded before it', async (t) => {
  const c = await moduleClosure(REAL!, ['nf_tables']);
  t.true(c.order.indexOf('crc32c_generic') >= 0);
  t.true(c.order.indexOf('crc32c_generic') < c.order.indexOf('libcrc32c'));
  await checkTopological(t, REAL!, c);
});

real('on the real kernel, every module the recipe features name exists (but those built from source)', async (t) => {
  const fromPackage = Object.entries(FEATURES).filter(([f]) => !BUILDS_MODULES.has(f as Feature));
  t.true(fromPackage.length < Object.keys(FEATURES).length); // netmap is left out, and only it
  const c = await moduleClosure(REAL!, fromPackage.flatMap(([, modules]) => modules));
  await checkTopological(t, REAL!, c);
  t.log(`${c.order.length} modules; built in: ${c.builtin.join(', ')}`);
});
