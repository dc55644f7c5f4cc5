// `picowire remote` from this host against the real image in the lab, as a CI job drives a box: a
// profile applied over the management NIC changes what the traffic between the test hosts takes,
// status shows it, and a bad profile is refused with exit 1 while the link stays as it was.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLab } from '../../src/lab/lab.ts';
import { pingRtt } from '../../src/lab/measure.ts';
import { median } from '../../src/lab/stats.ts';
import { picowire } from '../helpers/cli.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const TOKEN = 'remote-vm-token-7c2d9e4f1a6b3c8d';

testNeeding(['root', 'qemu', 'image'], 'picowire remote applies a profile over the network that the traffic then takes, shows it in status, and refuses a bad one keeping the link', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'picowire-remote-vm-'));
  const delayed = join(work, 'delayed.json');
  await writeFile(delayed, JSON.stringify({ name: 'delayed', pipes: { p: { delay: '40ms' } }, rules: [{ from: 'a', pipe: 'p' }] }));
  const bad = join(work, 'bad.json');
  await writeFile(bad, JSON.stringify({ name: 'bad', pipes: { p: { delay: 'soon' } }, rules: [] }));
  await withLab(join(IMAGES, 'default-pxe'), 'direct', undefined, async (lab, vm, api) => {
    await vm.waitFor(/picowire: API on http:\/\/\S+ \(management NIC/, 60_000);
    const remote = (...args: string[]) => picowire(['remote', api!.url, ...args], { env: { PICOWIRE_TOKEN: TOKEN } });
    const rtt = async () => median((await pingRtt(lab.left, lab.right, { count: 20, intervalS: 0.05 })).rttsMs);
    const before = await rtt();

    const applied = await remote('apply', delayed);
    t.is(applied.exitCode, 0, applied.stderr);
    t.regex(applied.stdout, /^applied profile delayed \(\d+ ms\)$/m);
    const after = await rtt();
    t.log(`RTT ${before.toFixed(2)} ms before, ${after.toFixed(2)} ms after`);
    t.true(after >= 40 && after < before + 45, `RTT ${after} ms is 40 ms more than ${before} ms`);
    const status = await remote('status');
    t.is(status.exitCode, 0, status.stderr);
    t.regex(status.stdout, /^profile delayed$/m);

    const refused = await remote('apply', bad);
    t.is(refused.exitCode, 1);
    t.regex(refused.stderr, /profile\.pipes\.p\.delay: "soon"/);
    t.true((await rtt()) >= 40, 'the delayed profile stays in force');
  }, { management: true, qemu: { fwCfg: { token: TOKEN } } });
});
