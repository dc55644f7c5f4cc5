import test from 'ava';
import { UserError } from '../../../src/common/errors.ts';
import { buildIndex, type DebPackage } from '../../../src/builder/fetch/packages-file.ts';
import { resolve } from '../../../src/builder/fetch/resolve.ts';

/** A package for a made-up index: `depends` is written as in a control file, alternatives with "|". */
function pkg(name: string, depends = '', extra: Partial<DebPackage> = {}): DebPackage {
  return {
    name,
    version: '1.0-1',
    filename: `pool/main/${name}_1.0-1_amd64.deb`,
    sha256: '0'.repeat(64),
    size: 1,
    section: 'misc',
    depends: depends ? depends.split(',').map((g) => g.split('|').map((a) => a.trim())) : [],
    provides: [],
    ...extra,
  };
}

const index = buildIndex(
  [
    pkg('linux-image-amd64', 'linux-image-6.1.0-50-amd64'),
    pkg('linux-image-6.1.0-50-amd64', 'kmod, linux-base, initramfs-tools | linux-initramfs-tool'),
    pkg('linux-image-cloud', 'linux-image-cloud-amd64'),
    pkg('linux-image-cloud-amd64', 'linux-image-6.1.0-50-cloud-amd64'),
    pkg('linux-image-6.1.0-50-cloud-amd64'),
    pkg('not-a-kernel', 'coreutils'),
    pkg('kmod', 'libkmod2'),
    pkg('libkmod2', 'libc6'),
    pkg('iproute2', 'debconf | debconf-2.0, libbpf1, libc6, libcap2-bin'),
    pkg('debconf', 'perl-base'),
    pkg('perl-base', 'libcrypt1'),
    pkg('libcrypt1', 'libc6'),
    pkg('libbpf1', 'libc6, libelf1, zlib1g'),
    pkg('libelf1', 'libc6, zlib1g'),
    pkg('zlib1g', 'libc6', { section: 'libs' }),
    pkg('libc6', 'libgcc-s1'),
    pkg('libgcc-s1', 'gcc-12-base, libc6'),
    pkg('gcc-12-base', '', { section: 'libs' }),
    pkg('libcap2-bin', 'libc6, libcap2'),
    pkg('libcap2', 'libc6'),
    pkg('nftables', 'libnftables-old | libnftables1, libedit2'),
    pkg('libnftables1', 'libc6'),
    pkg('libeditline-compat', 'libc6', { provides: ['libedit2'] }),
    pkg('broken', 'libnowhere | libnever'),
  ],
  'Debian bookworm main (amd64) at https://deb.debian.org/debian',
);

const names = (ps: DebPackage[]) => ps.map((p) => p.name);

test('a kernel meta package resolves through its Depends to the versioned image package', (t) => {
  t.is(resolve(index, { kernel: 'linux-image-amd64', packages: [] }).kernel.name, 'linux-image-6.1.0-50-amd64');
});

test('a chain of kernel meta packages is followed to the end', (t) => {
  t.is(resolve(index, { kernel: 'linux-image-cloud', packages: [] }).kernel.name, 'linux-image-6.1.0-50-cloud-amd64');
});

test('a versioned kernel package is taken as it is, and its own dependencies pull in nothing', (t) => {
  const r = resolve(index, { kernel: 'linux-image-6.1.0-50-amd64', packages: [] });
  t.is(r.kernel.name, 'linux-image-6.1.0-50-amd64');
  t.deepEqual(r.libraries, []);
});

test('a kernel that is neither an image nor a meta package for one is refused with an example', (t) => {
  const error = t.throws(() => resolve(index, { kernel: 'not-a-kernel', packages: [] }), { instanceOf: UserError });
  t.regex(error!.message, /kernel "not-a-kernel" is neither a kernel image package .* use e\.g\. linux-image-amd64/);
});

test('dependencies are followed only into library packages, transitively, never into tools like debconf or perl', (t) => {
  const r = resolve(index, { kernel: 'linux-image-amd64', packages: ['iproute2'] });
  t.deepEqual(names(r.packages), ['iproute2']);
  t.deepEqual(names(r.libraries), ['gcc-12-base', 'libbpf1', 'libc6', 'libcap2', 'libcap2-bin', 'libelf1', 'libgcc-s1', 'zlib1g']);
  t.false(names(r.libraries).includes('libcrypt1')); // only reachable through debconf → perl-base
});

test('a package in the archive section "libs" counts as a library even without the lib prefix', (t) => {
  const r = resolve(index, { kernel: 'linux-image-amd64', packages: ['libelf1'] });
  t.true(names(r.libraries).includes('zlib1g'));
});

test('the first alternative that exists is chosen, and a name only provided is taken from its provider', (t) => {
  const r = resolve(index, { kernel: 'linux-image-amd64', packages: ['nftables'] });
  t.deepEqual(names(r.libraries), ['gcc-12-base', 'libc6', 'libeditline-compat', 'libgcc-s1', 'libnftables1']);
});

