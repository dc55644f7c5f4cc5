// The web page's build stage: the same bytes every time (the image stays reproducible), ES2020
// for the browsers people have, and nothing in it that would load from another host.
import { createHash } from 'node:crypto';
import test from 'ava';
import { PAGE_DIR, PAGE_POLICY } from '../../src/agent/api/page.ts';
import { bundlePage } from '../../src/builder/page.ts';

/** Each file's path and sha256. */
const digest = async () => (await bundlePage()).map((e) => [e.path, e.type === 'file' && 'data' in e ? createHash('sha256').update(e.data).digest('hex') : e.type]);

test('the page bundles to the same bytes twice, as three files under the directory the agent serves', async (t) => {
  const first = await digest();
  t.deepEqual(await digest(), first);
  t.deepEqual(first.map(([path]) => path), ['index.html', 'app.js', 'app.css'].map((f) => `${PAGE_DIR}/${f}`));
});

test('the page names no other host to load from, and the policy it is served with allows only the box', async (t) => {
  const files = await bundlePage();
  for (const e of files) {
    if (e.type !== 'file' || !('data' in e)) continue;
    // the profile schema's $id is a name, not something fetched
    const urls = (e.data.toString().match(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}\//gi) ?? []).filter((u) => !u.includes('picowire.dev/'));
    t.deepEqual(urls, [], `${e.path} names other hosts`);
  }
  t.regex(PAGE_POLICY, /default-src 'none'/);
  t.regex(PAGE_POLICY, /connect-src 'self'/);
  t.notRegex(PAGE_POLICY, /https?:|\*/);
});
