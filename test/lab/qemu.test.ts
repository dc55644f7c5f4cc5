import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { boot, BOOT_MODES, lastLines, OVMF_CODE, qemuArgs, qemuSupport, readable, startVm, type BootOptions } from '../../src/lab/qemu.ts';
import { writePxe } from '../../src/outputs/pxe.ts';
import { testContext, testUnless } from '../outputs/needs.ts';
import { BOOT_OK, testBootArtifacts } from '../outputs/test-kernel.ts';

const TMP = '/tmp/picowire-qemu-x';

/** The value following a flag, for each time the flag occurs. */
function valuesOf(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

const args = (opts: Partial<BootOptions> & Pick<BootOptions, 'mode'>, cmdline = ''): string[] => qemuArgs({ image: '/images/x.iso', ...opts }, TMP, cmdline);

test('no boot mode asks for KVM: every one runs multi-threaded TCG', (t) => {
  for (const mode of BOOT_MODES) {
    const a = args({ mode });
    t.deepEqual(valuesOf(a, '-accel'), ['tcg,thread=multi'], mode);
    t.false(a.some((x) => /kvm/.test(x)), mode);
  }
});

test('UEFI modes use the read-only OVMF code and this boot’s own copy of the variables; BIOS modes use neither', (t) => {
  const uefi = valuesOf(args({ mode: 'uefi-disk' }), '-drive');
  t.true(uefi.includes(`if=pflash,format=raw,unit=0,file=${OVMF_CODE},readonly=on`));
  t.true(uefi.includes(`if=pflash,format=raw,unit=1,file=${TMP}/OVMF_VARS.fd`));
  t.false(valuesOf(args({ mode: 'bios-disk' }), '-drive').some((d) => d.includes('pflash')));
});

test('a CD is a read-only cdrom, a disk a virtio disk, a stick a USB storage device on xHCI, each the first boot device', (t) => {
  const cd = args({ mode: 'bios-cd' });
  t.regex(valuesOf(cd, '-drive')[0]!, /media=cdrom,readonly=on/);
  t.deepEqual(valuesOf(cd, '-device'), ['virtio-rng-pci', 'ide-cd,drive=boot,bootindex=0']);
  t.deepEqual(valuesOf(args({ mode: 'uefi-disk', image: '/i/x.qcow2' }), '-device'), ['virtio-rng-pci', 'virtio-blk-pci,drive=boot,bootindex=0']);
  t.regex(valuesOf(args({ mode: 'uefi-disk', image: '/i/x.qcow2' }), '-drive').at(-1)!, /format=qcow2,snapshot=on/);
  t.deepEqual(valuesOf(args({ mode: 'bios-usb', image: '/i/x.img' }), '-device'), ['virtio-rng-pci', 'qemu-xhci,id=xhci', 'usb-storage,bus=xhci.0,drive=boot,removable=on,bootindex=0']);
});

test('pxe mode boots from a restricted user NIC serving TFTP, placed after the tap NICs, which carry no boot ROM', (t) => {
  const a = args({ mode: 'pxe', image: '/i/x-pxe', nics: [{ tap: 'tapL', mac: '52:54:00:00:00:0a' }, { tap: 'tapR' }] });
  t.deepEqual(valuesOf(a, '-netdev'), ['tap,id=net0,ifname=tapL,script=no,downscript=no', 'tap,id=net1,ifname=tapR,script=no,downscript=no', `user,id=net2,restrict=on,tftp=${TMP}/tftp,bootfile=boot.ipxe`]);
  t.deepEqual(valuesOf(a, '-device'), ['virtio-rng-pci', 'virtio-net-pci,netdev=net0,mac=52:54:00:00:00:0a,romfile=', 'virtio-net-pci,netdev=net1,romfile=', 'virtio-net-pci,netdev=net2,bootindex=0']);
});

test('direct mode loads the pxe directory’s kernel and initrd with its command line plus the extra one', (t) => {
  const a = args({ mode: 'direct', image: '/i/x-pxe', append: 'loglevel=7' }, 'console=ttyS0 quiet');
  t.deepEqual(valuesOf(a, '-kernel'), ['/i/x-pxe/vmlinuz']);
  t.deepEqual(valuesOf(a, '-initrd'), ['/i/x-pxe/initrd.img']);
  t.deepEqual(valuesOf(a, '-append'), ['console=ttyS0 quiet loglevel=7']);
});

test('a profile reaches the guest as fw_cfg opt/picowire/profile.json, from text or from a file', (t) => {
  t.deepEqual(valuesOf(args({ mode: 'bios-cd', fwCfgProfile: '{}' }), '-fw_cfg'), [`name=opt/picowire/profile.json,file=${TMP}/profile.json`]);
  t.deepEqual(valuesOf(args({ mode: 'bios-cd', fwCfgProfileFile: '/p/lab.json' }), '-fw_cfg'), ['name=opt/picowire/profile.json,file=/p/lab.json']);
  t.deepEqual(valuesOf(args({ mode: 'bios-cd' }), '-fw_cfg'), []);
});

test('a management NIC on the user network takes a 198.18.0.0/15 subnet and forwards ports of 127.0.0.1 only', (t) => {
  const a = args({ mode: 'bios-cd', nics: [{ tap: 'tapL' }, { tap: 'tapR' }, { user: true, net: '198.19.0.0/24', forward: [{ host: 18080, guest: 80 }] }] });
  t.deepEqual(valuesOf(a, '-netdev')[2], 'user,id=net2,restrict=on,net=198.19.0.0/24,hostfwd=tcp:127.0.0.1:18080-:80');
  for (const net of ['10.0.2.0/24', '192.168.1.0/24', '198.20.0.0/24', '198.19.0.0/16']) {
    t.throws(() => args({ mode: 'bios-cd', nics: [{ user: true, net }] }), { instanceOf: UserError, message: `user NIC net "${net}" is not allowed; allowed: a /24 of 198.18.0.0/15, such as 198.19.0.0/24` });
  }
});

test('settings reach the guest as fw_cfg opt/picowire/<name>', (t) => {
  t.deepEqual(valuesOf(args({ mode: 'bios-cd', fwCfg: { token: 'x' } }), '-fw_cfg'), [`name=opt/picowire/token,file=${TMP}/fw_cfg.token`]);
});

test('an image that does not suit the mode is a user error naming what the mode takes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-qemu-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const img = join(dir, 'x.img');
  await writeFile(img, '');
  await t.throwsAsync(boot({ mode: 'bios-cd', image: img }), { instanceOf: UserError, message: /bios-cd cannot boot .*x\.img; allowed: a file ending in \.iso/ });
  await t.throwsAsync(boot({ mode: 'pxe', image: img }), { instanceOf: UserError, message: /needs a directory written by the pxe output.*lacks vmlinuz, initrd\.img, boot\.ipxe/ });
  await t.throwsAsync(boot({ mode: 'uefi-cd', image: join(dir, 'none.iso') }), { instanceOf: UserError, message: /does not exist/ });
  await t.throwsAsync(boot({ mode: 'floppy' as never, image: img }), { instanceOf: UserError, message: /"floppy" is not allowed; allowed: bios-cd/ });
});

