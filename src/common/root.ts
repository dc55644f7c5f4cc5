// Where picowire's own files are (overlays/, recipes/, src/agent/): the folder of its package.json,
// found from this module whether it runs from src/ under tsx or bundled into dist/picowire.js.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The nearest folder at or above `from` whose package.json names picowire. */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'picowire') return dir;
    if (dirname(dir) === dir) throw new Error(`picowire's package.json not found above ${from}`);
  }
}

export const PACKAGE_ROOT = findRoot(import.meta.dirname);
/** package.json's version */
export const VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
