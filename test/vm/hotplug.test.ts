// The appliance runs from RAM: a user pulls the USB stick, edits profile.json on its PICOWIRE
// partition from a laptop, and plugs it back in. Here QEMU plugs a stick in at runtime (its
// monitor's drive_add and device_add) and the agent must read it and apply its profile.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { withLab } from '../../src/lab/lab.ts';
import { pingRtt } from '../../src/lab/measure.ts';
import { monitorCommand } from '../../src/lab/qemu.ts';
import { median } from '../../src/lab/stats.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const PXE = join(IMAGES, 'default-pxe');

testNeeding(['root', 'qemu', 'image'], 'a USB stick plugged in at runtime with profile.json on its PICOWIRE partition is read and its profile applied', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-stick-'));
  try {
    // a stick as a laptop leaves it: a FAT file system labelled PICOWIRE holding profile.json
    const stick = join(dir, 'stick.img');
    const profile = join(dir, 'profile.json');
    await writeFile(profile, JSON.stringify({ name: 'from-stick', pipes: { up: { delay: '25ms' } }, rules: [{ from: 'a', pipe: 'up' }] }));
    await execa('mkfs.fat', ['-C', '-n', 'PICOWIRE', stick, '2048']);
    await execa('mcopy', ['-i', stick, profile, '::profile.json']);
    const monitor = join(dir, 'monitor.sock');
    const start = JSON.stringify({ name: 'at-boot', pipes: {}, rules: [] });
    await withLab(PXE, 'direct', start, async (lab, vm) => {
      const before = median((await pingRtt(lab.left, lab.right, { count: 20, intervalS: 0.05 })).rttsMs);
      t.is(await monitorCommand(monitor, `drive_add 0 if=none,id=stick,format=raw,file=${stick}`), 'OK');
      t.is(await monitorCommand(monitor, 'device_add usb-storage,drive=stick,id=stickdev,bus=xhci.0'), '');
      const { atMs } = await vm.waitFor(/picowire: applied profile from-stick\r?\n/, 120_000);
      t.regex(vm.console, /picowire: profile from profile\.json on the PICOWIRE partition/);
      const after = median((await pingRtt(lab.left, lab.right, { count: 20, intervalS: 0.05 })).rttsMs);
      t.log(`applied ${(atMs / 1000).toFixed(1)} s after QEMU started; ping RTT median ${before.toFixed(2)} ms before, ${after.toFixed(2)} ms after`);
      t.true(after >= 25 && after > before + 20, 'the stick\'s 25 ms pipe is in force');
    }, { qemu: { usb: true, monitor } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
