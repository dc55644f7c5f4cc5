// The kernel modules an image needs: the features' module names, closed over modules.dep and the
// softdeps (DESIGN.md: libcrc32c fails to load without crc32c_generic), in an order insmod can follow.
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { UserError } from '../common/errors.ts';

export interface ModuleClosure {
  /** module names (with "_"), dependencies first: the load order */
  order: string[];
  /** each module's file relative to lib/modules/<ver>/; files[i] belongs to order[i] */
  files: string[];
  /** requested names that are built into the kernel, so need no file */
  builtin: string[];
}

/** What depmod wrote about one kernel's modules, keyed by normalized module name. */
interface ModuleIndex {
  files: Map<string, string>;
  deps: Map<string, string[]>;
  pre: Map<string, string[]>;
  post: Map<string, string[]>;
  builtin: Set<string>;
  aliases: { pattern: string; module: string }[];
}

/** The release of the one kernel an unpacked kernel package holds (6.1.0-50-amd64): its lib/modules/ folder's name. */
export async function kernelRelease(kernelRoot: string): Promise<string> {
  const versions = await readdir(join(kernelRoot, 'lib/modules'));
  if (versions.length !== 1) throw new UserError(`kernel package holds ${versions.length} module trees (${versions.join(', ')}); expected one`);
  return versions[0]!;
}

/** Kernel module names treat "-" and "_" alike; the kernel itself uses "_". */
export function moduleName(nameOrPath: string): string {
  return basename(nameOrPath).replace(/\.ko(\.(xz|gz|zst))?$/, '').replace(/-/g, '_');
}

/**
 * The modules to load for `wanted` (names or aliases), with everything they depend on and their
 * softdeps (pre: before, post: after), read from modulesDir's modules.dep, modules.softdep,
 * modules.builtin and modules.alias. A softdep that names nothing loadable is skipped, as modprobe
 * does; a wanted name that is neither a module, nor built in, nor an alias is an error (all listed).
 */
export async function moduleClosure(modulesDir: string, wanted: string[]): Promise<ModuleClosure> {
  const index = await readIndex(modulesDir);
  const builtin = new Set<string>();
  const unknown: string[] = [];
  const roots: string[] = [];
  for (const name of wanted) {
    const r = resolve(index, name);
    if (r === 'builtin') builtin.add(moduleName(name));
    else if (r.length) roots.push(...r);
    else unknown.push(name);
  }
  if (unknown.length) {
    throw new UserError(
      `kernel ${basename(modulesDir)} has no module, built-in or alias named ${[...new Set(unknown)].join(', ')} ` +
        `(read modules.dep, modules.builtin and modules.alias in ${modulesDir}); check the spelling or drop the name`,
    );
  }

  // the closure: every hard dependency and every softdep that resolves to a loadable module
  const pre = new Map<string, string[]>(), post = new Map<string, string[]>();
  const soft = (m: string, key: 'pre' | 'post') => (index[key].get(m) ?? []).flatMap((n) => resolve(index, n)).filter((x) => x !== 'builtin');
  const todo = [...roots];
  for (let m = todo.pop(); m !== undefined; m = todo.pop()) {
    if (pre.has(m)) continue;
    pre.set(m, soft(m, 'pre'));
    post.set(m, soft(m, 'post'));
    todo.push(...(index.deps.get(m) ?? []), ...pre.get(m)!, ...post.get(m)!);
  }
  const hard = new Map([...pre.keys()].map((m) => [m, new Set(index.deps.get(m) ?? [])]));
  const after = new Map([...pre].map(([m, p]) => [m, new Set([...hard.get(m)!, ...p])])); // what must load before m
  for (const [m, p] of post) for (const x of p) after.get(x)!.add(m);
  const order = loadOrder(after, hard);
  return { order, files: order.map((m) => index.files.get(m)!), builtin: [...builtin].sort() };
}

/** A topological order, smallest name first among the ready; a softdep cycle is broken, never a hard one. */
function loadOrder(after: Map<string, Set<string>>, hard: Map<string, Set<string>>): string[] {
  const done = new Set<string>();
  const order: string[] = [];
  const left = [...after.keys()].sort();
  while (left.length) {
    const ready = (need: Map<string, Set<string>>) => left.findIndex((m) => [...need.get(m)!].every((d) => done.has(d)));
    let i = ready(after);
    // only softdeps can form a cycle (the kernel refuses cyclic symbol dependencies): drop them for one module
    if (i < 0) i = ready(hard);
    if (i < 0) throw new Error(`modules.dep has a dependency cycle among ${left.join(', ')}`);
    const [m] = left.splice(i, 1);
    done.add(m!);
    order.push(m!);
  }
  return order;
}

/** The module names `name` stands for: itself, "builtin", or the modules its alias matches ([] if none). */
function resolve(index: ModuleIndex, name: string): string[] | 'builtin' {
  const n = moduleName(name);
  if (index.files.has(n)) return [n];
  if (index.builtin.has(n)) return 'builtin';
  return [...new Set(index.aliases.filter((a) => aliasMatches(a.pattern, name)).map((a) => a.module))].sort();
}

/** Reads depmod's text files; modules.dep is required, the others may be absent. */
async function readIndex(dir: string): Promise<ModuleIndex> {
  const lines = (file: string, required = false) => nonBlankLines(dir, file, required);
  const index: ModuleIndex = { files: new Map(), deps: new Map(), pre: new Map(), post: new Map(), builtin: new Set(), aliases: [] };

  for (const line of await lines('modules.dep', true)) {
    const [file, rest = ''] = line.split(':');
    index.files.set(moduleName(file!), file!);
    index.deps.set(moduleName(file!), rest.split(/\s+/).filter(Boolean).map(moduleName));
  }
  for (const line of await lines('modules.builtin')) index.builtin.add(moduleName(line));
  for (const line of await lines('modules.softdep')) {
    // "softdep mod pre: a b post: c": names before any "pre:"/"post:" are ignored, as modprobe does
    const [, mod, ...tokens] = line.split(/\s+/);
    let key: 'pre' | 'post' | undefined;
    for (const t of tokens) {
      if (t === 'pre:' || t === 'post:') key = t === 'pre:' ? 'pre' : 'post';
      else if (key) index[key].set(moduleName(mod!), [...(index[key].get(moduleName(mod!)) ?? []), t]);
    }
  }
  for (const line of await lines('modules.alias')) {
    const [, pattern, mod] = line.split(/\s+/);
    if (pattern && mod) index.aliases.push({ pattern, module: moduleName(mod) });
  }
  return index;
}

/** The lines of one of depmod's files, without comments; a missing optional file has none. */
async function nonBlankLines(dir: string, file: string, required: boolean): Promise<string[]> {
  let text = '';
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (required) {
      throw new UserError(`${join(dir, file)} is missing: Debian's kernel package ships none; run "depmod -b <package root> ${basename(dir)}" (Debian package kmod) on the unpacked kernel first`);
    }
  }
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** Whether an alias pattern (a plain name, or an fnmatch glob such as pci:v00008086d*) matches name. */
function aliasMatches(pattern: string, name: string): boolean {
  const glob = pattern.search(/[*?[]/);
  if (glob < 0) return pattern.replace(/-/g, '_') === name.replace(/-/g, '_');
  // most of the ~26,000 aliases are device globs: compare the literal prefix before building a RegExp
  if (!name.startsWith(pattern.slice(0, glob))) return false;
  const source = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.').replace(/\[!/g, '[^');
  return new RegExp(`^${source}$`).test(name);
}