test('console text is made readable: no escape sequences, no carriage returns, last lines only', (t) => {
  t.is(readable('\x1b[2J\x1b[01;01Hhello\r\n'), 'hello\n');
  t.is(lastLines('a\n\nb\nc\n', 2), 'b\nc');
});

/** A stand-in for QEMU: prints 50 numbered lines, then READY, echoes what it is sent, exits 3 on "quit". */
const FAKE_CONSOLE = `
for (let i = 1; i <= 50; i++) console.log('line ' + i);
setTimeout(() => console.log('READY'), 200);
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { for (const l of d.split('\\n').filter(Boolean)) { if (l === 'quit') process.exit(3); console.log('echo: ' + l); } });
`;

test('waitFor resolves with the match and when its text arrived, then looks only after it', async (t) => {
  let cleaned = 0;
  const vm = startVm(process.execPath, ['-e', FAKE_CONSOLE], { name: 'fake', cleanup: async () => void cleaned++ });
  t.teardown(() => vm.stop());
  const ready = await vm.waitFor(/READY/g, 5000);
  t.is(ready.match[0], 'READY');
  t.true(ready.atMs >= 150 && ready.atMs < 5000, `arrived at ${ready.atMs} ms`);
  const again = await t.throwsAsync(vm.waitFor(/READY/, 300));
  t.regex(again!.message, /fake: nothing matched within 300 ms while waiting for \/READY\/ on the serial console; its last 40 lines:\n/);
  t.regex(again!.message, /^line 50$/m);
  t.notRegex(again!.message, /^line 11$/m); // line 12..50 and READY are the last 40
  vm.send('hello\n');
  t.is((await vm.waitFor(/echo: (\w+)/, 5000)).match[1], 'hello');
  await vm.stop();
  await vm.stop();
  t.is(cleaned, 2); // cleanup is safe to repeat: stop() may be called by a test and by its teardown
});

test('waitFor fails at once with the exit status when the VM exits', async (t) => {
  const vm = startVm(process.execPath, ['-e', FAKE_CONSOLE], { name: 'fake' });
  t.teardown(() => vm.stop());
  await vm.waitFor(/READY/, 5000);
  vm.send('quit\n');
  const started = Date.now();
  const error = await t.throwsAsync(vm.waitFor(/never printed/, 60_000));
  t.regex(error!.message, /the VM exited with code 3 while waiting/);
  t.true(Date.now() - started < 10_000);
});

testUnless(qemuSupport(['direct']).ok ? undefined : (qemuSupport(['direct']) as { reason: string }).reason, 'a kernel boots in direct mode with the extra command line and prints on the serial console', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-qemu-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const artifacts = await testBootArtifacts(join(dir, 'fixture'));
  const ctx = testContext(dir);
  await writePxe(artifacts, ctx);
  const vm = await boot({ mode: 'direct', image: join(ctx.outDir, 'test-pxe'), append: 'loglevel=6 picowire.test=1', log: join(dir, 'console.log') });
  t.teardown(() => vm.stop());
  const { atMs } = await vm.waitFor(new RegExp(BOOT_OK), 180_000);
  t.log(`direct boot: ${BOOT_OK} at ${(atMs / 1000).toFixed(1)} s`);
  t.regex(vm.console, /Kernel command line: .*quiet loglevel=6 picowire\.test=1/);
});
