// The API follows the management NIC's addresses: a server on each, none on anything else, and a
// change of lease moves it. Addresses here are loopback ones standing in for a lease.
import { createServer } from 'node:net';
import { request } from 'node:http';
import test from 'ava';
import { followManagementAddresses } from '../../../src/agent/api/listen.ts';
import { createServer as createHttp } from 'node:http';

/** A port free on 127.0.0.2 and 127.0.0.3 now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Whether an HTTP GET to host:port is answered. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const req = request({ host, port, path: '/', timeout: 2000 }, (res) => {
      res.resume();
      done(true);
    });
    req.on('error', () => done(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

test('a server on each address of the management NIC, none on another NIC, and the listener follows a new lease', async (t) => {
  const port = await freePort();
  const ifaces = (m0: string[]) => () => ({
    m0: m0.map((address) => ({ address, family: 'IPv4' as const, netmask: '255.0.0.0', mac: '', internal: false, cidr: null })),
    br0: [{ address: '127.0.0.4', family: 'IPv4' as const, netmask: '255.0.0.0', mac: '', internal: false, cidr: null }],
  });
  let now = ifaces(['127.0.0.2']);
  const said: string[] = [];
  const listening = followManagementAddresses({ nics: ['m0'], server: () => createHttp((_q, s) => s.end('ok')), say: (l) => said.push(l), port, everyMs: 60_000, addresses: () => now() });
  t.teardown(() => listening.stop());
  await listening.look();
  t.deepEqual(listening.urls(), [`http://127.0.0.2:${port}/`]);
  t.true(await answers('127.0.0.2', port));
  t.false(await answers('127.0.0.4', port), 'not on another NIC');
  t.false(await answers('127.0.0.1', port), 'not on any address the NIC does not have');
  now = ifaces(['127.0.0.3']);
  await listening.look();
  t.deepEqual(listening.urls(), [`http://127.0.0.3:${port}/`]);
  t.true(await answers('127.0.0.3', port));
  t.false(await answers('127.0.0.2', port), 'the old address is no longer served');
  t.deepEqual(said, [`API on http://127.0.0.2:${port}/ (management NIC m0)`, `API no longer on http://127.0.0.2:${port}/: the address went away`, `API on http://127.0.0.3:${port}/ (management NIC m0)`]);
  now = ifaces([]);
  await listening.look();
  t.deepEqual(listening.urls(), []);
  t.false(await answers('127.0.0.3', port));
});
