// The web page (src/web/, bundled into /opt/picowire/web by src/builder/page.ts) as routes: the
// page's own files need no token, since they carry no data; every API call the page makes sends
// it. The policy headers keep the page to the box: it may load and ask nothing from anywhere else.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpError } from './errors.ts';
import type { Route } from './routes.ts';

/** Where the image keeps the page (src/builder/page.ts writes it there). */
export const PAGE_DIR = '/opt/picowire/web';

/** The page's files by path, and what each is. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** Only the box: no CDN, no fonts, no frames; uPlot sizes its canvases with style attributes. */
export const PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** A GET route for each of the page's files, read from `dir` once and kept. */
export function pageRoutes(dir = PAGE_DIR): Route[] {
  const kept = new Map<string, Buffer>();
  return Object.entries(FILES).map(([path, { file, type }]) => ({
    method: 'GET' as const,
    path,
    token: false,
    async handle({ res }) {
      let data = kept.get(file);
      if (!data) {
        try {
          kept.set(file, (data = await readFile(join(dir, file))));
        } catch {
          throw new HttpError(404, [`${path}: the web page is not in this image (${join(dir, file)} is missing); the API is at /api/v1/`]);
        }
      }
      res.writeHead(200, {
        'content-type': type,
        'content-length': String(data.length),
        'cache-control': 'no-cache',
        'content-security-policy': PAGE_POLICY,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(data);
    },
  }));
}
