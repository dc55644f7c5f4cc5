// Which Debian packages a recipe needs, decided from a package index alone (pure: no I/O).
//
// The rule for dependencies: an image is not a Debian system. It takes the files of the packages
// the recipe names, and from their dependencies only the shared libraries the binaries load (the
// ELF closure, computed later from the binaries' headers). So Depends and Pre-Depends are followed
// only into library packages, transitively; scripts, config tools and data packages (debconf,
// init systems, ...) are never pulled in. A library package is one whose name starts with "lib" or
// whose archive Section is "libs" (zlib1g, which iproute2 and nftables need through libbpf1 and
// libelf1, is named otherwise). For each dependency the first alternative that exists wins, and a
// name no package has is taken from its providers (Provides), as apt would. Version constraints are
// not checked: one suite of one archive is consistent by construction.
import { UserError } from '../../common/errors.ts';
import type { DebPackage, PackageIndex } from './packages-file.ts';

export interface Resolution {
  /** the real kernel image package (never the meta package the recipe may name) */
  kernel: DebPackage;
  /** the packages the recipe names, in recipe order */
  packages: DebPackage[];
  /** library packages the named packages depend on, transitively, sorted by name */
  libraries: DebPackage[];
  /** the kernel's headers and kbuild packages, when asked for (out-of-tree modules are built against them) */
  headers: DebPackage[];
}

/** Resolves a recipe's kernel and packages against an index; a name the index lacks is a UserError. */
export function resolve(index: PackageIndex, want: { kernel: string; packages: string[]; libraries?: string[]; headers?: boolean; kernelSource?: boolean }): Resolution {
  const kernel = resolveKernel(index, want.kernel);
  const packages = want.packages.map((name) => mustFind(index, name, 'the recipe asks for package'));
  const named = new Set([kernel.name, ...packages.map((p) => p.name)]);
  const libraries = new Map<string, DebPackage>();
  // library packages the recipe names itself (the Node runtime's libstdc++, say) seed the closure
  for (const name of want.libraries ?? []) {
    const lib = mustFind(index, name, 'the recipe asks for library package');
    if (!named.has(lib.name)) libraries.set(lib.name, lib);
  }
  const queue = [...packages, ...libraries.values()];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const alternatives of p.depends) {
      const chosen = firstExisting(index, alternatives);
      if (!chosen) {
        if (alternatives.some((a) => a.startsWith('lib'))) {
          throw new UserError(`${p.name} ${p.version} depends on ${alternatives.join(' | ')}, and ${index.label} has none of them`);
        }
        continue;
      }
      if (!isLibrary(chosen) || named.has(chosen.name) || libraries.has(chosen.name)) continue;
      libraries.set(chosen.name, chosen);
      queue.push(chosen);
    }
  }
  const headers = want.headers ? resolveHeaders(index, kernel, !!want.kernelSource) : [];
  return { kernel, packages, libraries: [...libraries.values()].sort((a, b) => a.name.localeCompare(b.name)), headers };
}

/**
 * The headers of exactly this kernel: linux-headers-<release> (from linux-image-<release>) and what it
 * depends on among linux-headers-* and linux-kbuild-* (the common headers, the prebuilt kbuild
 * tools); its compiler package is the build host's gcc, a host tool, not an input. With `source`, the
 * kernel's source too, linux-source-<major.minor> of the same version: netmap's native drivers are the
 * kernel's own driver sources with netmap's patches (src/builder/kernel-source.ts takes only those files).
 */
function resolveHeaders(index: PackageIndex, kernel: DebPackage, withSource: boolean): DebPackage[] {
  const release = kernel.name.replace(/^linux-image-/, '').replace(/-unsigned$/, '');
  const main = mustFind(index, `linux-headers-${release}`, `kernel ${kernel.name} ${kernel.version} needs the headers package`);
  const deps = main.depends.map((alternatives) => firstExisting(index, alternatives)).filter((p): p is DebPackage => !!p && /^linux-(headers|kbuild)-/.test(p.name));
  const series = /^\d+\.\d+/.exec(release)?.[0] ?? release;
  const source = withSource ? [mustFind(index, `linux-source-${series}`, `kernel ${kernel.name} ${kernel.version} needs its source package for netmap's native drivers`)] : [];
  const all = [main, ...deps, ...source];
  const other = all.find((p) => p.version !== kernel.version);
  if (other) {
    throw new UserError(`${other.name} in ${index.label} is version ${other.version}, but the kernel ${kernel.name} is ${kernel.version}: modules built against it would not load; pin a kernel whose headers the suite carries`);
  }
  return all.sort((a, b) => a.name.localeCompare(b.name));
}

/** True for the packages dependencies are followed into (see the rule at the top of this file). */
export function isLibrary(p: DebPackage): boolean {
  return p.name.startsWith('lib') || p.section === 'libs';
}

/** The package a name stands for: the real package of that name, else the first (by name) that provides it. */
export function lookup(index: PackageIndex, name: string): DebPackage | undefined {
  const real = index.packages.get(name);
  if (real) return real;
  const provider = index.providers.get(name)?.[0];
  return provider === undefined ? undefined : index.packages.get(provider);
}

/** The first alternative of a dependency that the index has, as apt picks it. */
function firstExisting(index: PackageIndex, alternatives: string[]): DebPackage | undefined {
  for (const name of alternatives) {
    const p = lookup(index, name);
    if (p) return p;
  }
  return undefined;
}

/** Looks a name up or throws a UserError naming it and the suite. */
function mustFind(index: PackageIndex, name: string, what: string): DebPackage {
  const p = lookup(index, name);
  if (!p) throw new UserError(`${what} "${name}", which is not in ${index.label}; check the name (apt-cache show ${name}) or the recipe's debian.suite`);
  return p;
}

// real kernel image packages carry the kernel release in their name: linux-image-6.1.0-50-amd64
const REAL_KERNEL = /^linux-image-\d/;

/** Follows a kernel meta package (linux-image-amd64) through its Depends to the versioned image package. */
function resolveKernel(index: PackageIndex, name: string): DebPackage {
  let p = mustFind(index, name, 'the recipe asks for kernel');
  for (let hops = 0; !REAL_KERNEL.test(p.name); hops++) {
    const next = hops < 5 ? p.depends.flat().find((d) => d.startsWith('linux-image-') && lookup(index, d)) : undefined;
    if (!next) {
      throw new UserError(
        `kernel "${name}" is neither a kernel image package (linux-image-<version>-<flavour>) nor a meta package depending on one in ${index.label}; use e.g. linux-image-amd64`,
      );
    }
    p = lookup(index, next)!;
  }
  return p;
}
