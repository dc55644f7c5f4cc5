// Where the API's token comes from, in order, and the one the box makes when none is given.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { fakeRoot } from '../../helpers/fake-root.ts';
import { apiToken, findToken } from '../../../src/agent/api/token.ts';
import type { Result, Runner } from '../../../src/agent/exec.ts';
import { FILES } from '../../../src/agent/paths.ts';

const ok: Result = { code: 0, stdout: '', stderr: '' };
const noPartition: Runner = async () => ({ code: 1, stdout: '', stderr: 'findfs: unable to resolve' });

/** A busybox with a PICOWIRE partition whose files live in `disk` (copied in on mount, back on umount); `writable` says whether rw mounts work. */
function partition(root: string, disk: Map<string, string>, writable: boolean, calls: string[] = []): Runner {
  const dir = join(root, FILES.configMount);
  return async (_cmd, args) => {
    calls.push(args.slice(0, 5).join(' '));
    if (args[0] === 'findfs') return { ...ok, stdout: '/dev/sdb2\n' };
    if (args[0] === 'mount') {
      if (args[4]!.startsWith('rw') && !writable) return { code: 255, stdout: '', stderr: 'mount: /dev/sdb2 is write-protected' };
      for (const [name, text] of disk) await writeFile(join(dir, name), text);
      return ok;
    }
    if (args[0] === 'umount') {
      for (const name of ['token', 'profile.json']) {
        const path = join(dir, name);
        if (existsSync(path)) disk.set(name, await readFile(path, 'utf8'));
        await rm(path, { force: true });
      }
      return ok;
    }
    return { code: 127, stdout: '', stderr: 'unexpected' };
  };
}

const TOKEN = (c: string) => c.repeat(20);
const ctx = (root: string, run: Runner = noPartition, said: string[] = []) => ({ root, run, warn: (l: string) => said.push(`warning: ${l}`), say: (l: string) => said.push(l) });

test('the kernel command line wins, then fw_cfg, then the partition, then the baked file', async (t) => {
  const all = { [FILES.cmdline]: `quiet picowire.token=${TOKEN('c')}\n`, [`${FILES.fwCfgDir}/token/raw`]: TOKEN('f'), [`${FILES.settings}/token`]: `${TOKEN('b')}\n` };
  const disk = new Map([['token', `${TOKEN('p')}\r\n`]]);
  let root = await fakeRoot(all);
  t.deepEqual(await findToken(ctx(root, partition(root, disk, false))), { source: 'kernel command line (picowire.token=)', token: TOKEN('c') });
  root = await fakeRoot({ ...all, [FILES.cmdline]: 'quiet\n' });
  t.deepEqual(await findToken(ctx(root, partition(root, disk, false))), { source: 'QEMU fw_cfg opt/picowire/token', token: TOKEN('f') });
  root = await fakeRoot({ [FILES.cmdline]: 'quiet\n', [`${FILES.settings}/token`]: TOKEN('b') });
  t.deepEqual(await findToken(ctx(root, partition(root, disk, false))), { source: 'token on the PICOWIRE partition (/dev/sdb2)', token: TOKEN('p') });
  t.deepEqual(await findToken(ctx(root)), { source: '/etc/picowire/token', token: TOKEN('b') });
  t.is(await findToken(ctx(await fakeRoot({}))), undefined);
});

test('a token that breaks the rules is refused naming the source, the value and what is allowed, and no other is used', async (t) => {
  for (const bad of ['short', 'has spaces in it, sixteen+', 'x'.repeat(257), 'quote"d-0123456789']) {
    const root = await fakeRoot({ [`${FILES.fwCfgDir}/token/raw`]: bad, [`${FILES.settings}/token`]: TOKEN('b') });
    const said: string[] = [];
    const r = await apiToken(ctx(root, noPartition, said));
    t.true('error' in r, bad);
    t.regex((r as { error: string }).error, /^QEMU fw_cfg opt\/picowire\/token: token ".*"(… \(\d+ characters\))? is not allowed; allowed: 16 to 256 characters of A-Z a-z 0-9 \. _ ~ \+ \/ = -$/);
    t.deepEqual(said, [], 'no token is made in its place');
  }
});

test('with none given the box makes one, prints it, keeps it for this boot and writes it to a writable partition', async (t) => {
  const root = await fakeRoot({});
  const disk = new Map<string, string>();
  const said: string[] = [];
  const calls: string[] = [];
  const made = await apiToken(ctx(root, partition(root, disk, true, calls), said));
  t.true('token' in made);
  const token = (made as { token: string }).token;
  t.regex(token, /^[A-Za-z0-9_-]{43}$/);
  t.is(said.length, 1);
  t.is(said[0], `API token (none was given, so this box made one; saved as token on the PICOWIRE partition (/dev/sdb2)): ${token}`);
  t.is(disk.get('token'), `${token}\n`);
  t.true(calls.includes(`mount -t vfat -o rw,nodev,nosuid,noexec,iocharset=utf8`));
  t.is(await readFile(join(root, FILES.madeToken), 'utf8'), `${token}\n`);
  // the next boot finds it on the partition
  const next = await fakeRoot({});
  t.deepEqual(await findToken(ctx(next, partition(next, disk, false))), { source: 'token on the PICOWIRE partition (/dev/sdb2)', token });
});

test('a made token that cannot be saved is said to last until reboot; a respawned agent uses it again', async (t) => {
  const root = await fakeRoot({});
  const said: string[] = [];
  const made = (await apiToken(ctx(root, partition(root, new Map(), false), said))) as { token: string };
  t.regex(said.at(-1)!, /not saved \(no writable PICOWIRE partition\): a new one is made at the next boot\): \S{43}$/);
  t.true(said.some((l) => l.startsWith('warning: cannot mount the PICOWIRE partition /dev/sdb2 for writing')));
  const again = await apiToken(ctx(root, noPartition, said));
  t.deepEqual(again, { token: made.token });
});
