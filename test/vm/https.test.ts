// HTTPS on the real image: given a certificate and its key (fw_cfg here; the PICOWIRE partition or
// picowire embed alike), the box serves its API on port 443 of the management NIC, verified
// against that certificate, and port 80 only redirects there.
import { request as plain } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { withLab } from '../../src/lab/lab.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';
import { selfSigned } from '../helpers/tls.ts';

const TOKEN = 'https-vm-token-8c1e4a7f2b9d0356';

/** One request; the status, the Location header and the body. */
function get(send: typeof request, opts: RequestOptions): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((done, fail) => {
    const req = send({ ...opts, timeout: 60_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => done({ status: res.statusCode!, location: res.headers.location, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

testNeeding(['root', 'qemu', 'image'], 'with a certificate the box serves its API over HTTPS on 443, verified against it, and port 80 redirects', async (t) => {
  const { cert, key } = await selfSigned();
  await withLab(join(IMAGES, 'default-pxe'), 'direct', undefined, async (_lab, vm, api) => {
    await vm.waitFor(/picowire: API on https:\/\/198\.19\.0\.15\/ \(management NIC/, 60_000);
    const r = await get(request, { host: '127.0.0.1', port: api!.also[443], path: '/api/v1/status', ca: cert, headers: { authorization: `Bearer ${TOKEN}` } });
    t.is(r.status, 200);
    t.is((JSON.parse(r.body) as { profile: string }).profile, 'passthrough');
    const wrong = await get(request, { host: '127.0.0.1', port: api!.also[443], path: '/api/v1/status', ca: cert, headers: { authorization: 'Bearer not-the-token-0123456789' } });
    t.is(wrong.status, 401);
    const h = await get(plain as typeof request, { host: '127.0.0.1', port: api!.port, path: '/api/v1/status' });
    t.is(h.status, 308);
    t.regex(h.location ?? '', /^https:\/\/127\.0\.0\.1(:\d+)?\/api\/v1\/status$/);
  }, { management: true, also: [443], qemu: { fwCfg: { token: TOKEN, tls_cert: cert, tls_key: key } } });
});
