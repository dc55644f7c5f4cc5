// Each output with a profile, an API token and an SSH key embedded by `picowire embed`, booted between
// the lab's test hosts with a management NIC: the embedded profile is the one in force (the traffic
// shows it), the API takes the embedded token and no other, and SSH the embedded key.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLab } from '../../src/lab/lab.ts';
import { pingRtt } from '../../src/lab/measure.ts';
import type { BootMode } from '../../src/lab/qemu.ts';
import { median } from '../../src/lab/stats.ts';
import { picowire } from '../helpers/cli.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';
import { ssh, sshKey } from '../helpers/ssh.ts';

const DELAY_MS = 30;
const PROFILE = { name: 'embedded', pipes: { p: { delay: `${DELAY_MS}ms` } }, rules: [{ from: 'a', pipe: 'p' }] };
const TOKEN = 'embedded-token-5b1e0c9a77d3f2e4';

// every way the settings travel is booted: the partition from a stick, a CD (read off the disc), two
// disks, and a PXE initrd
const CASES: { image: string; mode: BootMode }[] = [
  { image: 'default.iso', mode: 'bios-usb' },
  { image: 'default.iso', mode: 'bios-cd' },
  { image: 'default.img', mode: 'uefi-disk' },
  { image: 'default.qcow2', mode: 'bios-disk' },
  { image: 'default-pxe', mode: 'direct' },
];

for (const { image, mode } of CASES) {
  testNeeding(['root', 'qemu', 'image'], `${image} with a profile embedded boots (${mode}) into that profile, and pings take its delay`, async (t) => {
    const work = await mkdtemp(join(tmpdir(), 'picowire-embed-vm-'));
    const profile = join(work, 'profile.json');
    await writeFile(profile, JSON.stringify(PROFILE));
    const out = join(work, image);
    const key = await sshKey(work, 'embedded');
    const embedded = await picowire(['embed', join(IMAGES, image), '--profile', profile, '--token', TOKEN, '--authorized-keys', `${key}.pub`, '-o', out]);
    t.is(embedded.exitCode, 0, embedded.stderr);
    await withLab(out, mode, undefined, async (lab, vm, api) => {
      t.regex(vm.console, /picowire: applied profile embedded\r?\n/);
      await vm.waitFor(/picowire: API on http:\/\/\S+ \(management NIC/, 60_000);
      const status = (token: string) => fetch(`${api!.url}/api/v1/status`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(60_000) }).then((r) => r.status);
      t.is(await status(TOKEN), 200, 'the embedded token opens the API');
      t.is(await status('some-other-token-0123456789'), 401);
      // the SSH line may come before or after the API's
      const sshUp = /picowire: SSH on root@\S+ .*keys only/;
      if (!sshUp.test(vm.console)) await vm.waitFor(sshUp, 60_000);
      const login = await ssh(api!.also[22]!, key, 'picowire status');
      t.is(login.code, 0, `ssh with the embedded key: ${login.stderr.split('\n').slice(-3).join(' | ')}`);
      t.regex(login.stdout, /^profile embedded$/m, 'the embedded key logs in');
      const ping = await pingRtt(lab.left, lab.right, { count: 20, intervalS: 0.05 });
      const rtt = median(ping.rttsMs);
      t.log(`RTT median ${rtt.toFixed(2)} ms, min ${Math.min(...ping.rttsMs).toFixed(2)} ms`);
      t.is(ping.received, ping.sent);
      t.true(Math.min(...ping.rttsMs) >= DELAY_MS, 'no ping beats the embedded delay');
      t.true(rtt < DELAY_MS + 10, `median RTT ${rtt} ms is the embedded delay plus the lab's own`);
    }, { management: true, also: [22] });
  });
}
