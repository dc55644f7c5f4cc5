// The HTTP API on this host, on 127.0.0.1, over a stand-in box: every endpoint, the token, the
// status codes and their headers, the limits. The real agent behind it is tested in the VM (test/vm/api.test.ts).
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import test from 'ava';
import { createApi } from '../../../src/agent/api/server.ts';
import type { Profile } from '../../../src/profile/schema.ts';
import { fakeBox, status, wan } from '../../helpers/fake-box.ts';

const TOKEN = 'test-token-0123456789abcdef';

/** A served API on 127.0.0.1 and a client for it; closed when the test ends. */
async function serve(t: { teardown: (f: () => void) => void }, limits = {}) {
  const fake = fakeBox();
  const api = await createApi(fake.box, TOKEN, limits);
  const server: Server = api.server();
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  const port = (server.address() as { port: number }).port;
  t.teardown(() => {
    api.close();
    server.close();
    server.closeAllConnections();
  });
  return { ...fake, port, call: (method: string, path: string, opts: CallOptions = {}) => call(port, method, path, opts) };
}

interface CallOptions {
  token?: string | null;
  headers?: Record<string, string>;
  body?: string | Buffer;
  type?: string;
}
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: () => { errors: string[] } & Record<string, unknown>;
}

/** One request; the token is the right one unless given (null: none). */
function call(port: number, method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
  const token = opts.token === undefined ? TOKEN : opts.token;
  const headers: Record<string, string> = { ...(token !== null && { authorization: `Bearer ${token}` }), ...(opts.type && { 'content-type': opts.type }), ...opts.headers };
  return new Promise((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => done({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) }));
    });
    req.on('error', fail);
    req.end(opts.body);
  });
}

const json = 'application/json';

test('GET /healthz needs no token and says only whether a profile is in force', async (t) => {
  const api = await serve(t);
  const ok = await api.call('GET', '/healthz', { token: null });
  t.is(ok.status, 200);
  t.deepEqual(ok.json(), { inForce: true });
  api.setInForce(null);
  const none = await api.call('GET', '/healthz', { token: null });
  t.is(none.status, 503);
  t.deepEqual(none.json(), { inForce: false });
});

for (const [method, path] of [['GET', '/api/v1/status'], ['GET', '/api/v1/profile'], ['PUT', '/api/v1/profile'], ['GET', '/api/v1/ipfw'], ['POST', '/api/v1/ipfw'], ['GET', '/api/v1/events'], ['GET', '/metrics']] as const) {
  test(`${method} ${path} without the token, or with a wrong one, is 401 with WWW-Authenticate`, async (t) => {
    const api = await serve(t);
    const body = method === 'GET' ? {} : { type: json, body: JSON.stringify(wan) };
    const none = await api.call(method, path, { token: null, ...body });
    t.is(none.status, 401);
    t.is(none.headers['www-authenticate'], 'Bearer realm="picowire"');
    t.regex(none.json().errors[0]!, /Authorization: missing/);
    for (const wrong of ['x', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()]) {
      const bad = await api.call(method, path, { token: wrong, ...body });
      t.is(bad.status, 401, `token ${wrong}`);
      t.is(bad.headers['www-authenticate'], 'Bearer realm="picowire", error="invalid_token"');
    }
    const basic = await api.call(method, path, { token: null, headers: { authorization: `Basic ${Buffer.from(`root:${TOKEN}`).toString('base64')}` } });
    t.is(basic.status, 401, 'only a bearer token counts');
    t.is(api.applied.length, 0, 'nothing was applied');
  });
}

test('GET /api/v1/status is what picowire status --json prints', async (t) => {
  const api = await serve(t);
  const r = await api.call('GET', '/api/v1/status');
  t.is(r.status, 200);
  t.regex(r.headers['content-type']!, /^application\/json/);
  t.deepEqual(r.json(), status as unknown as Record<string, unknown>);
  t.is(r.text, JSON.stringify(status, null, 2) + '\n');
});

test('GET /api/v1/profile is the profile in force, 404 before the first', async (t) => {
  const api = await serve(t);
  t.deepEqual((await api.call('GET', '/api/v1/profile')).json(), wan as unknown as Record<string, unknown>);
  api.setInForce(null);
  const none = await api.call('GET', '/api/v1/profile');
  t.is(none.status, 404);
  t.regex(none.json().errors[0]!, /no profile in force/);
});

