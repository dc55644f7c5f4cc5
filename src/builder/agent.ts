// The on-boot agent as one file: esbuild bundles src/agent/main.ts and everything it imports.
import { join } from 'node:path';
import { build } from 'esbuild';
import { PACKAGE_ROOT } from '../common/root.ts';

const ENTRY = join(PACKAGE_ROOT, 'src/agent/main.ts');

/** Bundles the agent for the image's Node runtime; the result is deterministic for the same sources. */
export async function bundleAgent(opts: { nodeMajor: number }): Promise<Buffer> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${opts.nodeMajor}`,
    minify: true,
    legalComments: 'none',
    write: false,
    // CommonJS dependencies call require(); give the ESM bundle one
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  return Buffer.from(result.outputFiles[0]!.contents);
}