test('a requested package that is only provided resolves to its provider', (t) => {
  t.deepEqual(names(resolve(index, { kernel: 'linux-image-amd64', packages: ['libedit2'] }).packages), ['libeditline-compat']);
});

test('a requested package is never listed again among the libraries', (t) => {
  const r = resolve(index, { kernel: 'linux-image-amd64', packages: ['iproute2', 'libc6'] });
  t.deepEqual(names(r.packages), ['iproute2', 'libc6']);
  t.false(names(r.libraries).includes('libc6'));
});

test('a package missing from the index is a UserError naming it and the suite', (t) => {
  const error = t.throws(() => resolve(index, { kernel: 'linux-image-amd64', packages: ['iproute2', 'iproute3'] }), { instanceOf: UserError });
  t.is(
    error!.message,
    'the recipe asks for package "iproute3", which is not in Debian bookworm main (amd64) at https://deb.debian.org/debian; check the name (apt-cache show iproute3) or the recipe\'s debian.suite',
  );
});

test('a missing kernel is a UserError naming it and the suite', (t) => {
  const error = t.throws(() => resolve(index, { kernel: 'linux-image-arm64', packages: [] }), { instanceOf: UserError });
  t.regex(error!.message, /^the recipe asks for kernel "linux-image-arm64", which is not in Debian bookworm main/);
});

test('a library dependency no package satisfies is a UserError naming the package and the dependency', (t) => {
  const error = t.throws(() => resolve(index, { kernel: 'linux-image-amd64', packages: ['broken'] }), { instanceOf: UserError });
  t.is(error!.message, 'broken 1.0-1 depends on libnowhere | libnever, and Debian bookworm main (amd64) at https://deb.debian.org/debian has none of them');
});

test('asked for headers, the kernel gets its own headers package, the common headers and kbuild (and asked for, its source), not the compiler', (t) => {
  const withHeaders = buildIndex(
    [
      pkg('linux-image-amd64', 'linux-image-6.1.0-50-amd64'),
      pkg('linux-image-6.1.0-50-amd64', 'kmod'),
      pkg('linux-headers-6.1.0-50-amd64', 'linux-headers-6.1.0-50-common, linux-kbuild-6.1, linux-compiler-gcc-12-x86'),
      pkg('linux-headers-6.1.0-50-common'),
      pkg('linux-kbuild-6.1', 'libc6, libelf1'),
      pkg('linux-compiler-gcc-12-x86', 'gcc-12'),
      pkg('linux-source-6.1', 'binutils, xz-utils'),
    ],
    'Debian test main (amd64)',
  );
  const want = { kernel: 'linux-image-amd64', packages: [] };
  t.deepEqual(resolve(withHeaders, want).headers, []);
  t.deepEqual(resolve(withHeaders, { ...want, headers: true }).headers.map((p) => p.name), ['linux-headers-6.1.0-50-amd64', 'linux-headers-6.1.0-50-common', 'linux-kbuild-6.1']);
  // netmap's native drivers are patched from the kernel's own source: its package joins the headers
  t.deepEqual(resolve(withHeaders, { ...want, headers: true, kernelSource: true }).headers.map((p) => p.name), ['linux-headers-6.1.0-50-amd64', 'linux-headers-6.1.0-50-common', 'linux-kbuild-6.1', 'linux-source-6.1']);
});

test('headers of another version than the kernel are refused, naming both versions', (t) => {
  const skewed = buildIndex(
    [pkg('linux-image-6.1.0-50-amd64'), pkg('linux-headers-6.1.0-50-amd64', 'linux-kbuild-6.1'), pkg('linux-kbuild-6.1', '', { version: '6.1.177-1' }), pkg('linux-source-6.1')],
    'Debian test main (amd64)',
  );
  const error = t.throws(() => resolve(skewed, { kernel: 'linux-image-6.1.0-50-amd64', packages: [], headers: true }), { instanceOf: UserError });
  t.is(error!.message, 'linux-kbuild-6.1 in Debian test main (amd64) is version 6.1.177-1, but the kernel linux-image-6.1.0-50-amd64 is 1.0-1: modules built against it would not load; pin a kernel whose headers the suite carries');
});

test('a kernel whose headers the index lacks is refused, naming the headers package', (t) => {
  const bare = buildIndex([pkg('linux-image-6.1.0-50-amd64')], 'Debian test main (amd64)');
  const error = t.throws(() => resolve(bare, { kernel: 'linux-image-6.1.0-50-amd64', packages: [], headers: true }), { instanceOf: UserError });
  t.regex(error!.message, /needs the headers package "linux-headers-6\.1\.0-50-amd64", which is not in Debian test main \(amd64\)/);
});
