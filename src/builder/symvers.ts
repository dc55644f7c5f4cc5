// Programs compiled on the build machine (netmap's apps) are linked against the host's libc but run
// against the image's, which the lock pins. A symbol version the image's library does not define
// (a newer host: "version `GLIBC_2.38' not found") would only show when the program runs on the
// appliance; this finds it at build time, from the version tables objdump prints.
import { basename } from 'node:path';
import { UserError } from '../common/errors.ts';
import { runTool } from './fetch/host-tool.ts';

/** objdump -p's version tables: what a file needs from each library, and what it defines itself. */
async function versionTables(file: string): Promise<{ needs: Map<string, string[]>; defines: Set<string> }> {
  const text = (await runTool('objdump', ['-p', file], 'binutils', `read the symbol versions of ${file}`)).toString('utf8');
  const needs = new Map<string, string[]>();
  const defines = new Set<string>();
  let section = '';
  let from = '';
  for (const line of text.split('\n')) {
    if (/^[A-Z][\w ]*:\s*$/.test(line)) section = line.trim(); // a heading such as "Version definitions:"
    const required = /^\s+required from (\S+):$/.exec(line);
    if (required) from = required[1]!;
    else if (section === 'Version References:' && from) {
      const name = /^\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (\S+)$/.exec(line)?.[1];
      if (name) needs.set(from, [...(needs.get(from) ?? []), name]);
    } else if (section === 'Version definitions:') {
      const name = /^\d+ 0x[0-9a-f]+ 0x[0-9a-f]+ (\S+)/.exec(line)?.[1];
      if (name) defines.add(name);
    }
  }
  return { needs, defines };
}

/** Refuses programs that need symbol versions their libraries in the image (image path → host file) do not define, naming each. */
export async function checkSymbolVersions(programs: { path: string; file: string }[], libraries: { path: string; file: string }[]): Promise<void> {
  const problems: string[] = [];
  for (const program of programs) {
    for (const [soname, versions] of (await versionTables(program.file)).needs) {
      const lib = libraries.find((l) => basename(l.path) === soname);
      if (!lib) continue; // libraryClosure already refuses a library the image lacks
      const { defines } = await versionTables(lib.file);
      const missing = versions.filter((v) => !defines.has(v));
      if (missing.length) problems.push(`${program.path} needs ${missing.join(', ')} from ${soname}, which the image's ${lib.path} does not define`);
    }
  }
  if (problems.length) {
    throw new UserError(
      `programs built on this machine would not run on the image:\n  ${problems.join('\n  ')}\n` +
        "they were linked against this machine's newer C library; build on the recipe's Debian suite (bookworm for the default recipe)",
    );
  }
}
