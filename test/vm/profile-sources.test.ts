// The agent takes its profile from the kernel command line, then fw_cfg, then the config
// partition, then the baked-in one; a bad profile is rejected with every error.
import { join } from 'node:path';
import { boot, type BootOptions } from '../../src/lab/qemu.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';

const PXE = join(IMAGES, 'default-pxe');
const profile = (name: string) => JSON.stringify({ name, pipes: { p: { delay: '1ms' } }, rules: [{ from: 'a', pipe: 'p' }] });

/** Boots the kernel and initrd directly with two NICs and returns the console once `pattern` shows. */
async function consoleUntil(opts: Partial<BootOptions>, pattern: RegExp): Promise<string> {
  const vm = await boot({ mode: 'direct', image: PXE, nics: [{ user: true }, { user: true }], ...opts });
  try {
    await vm.waitFor(pattern, 240_000);
    return vm.console;
  } finally {
    await vm.stop();
  }
}

testNeeding(['qemu', 'image'], 'a profile given through fw_cfg is applied', async (t) => {
  const out = await consoleUntil({ fwCfgProfile: profile('from-fwcfg') }, /picowire: (applied|rejected) profile[^\n]*\n/);
  t.regex(out, /picowire: applied profile from-fwcfg\r?\n/);
});

testNeeding(['qemu', 'image'], 'a profile on the kernel command line wins over fw_cfg', async (t) => {
  const b64 = Buffer.from(profile('from-cmdline')).toString('base64');
  const out = await consoleUntil({ append: `picowire.profile=${b64}`, fwCfgProfile: profile('from-fwcfg') }, /picowire: (applied|rejected) profile[^\n]*\n/);
  t.regex(out, /picowire: applied profile from-cmdline\r?\n/);
  t.notRegex(out, /applied profile from-fwcfg/);
});

testNeeding(['qemu', 'image'], 'a bad profile is rejected with every error named', async (t) => {
  const bad = JSON.stringify({ name: 'bad', pipes: { p: { bw: '10 furlongs', plr: 2 } }, rules: [{ from: 'c', pipe: 'nope' }] });
  const out = await consoleUntil({ fwCfgProfile: bad }, /picowire: (applied|rejected) profile[^\n]*\n/);
  const line = out.match(/picowire: rejected profile: (.*)\r?\n/)?.[1];
  t.truthy(line, 'the rejection line is printed');
  t.regex(line!, /bw/);
  t.regex(line!, /plr/);
  t.regex(line!, /from/);
  t.regex(line!, /nope/);
  t.notRegex(out, /applied profile/);
});
