// Real traffic through the real image: two test hosts in network namespaces on taps, one on each
// bridge port, and what the emulation does to ping and TCP measured against what the profile says.
// Tolerances come from measurements in this lab under TCG (see README, "Fidelity"); they are wide
// enough for a loaded 2-core machine and narrow enough to catch a pipe that is off or misplaced.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APPLIED, withLab } from '../../src/lab/lab.ts';
import { iperf3Tcp, pingRtt } from '../../src/lab/measure.ts';
import { monitorCommand } from '../../src/lab/qemu.ts';
import { binomialInterval, median } from '../../src/lab/stats.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const PXE = join(IMAGES, 'default-pxe');
const NEEDS = ['root', 'qemu', 'image'] as const;
const profile = (p: object) => JSON.stringify(p);

// measured once per run in the unshaped lab, then used by the tests below
let baselineRttMs = 1;
let unshapedBps = 0;

testNeeding([...NEEDS], 'unshaped, the bridge forwards and TCP runs far faster than the shaped rate', async (t) => {
  await withLab(PXE, 'direct', undefined, async (lab) => {
    const ping = await pingRtt(lab.left, lab.right, { count: 50, intervalS: 0.02 });
    t.is(ping.received, ping.sent, 'no ping lost through an unshaped bridge');
    baselineRttMs = median(ping.rttsMs);
    const tcp = await iperf3Tcp(lab.left, lab.right, { seconds: 5 });
    unshapedBps = tcp.goodputBps;
    t.log(`baseline RTT median ${baselineRttMs.toFixed(2)} ms, unshaped TCP ${(unshapedBps / 1e6).toFixed(0)} Mbit/s`);
    t.true(unshapedBps > 50e6, `unshaped goodput ${unshapedBps} bit/s should be far above 10 Mbit/s`);
  });
});

testNeeding([...NEEDS], 'with 10 ms each way the ping RTT is 20 ms plus the lab baseline, and 10 Mbit/s one way gives about 10 Mbit/s of TCP', async (t) => {
  const shaped = profile({
    name: 'delay-rate',
    pipes: { up: { bw: '10Mbit/s', delay: '10ms' }, down: { delay: '10ms' } },
    rules: [{ from: 'a', pipe: 'up' }, { from: 'b', pipe: 'down' }],
  });
  await withLab(PXE, 'direct', shaped, async (lab) => {
    const ping = await pingRtt(lab.left, lab.right, { count: 100, intervalS: 0.05 });
    const rtt = median(ping.rttsMs);
    t.log(`RTT median ${rtt.toFixed(2)} ms (min ${Math.min(...ping.rttsMs).toFixed(2)}), baseline ${baselineRttMs.toFixed(2)} ms`);
    // serialisation of a 98-byte frame at 10 Mbit/s adds 0.08 ms; the lab itself adds its baseline
    t.true(Math.min(...ping.rttsMs) >= 20, 'no packet beats the configured delay');
    t.true(rtt <= 20 + baselineRttMs + 3, `median RTT ${rtt} ms within 3 ms of 20 ms + baseline`);

    const tcp = await iperf3Tcp(lab.left, lab.right, { seconds: 10, omitS: 2 });
    const ratio = tcp.goodputBps / 10e6;
    t.log(`TCP goodput ${(tcp.goodputBps / 1e6).toFixed(2)} Mbit/s = ${(ratio * 100).toFixed(1)} % of the configured rate`);
    // the ideal is 1448/1514 of the link rate (TCP/IP/Ethernet headers): 95.6 %
    t.true(ratio > 0.85 && ratio <= 0.97, `goodput ratio ${ratio} should be close to the 0.956 ideal`);
    if (unshapedBps) t.true(unshapedBps > 5 * tcp.goodputBps, 'unshaped is far faster than shaped');
  });
});

testNeeding([...NEEDS], 'with plr 0.05 one way the ping loss falls in the 99 % binomial interval', async (t) => {
  const lossy = profile({ name: 'lossy', pipes: { up: { plr: 0.05 } }, rules: [{ from: 'a', pipe: 'up' }] });
  await withLab(PXE, 'direct', lossy, async (lab) => {
    const n = 1000;
    const ping = await pingRtt(lab.left, lab.right, { count: n, intervalS: 0.01 });
    const lost = ping.sent - ping.received;
    const [lo, hi] = binomialInterval(ping.sent, 0.05, 0.99);
    t.log(`${lost} of ${ping.sent} lost (${((lost / ping.sent) * 100).toFixed(1)} %), interval [${lo}, ${hi}]`);
    t.true(lost >= lo && lost <= hi, `${lost} lost, outside [${lo}, ${hi}]`);
  });
});

testNeeding([...NEEDS], 'a bad profile is rejected and, before any good profile, the bridge forwards nothing', async (t) => {
  const bad = profile({ name: 'bad', pipes: { up: { bw: 'fast' } }, rules: [{ from: 'a', pipe: 'up' }] });
  await withLab(PXE, 'direct', bad, async (lab, vm) => {
    t.regex(vm.console, /picowire: rejected profile: .*bw/);
    const ping = await pingRtt(lab.left, lab.right, { count: 20, intervalS: 0.05, waitS: 1 });
    t.is(ping.received, 0, 'no packet crosses a bridge that has no good profile');
  }, { ready: /picowire: rejected profile: [^\n]*\n/ });
});

testNeeding([...NEEDS], 'a port with no link at boot is waited for 5 s and named; the profile applies, and the port forwards once its link comes up', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-link-'));
  const monitor = join(dir, 'monitor.sock');
  try {
    // ready at the console's shell, which init starts ~2 s before the agent sets the ports up: then
    // QEMU pulls port b's cable (net1 is the second NIC, port b)
    await withLab(PXE, 'direct', undefined, async (lab, vm) => {
      t.is(await monitorCommand(monitor, 'set_link net1 off'), '');
      const warned = await vm.waitFor(/picowire: warning: port b does not forward after 5 s \(disabled: no link\? check its cable\)[^\n]*\n/, 120_000);
      const applied = await vm.waitFor(APPLIED, 30_000);
      t.log(`warned ${(warned.atMs / 1000).toFixed(1)} s and applied ${(applied.atMs / 1000).toFixed(1)} s after QEMU started`);
      t.notRegex(vm.console, /port a does not forward/, 'port a has its link');
      const cut = await pingRtt(lab.left, lab.right, { count: 5, intervalS: 0.1, waitS: 1 });
      t.is(cut.received, 0, 'nothing crosses while b has no link');

      t.is(await monitorCommand(monitor, 'set_link net1 on'), '');
      // the kernel notes the link within a second or so; then the bridge forwards on b by itself
      let first = -1;
      for (let i = 0; i < 50 && first < 0; i++) {
        if ((await pingRtt(lab.left, lab.right, { count: 1, intervalS: 0.1, waitS: 0.2 })).received === 1) first = i;
      }
      t.log(first < 0 ? 'no ping crossed' : `the first ping crossed ${first + 1} tries (0.2 s apart at most) after the link came up`);
      t.true(first >= 0, 'port b forwards once its link is up, with nothing done on the appliance');
      const after = await pingRtt(lab.left, lab.right, { count: 20, intervalS: 0.05 });
      t.is(after.received, after.sent);
    }, { ready: /BusyBox v[^\n]*\n/, qemu: { monitor } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
