import test from 'ava';
import { renderGrubCfg } from '../../src/outputs/grub.ts';

test('grub.cfg boots one entry at once with the consoles and the recipe command line quoted for GRUB', async (t) => {
  const cfg = await renderGrubCfg({ name: 'lab', cmdline: 'quiet x=$y' });
  t.regex(cfg, /^set timeout=0$/m);
  t.is(cfg.match(/^menuentry /gm)?.length, 1);
  t.regex(cfg, /^menuentry 'picowire lab' \{$/m);
  // picowire.media: GRUB booted a medium that carries the PICOWIRE partition, which the agent waits for (agent/media.ts)
  t.regex(cfg, /^ {2}linux \/boot\/vmlinuz console=tty0 console=ttyS0,115200 quiet 'x=\$y' picowire\.media$/m);
  t.regex(cfg, /^ {2}initrd \/boot\/initrd\.img$/m);
});

test('grub.cfg sends GRUB to the serial port only when the machine has one', async (t) => {
  const cfg = await renderGrubCfg({ name: 'lab', cmdline: '' });
  t.regex(cfg, /if serial --unit=0 --speed=115200; then\n\s+terminal_input serial console\n\s+terminal_output serial console\nfi/);
});

test('the timeout can be raised to leave time to edit the entry', async (t) => {
  t.regex(await renderGrubCfg({ name: 'lab', cmdline: '', timeout: 5 }), /^set timeout=5$/m);
});
