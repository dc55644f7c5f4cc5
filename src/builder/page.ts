// The web page the agent serves (src/web/): its script and stylesheet bundled by esbuild for the
// browsers people have (plain ES2020), minified, with the HTML, as files under /opt/picowire/web.
// Deterministic for the same sources: esbuild writes no paths or times into its output.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { PACKAGE_ROOT } from '../common/root.ts';
import type { Entry } from './types.ts';
import { PAGE_DIR } from '../agent/api/page.ts';

const SOURCE = join(PACKAGE_ROOT, 'src/web');

/** The page's files for the image: index.html, app.js and app.css. */
export async function bundlePage(): Promise<Entry[]> {
  const result = await build({
    entryPoints: { app: join(SOURCE, 'main.ts'), style: join(SOURCE, 'style.css') },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    write: false,
    outdir: '/page',
    logLevel: 'warning',
  });
  const out = (name: string) => Buffer.from(result.outputFiles.find((f) => f.path === `/page/${name}`)!.contents);
  const file = (name: string, data: Buffer): Entry => ({ type: 'file', path: `${PAGE_DIR}/${name}`, mode: 0o644, data });
  return [file('index.html', await readFile(join(SOURCE, 'index.html'))), file('app.js', out('app.js')), file('app.css', out('style.css'))];
}
