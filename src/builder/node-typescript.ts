// Node.js 22 strips TypeScript's types with amaro (swc compiled to WebAssembly), a builtin module
// of 3.4 MB of JavaScript, 0.9 MB of the zstd squashfs: more than the whole SSH server costs. The
// appliance runs JavaScript only (the agent's bundle), so a recipe with `node.typescript: false`
// blanks that builtin in place: same length, so every offset in the binary stays. Running a .ts
// file then fails with a SyntaxError from node:internal/deps/amaro; JavaScript is untouched.
import { execa } from 'execa';
import { UserError } from '../common/errors.ts';

/** The builtin that node:internal/modules/typescript loads to strip types. */
export const AMARO = 'internal/deps/amaro/dist/index';

/** What the blanked builtin says, were its first line ever run. */
const NOTICE = "throw new Error('this Node.js has no TypeScript support: the picowire recipe removed amaro');";

/** The source of one of the binary's builtin modules, as the binary itself gives it (Latin-1, as it is stored). */
export async function builtinSource(node: string, name: string): Promise<Buffer> {
  const script = `const s = process.binding('natives')[${JSON.stringify(name)}]; if (s === undefined) process.exit(3); process.stdout.write(Buffer.from(s, 'latin1'));`;
  const result = await execa(node, ['--expose-internals', '--no-deprecation', '-e', script], { encoding: 'buffer', reject: false, extendEnv: false, env: { PATH: '/usr/bin:/bin' } });
  if (result.exitCode !== 0) throw new UserError(`the Node.js binary has no builtin ${name} to remove (exit ${result.exitCode}); set node.typescript to true in the recipe`);
  return Buffer.from(result.stdout);
}

/** A copy of `elf` with the one stored copy of `source` overwritten by a throwing line and spaces. */
export function withBlankedSource(elf: Buffer, source: Buffer, name: string): Buffer {
  const at = elf.indexOf(source);
  if (at < 0 || elf.indexOf(source, at + 1) >= 0) {
    throw new UserError(`the builtin ${name} is stored ${at < 0 ? 'nowhere' : 'more than once'} in the Node.js binary as Latin-1 text; set node.typescript to true in the recipe`);
  }
  const out = Buffer.from(elf);
  out.fill(' ', at, at + source.length);
  out.write(NOTICE.slice(0, source.length), at, 'latin1');
  return out;
}