test('GET /api/v1/ipfw/show is dummynet\'s listing from the counters; a what or numbers it does not know is 400 saying what is allowed', async (t) => {
  const api = await serve(t);
  const rules = await api.call('GET', '/api/v1/ipfw/show');
  t.is(rules.status, 200);
  t.is(rules.text, '00100 12 1200 pipe 1 ip from any to any out\n65535  0    0 allow ip from any to any\n');
  t.regex((await api.call('GET', '/api/v1/ipfw/show?what=pipe&numbers=1')).text, /^00001: {3}1\.000 Mbit\/s {3}10 ms burst 0\n/);
  const bad = await api.call('GET', '/api/v1/ipfw/show?what=table');
  t.is(bad.status, 400);
  t.deepEqual(bad.json().errors, ['query what: "table" is not allowed; allowed: rules, pipe, queue, sched']);
  t.is((await api.call('GET', '/api/v1/ipfw/show?what=pipe&numbers=one')).status, 400);
});

test('PUT /api/v1/profile applies a good profile through the box and answers with it', async (t) => {
  const api = await serve(t);
  const lan = { name: 'lan', pipes: { p: { delay: '5ms' } }, rules: [{ pipe: 'p' }] };
  const r = await api.call('PUT', '/api/v1/profile', { type: 'application/json; charset=utf-8', body: JSON.stringify(lan) });
  t.is(r.status, 200, r.text);
  t.is(r.json().applied, 'lan');
  t.is(api.applied.length, 1);
  t.deepEqual(api.applied[0]!.profile, lan);
  t.regex(api.applied[0]!.source, /^the API \(PUT \/api\/v1\/profile from 127\.0\.0\.1:\d+\)$/);
  t.is((await api.call('GET', '/api/v1/profile')).json().name, 'lan');
});

test('a bad PUT is 422 with every error naming path, value and what is allowed, and never reaches the queue', async (t) => {
  const api = await serve(t);
  const r = await api.call('PUT', '/api/v1/profile', { type: json, body: JSON.stringify({ name: 'bad', pipes: { up: { bw: '1 furlong/s', plr: 3 } }, rules: [{ from: 'c', pipe: 'nope' }] }) });
  t.is(r.status, 422);
  const errors = r.json().errors;
  t.true(errors.length >= 4, errors.join('\n'));
  t.true(errors.some((e) => /profile\.pipes\.up\.bw: "1 furlong\/s".*allowed:/.test(e)));
  t.true(errors.some((e) => /profile\.pipes\.up\.plr: 3 .*allowed:/.test(e)));
  t.true(errors.some((e) => /profile\.rules\[0\]\.from/.test(e)));
  t.true(errors.some((e) => /"nope" is not a pipe/.test(e)));
  t.is(api.applied.length, 0);
  t.is((await api.call('GET', '/api/v1/profile')).json().name, 'wan', 'the previous profile stays in force');
});

test('malformed JSON is 400 naming the line and column; a wrong Content-Type is 415', async (t) => {
  const api = await serve(t);
  const broken = await api.call('PUT', '/api/v1/profile', { type: json, body: '{\n  "name": "x",\n  "pipes": {,\n}' });
  t.is(broken.status, 400);
  t.regex(broken.json().errors[0]!, /^body: not valid JSON: .*line 3,? column 13/);
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) {
    const r = await api.call('PUT', '/api/v1/profile', { type, body: JSON.stringify(wan) });
    t.is(r.status, 415, type);
    t.regex(r.json().errors[0]!, /allowed: application\/json/);
  }
  const none = await api.call('PUT', '/api/v1/profile', { body: JSON.stringify(wan) });
  t.is(none.status, 415);
  const notUtf8 = await api.call('PUT', '/api/v1/profile', { type: json, body: Buffer.from([0x7b, 0xff, 0x7d]) });
  t.is(notUtf8.status, 400);
  t.is(api.applied.length, 0);
});

