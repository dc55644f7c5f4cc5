// Every output boots in every mode it claims, and the agent applies the baked-in profile.
// LinuxKit-style: boot the real image, read the verdict from the serial console.
import { join } from 'node:path';
import { bootClaims } from '../../src/lab/claims.ts';
import { boot } from '../../src/lab/qemu.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

for (const [file, modes] of bootClaims('default')) {
  for (const mode of modes) {
    testNeeding(['qemu', 'image'], `${file} boots as ${mode} and applies the baked-in profile`, async (t) => {
      // two NICs on QEMU's restricted user network: the agent wants two bridge ports
      const vm = await boot({ mode, image: join(IMAGES, file), nics: [{ user: true }, { user: true }] });
      try {
        const { atMs } = await vm.waitFor(/picowire: applied profile passthrough\r?\n/, 300_000);
        t.log(`${file} ${mode}: applied after ${(atMs / 1000).toFixed(1)} s wall`);
        t.notRegex(vm.console, /Kernel panic|rejected profile/);
      } finally {
        await vm.stop();
      }
    });
  }
}
