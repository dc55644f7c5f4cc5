// The web page's files as the image has them, served beside the API on a loopback port, in front of
// a stand-in box whose counters grow at the bw of the profile in force: what the host-side browser
// tests (test/web/page.test.ts, test/web/browsers.test.ts) open. The real box: test/vm/web.test.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createApi } from '../../src/agent/api/server.ts';
import { pageRoutes } from '../../src/agent/api/page.ts';
import type { Box } from '../../src/agent/api/box.ts';
import { bundlePage } from '../../src/builder/page.ts';
import { resolve } from '../../src/profile/validate.ts';
import { fakeBox, status } from './fake-box.ts';

export const TOKEN = 'host-test-token-7c1e2d9a4b';

/** A box whose `up` pipe has carried its profile's bw since it was applied; a profile named "kernel-refuses" fails as a kernel refusal would. */
function countingBox(notes: string[]): Box {
  const { box } = fakeBox();
  let since = Date.now();
  let bytesBefore = 0;
  const bwOf = () => resolve(box.inForce()!).pipes.up?.bw ?? 0;
  return {
    ...box,
    status: async () => ({ ...status, ...(notes.length && { notes }), profile: box.inForce()?.name ?? null, pipes: [{ ...status.pipes[0]!, bytes: Math.round(bytesBefore + ((Date.now() - since) / 1000) * (bwOf() / 8)), packets: 0 }] }),
    async apply(profile, source) {
      if ((profile as { name?: string }).name === 'kernel-refuses') return { inForce: box.inForce(), applied: false, errors: ['tc: RTNETLINK answers: No buffer space available'], ms: 5 };
      const outcome = await box.apply(profile, source);
      if (outcome.applied) (bytesBefore = 0), (since = Date.now()); // a new profile's qdiscs count from 0
      return outcome;
    },
  };
}

/** The page and the API of a counting box (saying `notes` in its status) on a loopback port; `close` stops both and removes the files. */
export async function servePage(notes: string[] = []): Promise<{ url: string; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-page-'));
  for (const e of await bundlePage()) if (e.type === 'file' && 'data' in e) await writeFile(join(dir, basename(e.path)), e.data);
  const page = new Map(pageRoutes(dir).map((r) => [r.path, r]));
  const api = await createApi(countingBox(notes), TOKEN);
  const server = createServer((req, res) => {
    const route = page.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (route) void route.handle({ req, res } as Parameters<typeof route.handle>[0]);
    else api.handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      server.closeAllConnections();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
