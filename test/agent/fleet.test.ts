// Fleet profiles (fleet.ts) against a real HTTP server on 127.0.0.1: the URL filled in per box, the
// first fetch applied, an unchanged profile (ETag or same body) not applied again, a change applied,
// an outage or a refused profile said once and in status, and bad settings refused with the reason.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import test, { type ExecutionContext } from 'ava';
import { fillUrl, parseProfileUrl, startFleet } from '../../src/agent/fleet.ts';
import type { Found } from '../../src/agent/sources.ts';
import { validateProfile } from '../../src/profile/validate.ts';
import { freeLoopbackPort } from '../../src/lab/lab.ts';
import { fakeRoot } from '../helpers/fake-root.ts';

/** A profile server: `body` is served with an ETag of its own; each request is counted with its If-None-Match. */
async function server(t: ExecutionContext, body: { text: string; status?: number }) {
  const requests: (string | undefined)[] = [];
  const srv: Server = createServer((req, res) => {
    requests.push(req.headers['if-none-match']);
    const etag = `"${createHash('sha256').update(body.text).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) return res.writeHead(304).end();
    res.writeHead(body.status ?? 200, { 'content-type': 'application/json', etag }).end(body.text);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/p.json`, requests };
}

/** An apply that validates as the agent does and records what it got. */
function applier() {
  const applied: unknown[] = [];
  const apply = async (found: Found) => {
    const value = 'value' in found ? found.value : undefined;
    const checked = validateProfile(value);
    if (checked.ok) applied.push(value);
    return { applied: checked.ok, errors: checked.ok ? [] : checked.errors };
  };
  return { applied, apply };
}

const profile = (name: string) => JSON.stringify({ name, pipes: {}, rules: [] });

test('the setting is a URL and an optional poll interval; anything else is refused with what is allowed', (t) => {
  t.deepEqual(parseProfileUrl('http://198.19.0.2/{mac}.json\n'), { template: 'http://198.19.0.2/{mac}.json', everyMs: 60_000 });
  t.deepEqual(parseProfileUrl('https://lab/p.json every 30s'), { template: 'https://lab/p.json', everyMs: 30_000 });
  t.regex((parseProfileUrl('ftp://lab/p') as { error: string }).error, /has the scheme ftp; allowed: http, https/);
  t.regex((parseProfileUrl('http://lab/{uuid}.json') as { error: string }).error, /names \{uuid\}; allowed: \{mac\}, \{serial\}, \{hostname\}/);
  t.regex((parseProfileUrl('http://lab/p every 10ms') as { error: string }).error, /is not a poll interval; allowed: "every" and a duration of 1 s or more/);
  t.regex((parseProfileUrl('') as { error: string }).error, /is empty/);
});

test('the URL is filled in with port a\'s MAC and the DMI serial, URL-encoded', async (t) => {
  const root = await fakeRoot({ 'sys/class/net/a/address': '52:54:00:70:77:0a\n', 'sys/class/dmi/id/product_serial': 'SN 42/7\n' });
  t.is(await fillUrl('http://198.19.0.2/{mac}/{serial}.json', root), 'http://198.19.0.2/52%3A54%3A00%3A70%3A77%3A0a/SN%2042%2F7.json');
});

test('the first fetch is applied; an unchanged profile is not applied again, and the next poll sends the ETag', async (t) => {
  const body = { text: profile('fleet-1') };
  const srv = await server(t, body);
  const { applied, apply } = applier();
  const said: string[] = [];
  const fleet = startFleet(srv.url, 60_000, apply, (l) => said.push(l));
  t.teardown(() => fleet.stop());
  await fleet.poll();
  t.deepEqual(applied, [JSON.parse(body.text)]);
  t.is(fleet.state().last, 'in force');
  await fleet.poll();
  t.is(applied.length, 1, 'a 304 applies nothing');
  t.truthy(srv.requests[1], 'the second request carried If-None-Match');
  body.text = profile('fleet-2');
  await fleet.poll();
  t.deepEqual(applied.map((p) => (p as { name: string }).name), ['fleet-1', 'fleet-2']);
  t.deepEqual(said, [`profile_url ${srv.url}: in force`], 'said once, not at every poll');
});

test('an unreachable URL and a refused profile are said once each, and the profile in force stays', async (t) => {
  const port = await freeLoopbackPort();
  const { applied, apply } = applier();
  const said: string[] = [];
  const down = startFleet(`http://127.0.0.1:${port}/p.json`, 60_000, apply, (l) => said.push(l));
  t.teardown(() => down.stop());
  await down.poll();
  await down.poll();
  t.is(said.length, 1);
  t.regex(said[0]!, /unreachable \(ECONNREFUSED\); the profile in force stays/);

  const srv = await server(t, { text: JSON.stringify({ name: 'bad', pipes: { p: { bw: 'fast' } }, rules: [] }) });
  const refused = startFleet(srv.url, 60_000, apply, (l) => said.push(l));
  t.teardown(() => refused.stop());
  await refused.poll();
  await refused.poll();
  t.regex(said.at(-1)!, /refused \(1 errors, on the console\); the profile in force stays/);
  t.is(applied.length, 0);
  t.is(said.length, 2, 'the same refusal is not said (or sent) again');
  const notJson = await server(t, { text: '{ nope' });
  const broken = startFleet(notJson.url, 60_000, apply, (l) => said.push(l));
  t.teardown(() => broken.stop());
  await broken.poll();
  t.regex(said.at(-1)!, /not valid JSON/);
});
