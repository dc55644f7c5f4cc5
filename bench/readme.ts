// The README's measured tables live between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers;
// the benchmarks rewrite them from their results, and nothing else edits them.
import { readFile, writeFile } from 'node:fs/promises';

/** Replaces the block between the NAME markers in the README with `lines`; a README without the markers is an error. */
export async function writeReadmeBlock(readmePath: string, name: string, lines: string[]): Promise<void> {
  const readme = await readFile(readmePath, 'utf8');
  const block = new RegExp(`<!-- ${name}:start -->[\\s\\S]*<!-- ${name}:end -->`);
  if (!block.test(readme)) throw new Error(`${readmePath} has no <!-- ${name}:start --> … <!-- ${name}:end --> block to write the table into`);
  await writeFile(readmePath, readme.replace(block, () => `<!-- ${name}:start -->\n${lines.join('\n')}\n<!-- ${name}:end -->`));
}
