// HTTPS for the API, on this host's 127.0.0.1 over a stand-in box: with a certificate and its key
// the API answers over TLS and port 80 only redirects; half a pair, a key of another certificate or
// a damaged one is refused with the reason (and then the agent serves no API at all).
import { request, type RequestOptions } from 'node:https';
import { request as plain } from 'node:http';
import type { Server } from 'node:http';
import test, { type ExecutionContext } from 'ava';
import { createApi } from '../../../src/agent/api/server.ts';
import { findTls } from '../../../src/agent/api/tls.ts';
import { fakeBox } from '../../helpers/fake-box.ts';
import { fakeRoot } from '../../helpers/fake-root.ts';
import { selfSigned } from '../../helpers/tls.ts';

const TOKEN = 'tls-test-token-0123456789abcdef';
let pair: Awaited<ReturnType<typeof selfSigned>>;
test.before(async () => {
  pair = await selfSigned();
});
const warn = () => undefined;
const noPartition = async () => ({ code: 1, stdout: '', stderr: '' });

/** A server made by `make`, listening on a free port of 127.0.0.1 until the test ends. */
async function listening(t: ExecutionContext, make: () => Server): Promise<number> {
  const server = make();
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  t.teardown(() => {
    server.close();
    server.closeAllConnections();
  });
  return (server.address() as { port: number }).port;
}

/** One request; resolves with the status, headers and body. */
function get(send: typeof request, opts: RequestOptions): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((done, fail) => {
    const req = send(opts, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => done({ status: res.statusCode!, location: res.headers.location, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

test('with a certificate the API answers over TLS, verified against that certificate, and port 80 redirects to it', async (t) => {
  const api = await createApi(fakeBox().box, TOKEN, {}, { cert: pair.cert, key: pair.key });
  t.teardown(() => api.close());
  const port = await listening(t, api.server);
  const r = await get(request, { host: '127.0.0.1', port, path: '/api/v1/status', ca: pair.cert, headers: { authorization: `Bearer ${TOKEN}` } });
  t.is(r.status, 200);
  t.is((JSON.parse(r.body) as { profile: string }).profile, 'wan');
  const redirectPort = await listening(t, api.redirect!);
  const h = await get(plain as typeof request, { host: '127.0.0.1', port: redirectPort, path: '/api/v1/status?x=1' });
  t.is(h.status, 308);
  t.is(h.location, 'https://127.0.0.1/api/v1/status?x=1');
});

test('without a certificate there is no redirect: the API is plain HTTP', async (t) => {
  const api = await createApi(fakeBox().box, TOKEN);
  t.teardown(() => api.close());
  t.is(api.redirect, undefined);
});

test('the certificate and key come from the settings; half a pair, another key and a damaged certificate are refused with the reason', async (t) => {
  const ctx = async (files: Record<string, string>) => ({ root: await fakeRoot(files), run: noPartition, warn });
  t.is(await findTls(await ctx({})), undefined);
  const ok = await findTls(await ctx({ 'etc/picowire/tls_cert': pair.cert, 'etc/picowire/tls_key': pair.key }));
  t.true(ok !== undefined && 'cert' in ok);
  const half = await findTls(await ctx({ 'etc/picowire/tls_cert': pair.cert }));
  t.regex(half && 'error' in half ? half.error : '', /tls_cert \(\/etc\/picowire\/tls_cert\) is given without tls_key; HTTPS needs both/);
  const other = await findTls(await ctx({ 'etc/picowire/tls_cert': pair.cert, 'etc/picowire/tls_key': pair.otherKey }));
  t.regex(other && 'error' in other ? other.error : '', /tls_key is not the key of tls_cert \(CN=picowire-test\)/);
  const damaged = await findTls(await ctx({ 'etc/picowire/tls_cert': pair.cert.replace(/[A-Za-z]{8}/, 'AAAAAAAA'), 'etc/picowire/tls_key': pair.key }));
  t.regex(damaged && 'error' in damaged ? damaged.error : '', /tls_cert is not a PEM certificate|tls_key is not the key of/);
});
