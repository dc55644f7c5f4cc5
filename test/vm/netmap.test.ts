// netmap on the real image: the module built from the pinned source loads at boot, /dev/netmap is
// there, and pkt-gen (netmap's generic adapter) sends frames out of port a that the left test host
// counts on its own interface.
import { join } from 'node:path';
import { runOnConsole } from '../../src/lab/console.ts';
import { withLab } from '../../src/lab/lab.ts';
import type { TestHost } from '../../src/lab/hosts.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const PXE = join(IMAGES, 'default-pxe');
const FRAMES = 1000;

/** Frames the host's interface has received so far (every frame, whatever its addresses). */
async function received(host: TestHost): Promise<number> {
  const r = await host.exec(['cat', `/sys/class/net/${host.ifname}/statistics/rx_packets`]);
  return Number(r.stdout.trim());
}

testNeeding(['root', 'qemu', 'image'], `netmap is loaded at boot, and pkt-gen on port a sends ${FRAMES} frames the left host receives`, async (t) => {
  await withLab(PXE, 'direct', undefined, async (lab, vm) => {
    await runOnConsole(vm, 'dmesg -n 1', 30_000);
    const loaded = await runOnConsole(vm, 'grep "^netmap " /proc/modules; ls -l /dev/netmap; cat /sys/module/netmap/taint', 30_000);
    t.regex(loaded, /^netmap \d+ 0 - Live/m, `netmap in /proc/modules:\n${loaded}`);
    t.regex(loaded, /^crw.* 10, +\d+ .* \/dev\/netmap$/m, `/dev/netmap is a misc character device:\n${loaded}`);
    t.regex(loaded, /^[A-Z]*O[A-Z]*$/m, 'tainted as an out-of-tree module, and loaded all the same');

    // port a is the NIC with the lab's first MAC; a bridge port's receive hook is the bridge's, which
    // netmap's generic adapter needs, so pkt-gen takes the port out of the bridge first
    const links = await runOnConsole(vm, 'for i in /sys/class/net/*; do echo "${i##*/} $(cat $i/address) $(test -d $i/brport && echo port)"; done', 30_000);
    const port = /^(\S+) 52:54:00:70:77:0a port$/m.exec(links)?.[1];
    t.truthy(port, `no bridge port has port a's MAC:\n${links}`);
    // iproute2 by full path: busybox's ip applet knows no nomaster (DESIGN.md: applet precedence)
    // ("dev": a bare "a" would read as an abbreviation of "address")
    const detached = await runOnConsole(vm, `/sbin/ip link set dev ${port} nomaster && test ! -e /sys/class/net/${port}/master && echo detached`, 30_000);
    t.regex(detached, /^detached$/m, `port a left the bridge:\n${detached}`);
    const before = await received(lab.left);
    const sent = await runOnConsole(vm, `pkt-gen -i netmap:${port} -f tx -n ${FRAMES} -l 60 -R 5000 > /tmp/pkt-gen.log 2>&1; echo exit=$?; grep -v '^\\s' /tmp/pkt-gen.log | head -20`, 120_000);
    t.log(sent.trim());
    t.regex(sent, /exit=0/);
    t.regex(sent, new RegExp(`^Sent ${FRAMES} packets `, 'm'));
    // let the last frames cross QEMU and the tap
    await new Promise((r) => setTimeout(r, 1000));
    const got = (await received(lab.left)) - before;
    t.log(`the left host received ${got} frames while pkt-gen sent ${FRAMES}`);
    // pkt-gen sends exactly FRAMES; the port is out of the bridge, so little else leaves it
    t.true(got >= FRAMES && got <= FRAMES + 10, `left host received ${got} frames, expected ${FRAMES} (+ at most 10 others)`);
  });
});
