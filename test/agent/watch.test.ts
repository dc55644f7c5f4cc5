// The PICOWIRE partition read again when the block devices change (a stick plugged back in).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Runner } from '../../src/agent/exec.ts';
import { FILES } from '../../src/agent/paths.ts';
import type { Found } from '../../src/agent/sources.ts';
import { watchConfigPartition } from '../../src/agent/watch.ts';

const roots: string[] = [];
test.after.always(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

/** A root with /proc/partitions and a PICOWIRE partition (present or not) whose mount shows `profile`. */
async function setup() {
  const root = await mkdtemp(join(tmpdir(), 'picowire-watch-'));
  roots.push(root);
  await mkdir(join(root, 'proc'), { recursive: true });
  await mkdir(join(root, FILES.configMount), { recursive: true });
  const stick = { present: false };
  const run: Runner = async (_cmd, args) => {
    if (args[0] === 'findfs') return stick.present ? { code: 0, stdout: '/dev/sdb3\n', stderr: '' } : { code: 1, stdout: '', stderr: '' };
    return { code: 0, stdout: '', stderr: '' }; // mount, umount: the files are already in place
  };
  const partitions = (text: string) => writeFile(join(root, 'proc/partitions'), text);
  const profile = (value: unknown) => writeFile(join(root, FILES.configMount, 'profile.json'), JSON.stringify(value));
  const applied: Found[] = [];
  const watch = watchConfigPartition({ root, run, warn: () => undefined }, async (found) => void applied.push(found), 60_000);
  return { stick, partitions, profile, applied, watch };
}

test('a stick plugged back in with an edited profile.json is applied; unchanged devices or an unchanged profile are not read again', async (t) => {
  const { stick, partitions, profile, applied, watch } = await setup();
  await partitions('major minor  #blocks  name\n 254 0 1048576 vda\n');
  await watch.look(); // notes the devices at start
  t.deepEqual(applied, []);

  // the stick comes in with a profile
  stick.present = true;
  await profile({ name: 'edited' });
  await partitions('major minor  #blocks  name\n 254 0 1048576 vda\n 8 16 7864320 sdb\n 8 19 1024 sdb3\n');
  await watch.look();
  t.is(applied.length, 1);
  t.deepEqual('value' in applied[0]! ? applied[0].value : undefined, { name: 'edited' });
  t.regex(applied[0]!.source, /PICOWIRE partition \(\/dev\/sdb3\)/);

  // nothing changed: not read again
  await watch.look();
  t.is(applied.length, 1);

  // pulled out, plugged back in with the same profile: read, but not applied again
  stick.present = false;
  await partitions('major minor  #blocks  name\n 254 0 1048576 vda\n');
  await watch.look();
  stick.present = true;
  await partitions('major minor  #blocks  name\n 254 0 1048576 vda\n 8 16 7864320 sdb\n 8 19 1024 sdb3\n');
  await watch.look();
  t.is(applied.length, 1);

  // plugged in again after an edit: applied
  stick.present = false;
  await partitions('major minor  #blocks  name\n 254 0 1048576 vda\n');
  await watch.look();
  await profile({ name: 'edited-again' });
  stick.present = true;
  await partitions('major minor  #blocks  name\n 254 0 1048576 vda\n 8 32 7864320 sdc\n 8 35 1024 sdc3\n');
  await watch.look();
  t.is(applied.length, 2);
  t.deepEqual('value' in applied[1]! ? applied[1].value : undefined, { name: 'edited-again' });
  watch.stop();
});
