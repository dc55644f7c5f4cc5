// The official Node.js binary carries its symbol tables and debug info (18 MB of a 125 MB file);
// an appliance has no use for them. The stripped copy is cached beside the original.
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { execa } from 'execa';

/** A stripped copy of an ELF binary, made once next to it and reused. */
export async function stripped(binary: string): Promise<string> {
  const out = `${binary}.stripped`;
  if (existsSync(out)) return out;
  const tmp = `${out}.tmp-${process.pid}`;
  await execa('strip', ['--strip-all', '-o', tmp, binary]);
  await rename(tmp, out);
  return out;
}
