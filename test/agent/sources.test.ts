import { rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { fakeRoot } from '../helpers/fake-root.ts';
import type { Result, Runner } from '../../src/agent/exec.ts';
import { FILES } from '../../src/agent/paths.ts';
import { findProfile } from '../../src/agent/sources.ts';

const ok: Result = { code: 0, stdout: '', stderr: '' };
const noPartition: Runner = async () => ({ code: 1, stdout: '', stderr: 'findfs: unable to resolve' });

/** A busybox that finds a PICOWIRE partition holding `profile` (or none), "mounting" it by writing the file. */
function partition(root: string, profile: string | undefined, calls: string[] = []): Runner {
  return async (_cmd, args) => {
    calls.push(args.join(' '));
    const dir = join(root, FILES.configMount);
    if (args[0] === 'findfs') return { ...ok, stdout: '/dev/sdb2\n' };
    if (args[0] === 'mount') {
      if (profile !== undefined) await writeFile(join(dir, 'profile.json'), profile);
      return ok;
    }
    if (args[0] === 'umount') {
      await rm(join(dir, 'profile.json'), { force: true });
      return ok;
    }
    return { code: 127, stdout: '', stderr: 'unexpected' };
  };
}

const warnings: string[] = [];
const ctx = (root: string, run: Runner = noPartition) => ({ root, run, warn: (l: string) => warnings.push(l) });
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');

test('the kernel command line wins over every other source', async (t) => {
  const root = await fakeRoot({
    [FILES.cmdline]: `BOOT_IMAGE=/vmlinuz quiet picowire.profile=${b64({ name: 'from-cmdline' })} console=ttyS0\n`,
    [FILES.fwCfg]: JSON.stringify({ name: 'from-fwcfg' }),
    [FILES.baked]: JSON.stringify({ name: 'baked' }),
  });
  t.deepEqual(await findProfile(ctx(root)), { source: 'kernel command line (picowire.profile=)', value: { name: 'from-cmdline' } });
});

test('URL-safe base64 on the command line is accepted too', async (t) => {
  const value = { name: 'x', description: '>>>???' }; // encodes with + and / in standard base64
  const urlSafe = b64(value).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  t.regex(urlSafe, /[-_]/);
  const root = await fakeRoot({ [FILES.cmdline]: `picowire.profile=${urlSafe}\n` });
  t.deepEqual(await findProfile(ctx(root)), { source: 'kernel command line (picowire.profile=)', value });
});

test('a command-line profile that is not base64 is rejected rather than skipped, with how to encode it', async (t) => {
  const root = await fakeRoot({ [FILES.cmdline]: 'picowire.profile=not*base64\n', [FILES.baked]: '{"name":"baked"}' });
  const found = await findProfile(ctx(root));
  t.like(found, { source: 'kernel command line (picowire.profile=)' });
  t.regex('error' in found ? found.error : '', /is not base64; encode the profile with `base64 -w0 profile.json`/);
});

test('a command-line profile that is base64 but not JSON says where the JSON broke', async (t) => {
  const root = await fakeRoot({ [FILES.cmdline]: `picowire.profile=${Buffer.from('{"name":').toString('base64')}\n` });
  const found = await findProfile(ctx(root));
  t.regex('error' in found ? found.error : '', /^kernel command line \(picowire\.profile=\): not valid JSON: /);
});

test('fw_cfg is used when the command line has no profile', async (t) => {
  const root = await fakeRoot({ [FILES.cmdline]: 'quiet\n', [FILES.fwCfg]: '{"name":"from-fwcfg"}', [FILES.baked]: '{"name":"baked"}' });
  t.deepEqual(await findProfile(ctx(root)), { source: 'QEMU fw_cfg opt/picowire/profile.json', value: { name: 'from-fwcfg' } });
});

test('the PICOWIRE partition is mounted read-only, read and unmounted', async (t) => {
  const root = await fakeRoot({ [FILES.baked]: '{"name":"baked"}' });
  const calls: string[] = [];
  const found = await findProfile(ctx(root, partition(root, '{"name":"from-usb"}', calls)));
  t.deepEqual(found, { source: 'profile.json on the PICOWIRE partition (/dev/sdb2)', value: { name: 'from-usb' } });
  t.deepEqual(calls, ['findfs LABEL=PICOWIRE', `mount -t vfat -o ro,nodev,nosuid,noexec,iocharset=utf8 /dev/sdb2 ${join(root, FILES.configMount)}`, `umount -d ${join(root, FILES.configMount)}`]);
  t.false(existsSync(join(root, FILES.configMount, 'profile.json')));
});

test('a PICOWIRE partition without profile.json falls through to the baked profile', async (t) => {
  const root = await fakeRoot({ [FILES.baked]: '{"name":"baked"}' });
  t.deepEqual(await findProfile(ctx(root, partition(root, undefined))), { source: `/${FILES.baked}`, value: { name: 'baked' } });
});

test('a partition that cannot be mounted is a warning, and the next source is used', async (t) => {
  const root = await fakeRoot({ [FILES.baked]: '{"name":"baked"}' });
  const run: Runner = async (_c, args) => (args[0] === 'findfs' ? { ...ok, stdout: '/dev/sdb2' } : { code: 255, stdout: '', stderr: 'mount: mounting /dev/sdb2 on /run/picowire/config failed: No such device' });
  warnings.length = 0;
  t.like(await findProfile(ctx(root, run)), { value: { name: 'baked' } });
  t.deepEqual(warnings, ['cannot mount the PICOWIRE partition /dev/sdb2: mount: mounting /dev/sdb2 on /run/picowire/config failed: No such device']);
});

test('with no source at all the error lists where it looked', async (t) => {
  const root = await fakeRoot({});
  const found = await findProfile(ctx(root));
  t.is('error' in found ? found.error : '', 'no profile found: looked at the kernel command line (picowire.profile=), fw_cfg opt/picowire/profile.json, a FAT partition labelled PICOWIRE and /etc/picowire/profile.json');
});
