// Fleet profiles on the real image: the box is given a profile_url (fw_cfg) on a server of the
// test's, on this host's loopback, which the box reaches over its management NIC (QEMU relays
// 198.19.0.100:8000 to it). The box fetches the profile for its MAC once it is up, follows a change on
// the server, and keeps the profile in force through a refused profile and an outage, saying so.
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { freeLoopbackPort, MANAGEMENT_SERVER, withLab } from '../../src/lab/lab.ts';
import { pingRtt } from '../../src/lab/measure.ts';
import { median } from '../../src/lab/stats.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const TOKEN = 'fleet-vm-token-3e8a1f0c5d7b9264';
const PORT_A_MAC = '52:54:00:70:77:0a'; // the lab's port a (src/lab/lab.ts)
const delayed = (name: string, ms: number) => JSON.stringify({ name, pipes: { p: { delay: `${ms}ms` } }, rules: [{ from: 'a', pipe: 'p' }] });

testNeeding(['root', 'qemu', 'image'], 'a box with a profile_url takes the profile for its MAC, follows a change on the server, and keeps it through a refused profile and an outage', async (t) => {
  // what the server answers for this box's MAC; anything else is 404
  let body = delayed('fleet-a', 30);
  const asked: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '');
    asked.push(path);
    if (path !== `/${PORT_A_MAC}.json`) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  const port = await freeLoopbackPort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.teardown(() => server.close());

  const profileUrl = `http://${MANAGEMENT_SERVER}:8000/{mac}.json every 2s`;
  await withLab(join(IMAGES, 'default-pxe'), 'direct', undefined, async (lab, vm, api) => {
    const rtt = async () => median((await pingRtt(lab.left, lab.right, { count: 10, intervalS: 0.05 })).rttsMs);
    await vm.waitFor(/picowire: applied profile fleet-a\r?\n/, 120_000);
    t.true((await rtt()) >= 30, 'the fetched profile is in force');
    t.true(asked.includes(`/${PORT_A_MAC}.json`), `the box asked for its MAC: ${asked.join(', ')}`);

    body = delayed('fleet-b', 60);
    await vm.waitFor(/picowire: applied profile fleet-b\r?\n/, 60_000);
    t.true((await rtt()) >= 60, 'a change on the server is followed');

    body = JSON.stringify({ name: 'broken', pipes: { p: { delay: 'soon' } }, rules: [] });
    await vm.waitFor(/profile_url \S+: refused \(\d+ errors, on the console\); the profile in force stays/, 60_000);
    const status = (await (await fetch(`${api!.url}/api/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { profile: string; notes?: string[] };
    t.is(status.profile, 'fleet-b');
    t.regex((status.notes ?? []).join('\n'), /profile_url .*: refused/, 'status says so');

    server.close();
    server.closeAllConnections();
    await vm.waitFor(/profile_url \S+: unreachable \([^)]*\); the profile in force stays/, 60_000);
    t.true((await rtt()) >= 60, 'an outage changes nothing');
  }, { management: true, serve: [{ guest: 8000, host: port }], qemu: { fwCfg: { token: TOKEN, profile_url: profileUrl } } });
});