test('a body over 1 MiB is 413, whether its length is declared or it comes chunked', async (t) => {
  const api = await serve(t);
  const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024) });
  const declared = await api.call('PUT', '/api/v1/profile', { type: json, body: big });
  t.is(declared.status, 413);
  t.regex(declared.json().errors[0]!, /at most 1048576 bytes/);
  const chunked = await new Promise<number>((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port: api.port, method: 'PUT', path: '/api/v1/profile', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': json, 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      done(res.statusCode!);
    });
    req.on('error', fail);
    for (let i = 0; i < 20; i++) req.write(Buffer.alloc(100 * 1024, 0x20));
    req.end();
  });
  t.is(chunked, 413);
  t.is(api.applied.length, 0);
});

test('an unknown path is 404; a known one with another method is 405 with Allow', async (t) => {
  const api = await serve(t);
  for (const path of ['/', '/api/v1', '/api/v2/status', '/api/v1/status/', '/API/V1/STATUS', '//api/v1/status/x']) {
    const r = await api.call('GET', path);
    t.true(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
  }
  t.is((await api.call('GET', '/nope')).json().errors[0], 'no endpoint "/nope"; endpoints: /healthz, /api/v1/status, /api/v1/profile, /api/v1/ipfw, /api/v1/ipfw/show, /api/v1/events, /metrics, /, /app.js, /app.css');
  const del = await api.call('DELETE', '/api/v1/profile');
  t.is(del.status, 405);
  t.is(del.headers.allow, 'GET, PUT');
  const post = await api.call('POST', '/api/v1/status');
  t.is(post.status, 405);
  t.is(post.headers.allow, 'GET');
  t.is((await api.call('GET', '/api/v1/../v1/./status')).status, 200, 'dot segments resolve as a browser resolves them');
});

test('POST /api/v1/ipfw amends the profile in force, or replaces it with ?replace=1; what ipfw cannot read is 422', async (t) => {
  const api = await serve(t);
  const amended = await api.call('POST', '/api/v1/ipfw', { type: 'text/plain', body: 'pipe 1 config bw 2Mbit/s delay 20ms' });
  t.is(amended.status, 200, amended.text);
  const profile = api.applied[0]!.profile as Profile;
  t.is(profile.name, 'wan', 'amending keeps the name');
  t.is(profile.pipes.up?.bw, '2Mbit/s');
  t.is(profile.rules.length, 1, "the profile's rule stays");
  const replaced = await api.call('POST', '/api/v1/ipfw?replace=1', { type: 'text/plain', body: 'pipe 7 config delay 3ms\nadd 100 pipe 7 ip from any to any\n' });
  t.is(replaced.status, 200, replaced.text);
  t.is((api.applied[1]!.profile as Profile).name, 'ipfw');
  const bad = await api.call('POST', '/api/v1/ipfw', { type: 'text/plain', body: 'pipe 1 config bw fast' });
  t.is(bad.status, 422);
  t.regex(bad.json().errors[0]!, /^ipfw: .*fast/);
  for (const body of ['', '\n  \n', '# only a comment\n']) {
    const empty = await api.call('POST', '/api/v1/ipfw', { type: 'text/plain', body });
    t.is(empty.status, 400, JSON.stringify(body));
    t.regex(empty.json().errors[0]!, /^body: no ipfw commands/);
  }
  t.is((await api.call('POST', '/api/v1/ipfw?replace=yes', { type: 'text/plain', body: 'pipe 1 config delay 1ms' })).status, 400);
  t.is((await api.call('POST', '/api/v1/ipfw', { type: json, body: '{}' })).status, 415);
  t.is(api.applied.length, 2);
  const shown = await api.call('GET', '/api/v1/ipfw');
  t.is(shown.status, 200);
  t.regex(shown.text, /pipe 7 config delay 3ms/);
});

test('GET /metrics is the Prometheus text format with the counters, the profile and when it was applied', async (t) => {
  const api = await serve(t);
  const r = await api.call('GET', '/metrics');
  t.is(r.status, 200);
  t.is(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  for (const line of [
    'picowire_profile_in_force 1',
    'picowire_profile_info{name="wan"} 1',
    'picowire_profile_applied_timestamp_seconds 1700000000',
    '# TYPE picowire_pipe_packets_total counter',
    'picowire_pipe_packets_total{pipe="up",instance="0",port="b"} 10',
    'picowire_pipe_bytes_total{pipe="up",instance="0",port="b"} 1000',
    'picowire_pipe_drops_total{pipe="up",instance="0",port="b",cause="random"} 1',
    'picowire_pipe_drops_total{pipe="up",instance="0",port="b",cause="overflow"} 2',
    'picowire_pipe_queue_packets{pipe="up",instance="0",port="b"} 3',
    'picowire_rule_packets_total{rule="100",action="pipe",target="up"} 12',
  ]) {
    t.true(r.text.split('\n').includes(line), `${line}\nin:\n${r.text}`);
  }
  t.is(r.text.match(/^# TYPE picowire_pipe_drops_total /gm)?.length, 1, 'one TYPE line per family');
});

/** Reads server-sent events until `until` says stop; returns them as {event, data}. */
function readEvents(port: number, until: (events: { event: string; data: unknown }[]) => boolean): Promise<{ event: string; data: unknown }[]> {
  return new Promise((done, fail) => {
    const events: { event: string; data: unknown }[] = [];
    const req = httpRequest({ host: '127.0.0.1', port, path: '/api/v1/events', headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      if (res.headers['content-type'] !== 'text/event-stream; charset=utf-8') fail(new Error(`content-type ${res.headers['content-type']}`));
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buffer += d;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
        if (until(events)) {
          req.destroy();
          done(events);
        }
      });
    });
    req.on('error', (e) => (events.length ? undefined : fail(e)));
    req.end();
  });
}

test('GET /api/v1/events streams the counters at once and every interval, and each profile change, past the request timeout', async (t) => {
  // a stream outlives the time a request may take to arrive: that limit is for the request, not the answer
  const api = await serve(t, { requestMs: 800, headersMs: 500, checkEveryMs: 100 });
  const started = Date.now();
  const stream = readEvents(api.port, (events) => events.filter((e) => e.event === 'counters').length >= 3 && events.some((e) => e.event === 'profile'));
  await new Promise((r) => setTimeout(r, 300));
  await api.call('PUT', '/api/v1/profile', { type: json, body: JSON.stringify({ ...wan, name: 'changed' }) });
  const events = await stream;
  const took = Date.now() - started;
  const { readAt, ...first } = events[0]!.data as { readAt: number };
  t.deepEqual({ ...events[0], data: first }, { event: 'counters', data: status });
  const readAts = events.filter((e) => e.event === 'counters').map((e) => (e.data as { readAt: number }).readAt);
  t.true(readAts.every((at, i) => i === 0 || at - readAts[i - 1]! >= 500), `counters read at ${readAts.join(', ')} ms: a second apart, by the box's clock`);
  t.is(typeof readAt, 'number');
  t.true(took >= 1800 && took < 4000, `three counter events took ${took} ms (one at once, then one a second)`);
  const change = events.find((e) => e.event === 'profile');
  t.like(change!.data as object, { kind: 'applied', name: 'changed' });
  t.like(events.at(-1)!.data as object, { profile: 'changed' }, 'later counters are of the new profile');
});

test('a client that sends its headers too slowly is cut off; one that sends nothing on a kept-alive connection too', async (t) => {
  const api = await serve(t, { headersMs: 400, requestMs: 800, keepAliveMs: 300, checkEveryMs: 100 });
  const closedAfter = (send: (s: ReturnType<typeof connect>) => void) =>
    new Promise<{ ms: number; said: string }>((done) => {
      const started = Date.now();
      const socket = connect(api.port, '127.0.0.1', () => send(socket));
      let said = '';
      socket.on('data', (d) => (said += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => done({ ms: Date.now() - started, said }));
    });
  const slow = await closedAfter((s) => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
  t.true(slow.ms < 2000, `half a request was cut off after ${slow.ms} ms`);
  t.regex(slow.said, /^HTTP\/1\.1 408|^$/);
  const idle = await closedAfter((s) => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.regex(idle.said, /^HTTP\/1\.1 200/);
  t.true(idle.ms < 2000, `an idle kept-alive connection was closed after ${idle.ms} ms`);
});
