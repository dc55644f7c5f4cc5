// The web page in every other boot mode (test/vm/web.test.ts boots 'direct'): each output carries it
// in the same initrd, and each boot path must bring it up: served, the login works and the charts
// come alive. No traffic: that the numbers are right is web.test.ts's. About 25 s a mode.
import { join } from 'node:path';
import { runOnConsole } from '../../src/lab/console.ts';
import { withLab } from '../../src/lab/lab.ts';
import type { BootMode } from '../../src/lab/qemu.ts';
import { logIn, withBrowser } from '../helpers/browser.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const TOKEN = 'vm-web-modes-token-61f0a2c7e9';
const PROFILE = { name: 'modes', pipes: { up: { bw: '1Mbit/s', delay: '5ms' } }, rules: [{ from: 'a', pipe: 'up' }] };

const CASES: [string, BootMode][] = [
  ['default.iso', 'bios-cd'],
  ['default.iso', 'uefi-cd'],
  ['default.iso', 'bios-usb'],
  ['default.iso', 'uefi-usb'],
  ['default.qcow2', 'bios-disk'],
  ['default.img', 'uefi-disk'],
  ['default-pxe', 'pxe'],
];

for (const [file, mode] of CASES) {
  testNeeding(['root', 'qemu', 'image', 'browser'], `the web page from ${file} booted ${mode}: served, login, the profile in force and a live card`, async (t) => {
    await withLab(join(IMAGES, file), mode, JSON.stringify(PROFILE), async (_lab, vm, api) => {
      await runOnConsole(vm, 'dmesg -n 1', 30_000);
      await vm.waitFor(/picowire: API on http:\/\/198\.19\.0\.15\//, 60_000);
      await withBrowser({ width: 1280, height: 900 }, async (page, problems) => {
        await logIn(page, `${api!.url}/`, TOKEN);
        await page.waitForSelector('#in-force[data-profile="modes"]', { timeout: 30_000 });
        await page.waitForSelector('.card[data-key="b/up#0"]', { timeout: 30_000 });
        t.regex((await page.textContent('.card[data-key="b/up#0"] .figures'))!, /queue .* ΔT \d/);
        t.deepEqual(problems, []);
      });
    }, { management: true, qemu: { fwCfg: { token: TOKEN } } });
  });
}
