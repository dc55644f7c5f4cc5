// The output formats by name: the builder writes each format a recipe lists with the writer here.
// All take the same inputs (kernel, initrd, command line, context) and return the paths they wrote.
import type { OutputWriter } from '../builder/types.ts';
import type { OUTPUT_FORMATS } from '../builder/recipe.ts';
import { writeDisk } from './disk.ts';
import { writeIso } from './iso.ts';
import { writePxe } from './pxe.ts';
import { writeQcow2 } from './qcow2.ts';

export const OUTPUTS: Record<(typeof OUTPUT_FORMATS)[number], OutputWriter> = {
  iso: writeIso,
  img: writeDisk,
  qcow2: writeQcow2,
  pxe: writePxe,
};
