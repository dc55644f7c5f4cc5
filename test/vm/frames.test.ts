// Which frames a rule takes, measured on the real image: through a 30 Byte/s pipe from a, the first
// ping of a host that must ARP first. A rule takes IP packets only, as ipfw's do (ARP crosses
// unshaped, as on a FreeBSD bridge), unless it says l2, when the ARP request queues in the pipe
// first, as on a real link of that speed. (Issue 19: before, ARP queued by accident.)
import { join } from 'node:path';
import type { Lab } from '../../src/lab/hosts.ts';
import { withLab } from '../../src/lab/lab.ts';
import { pingRtt } from '../../src/lab/measure.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const PXE = join(IMAGES, 'default-pxe');
const RATE = 30; // bytes per second
// a default ping is 98 bytes on the wire: 3.27 s at 30 Byte/s; an ARP request (42 bytes) would add 1.4 s
const PING_S = 98 / RATE;
const ARP_S = 42 / RATE;
const profile = (l2: boolean) => JSON.stringify({ name: l2 ? 'slow-l2' : 'slow', pipes: { p: { bw: `${RATE}Byte/s` } }, rules: [{ from: 'a', pipe: 'p', ...(l2 && { l2: true }) }] });

/** The RTT in seconds of the left host's first ping to the right one, after it forgot the right one's MAC (the lab pins it). */
async function firstPing(lab: Lab): Promise<number> {
  const forgot = await lab.left.exec(['ip', 'neigh', 'del', lab.right.address, 'dev', lab.left.ifname]);
  if (forgot.exitCode !== 0) throw new Error(`ip neigh del: ${forgot.stderr}`);
  const ping = await pingRtt(lab.left, lab.right, { count: 1, intervalS: 1, waitS: 20 });
  if (ping.received !== 1) throw new Error('the first ping got no answer in 20 s');
  return ping.rttsMs[0]! / 1000;
}

testNeeding(['root', 'qemu', 'image'], 'a rule takes IP packets only: the first ping through a 30 Byte/s pipe waits for itself, not for its ARP', async (t) => {
  await withLab(PXE, 'direct', profile(false), async (lab) => {
    const rtt = await firstPing(lab);
    t.log(`first ping ${rtt.toFixed(2)} s (the ping alone: ${PING_S.toFixed(2)} s; with its ARP request queued first: ${(PING_S + ARP_S).toFixed(2)} s)`);
    t.true(rtt >= PING_S - 0.1, `${rtt} s: the ping itself was shaped`);
    t.true(rtt < PING_S + ARP_S / 2, `${rtt} s: the ARP request did not queue in the pipe`);
  });
});

testNeeding(['root', 'qemu', 'image'], 'a rule with l2 takes every frame: the ARP request queues in the 30 Byte/s pipe before the ping, as on a real link', async (t) => {
  await withLab(PXE, 'direct', profile(true), async (lab) => {
    const rtt = await firstPing(lab);
    t.log(`first ping ${rtt.toFixed(2)} s (ping ${PING_S.toFixed(2)} s + ARP request ${ARP_S.toFixed(2)} s)`);
    t.true(rtt >= PING_S + ARP_S / 2, `${rtt} s: the ARP request queued in the pipe first`);
  });
});
