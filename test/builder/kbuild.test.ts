// The kernel build tree made from three headers packages: their cross-package symlinks resolve, the
// Makefile includes the tree's own common headers, and the cached packages are never written to.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import type { Unpacked } from '../../src/builder/fetch/index.ts';
import { kernelBuildTree } from '../../src/builder/kbuild.ts';

const RELEASE = '6.1.0-50-amd64';
const ORIGINAL = 'include /usr/src/linux-headers-6.1.0-50-common/Makefile\n';

let dir: string;
test.before(async () => void (dir = await mkdtemp(join(tmpdir(), 'picowire-kbuild-test-'))));
test.after.always(() => rm(dir, { recursive: true, force: true }));

/** Three fake unpacked packages laid out as Debian's headers packages are; `cc` is the .kernelvariables CC line. */
async function headers(name: string, cc = 'CC = $(if $(DEBIAN_KERNEL_USE_CCACHE),$(CCACHE)) $(CROSS_COMPILE)gcc-12'): Promise<Unpacked[]> {
  const base = join(dir, name);
  const arch = join(base, 'arch/usr/src', `linux-headers-${RELEASE}`);
  await mkdir(arch, { recursive: true });
  await writeFile(join(arch, 'Makefile'), ORIGINAL);
  await writeFile(join(arch, '.kernelvariables'), `override ARCH = x86\n${cc}\n`);
  await symlink('../../lib/linux-kbuild-6.1/scripts', join(arch, 'scripts'));
  await mkdir(join(base, 'common/usr/src/linux-headers-6.1.0-50-common'), { recursive: true });
  await writeFile(join(base, 'common/usr/src/linux-headers-6.1.0-50-common/Makefile'), 'the common Makefile\n');
  await mkdir(join(base, 'kbuild/usr/lib/linux-kbuild-6.1/scripts'), { recursive: true });
  await writeFile(join(base, 'kbuild/usr/lib/linux-kbuild-6.1/scripts/fixdep'), 'a host tool\n');
  const unpacked = (pkg: string, sub: string): Unpacked => ({
    package: pkg,
    root: join(base, sub),
    input: { name: pkg, version: '6.1.176-1', url: 'x', path: 'x', integrity: `sha256-${name}-${sub}`, verifiedBy: 'test' },
  });
  return [unpacked(`linux-headers-${RELEASE}`, 'arch'), unpacked('linux-headers-6.1.0-50-common', 'common'), unpacked('linux-kbuild-6.1', 'kbuild')];
}

test('the tree joins the packages, its Makefile includes its own common headers, and the packages stay as they were', async (t) => {
  const pkgs = await headers('joined');
  const tree = await kernelBuildTree(pkgs, RELEASE, join(dir, 'cache'));
  t.is(tree.dir, join(tree.root, 'usr/src', `linux-headers-${RELEASE}`));
  t.is(tree.compiler, 'gcc-12');
  const makefile = await readFile(join(tree.dir, 'Makefile'), 'utf8');
  t.is(makefile, `include ${tree.root}/usr/src/linux-headers-6.1.0-50-common/Makefile\n`);
  t.is(await readFile(join(tree.root, 'usr/src/linux-headers-6.1.0-50-common/Makefile'), 'utf8'), 'the common Makefile\n');
  t.is(await readFile(join(tree.dir, 'scripts/fixdep'), 'utf8'), 'a host tool\n'); // the symlink across packages resolves
  t.is(await readFile(join(pkgs[0]!.root, 'usr/src', `linux-headers-${RELEASE}`, 'Makefile'), 'utf8'), ORIGINAL);
  // made once: a second call finds it
  t.deepEqual(await kernelBuildTree(pkgs, RELEASE, join(dir, 'cache')), tree);
});

test('headers whose .kernelvariables name no gcc are refused, saying so', async (t) => {
  const error = await t.throwsAsync(kernelBuildTree(await headers('nocc', 'CC = clang'), RELEASE, join(dir, 'cache')), { instanceOf: UserError });
  t.regex(error!.message, /\.kernelvariables names no gcc-<version> as CC/);
});

test('headers of another kernel release are refused, naming the release', async (t) => {
  const error = await t.throwsAsync(kernelBuildTree(await headers('other'), '6.1.0-51-amd64', join(dir, 'cache')), { instanceOf: UserError });
  t.regex(error!.message, /have no usr\/src\/linux-headers-6\.1\.0-51-amd64\/Makefile; is the lock's kernel 6\.1\.0-51-amd64\?/);
});
