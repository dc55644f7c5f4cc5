// SSH's host side of the agent: no keys, no server (and the console says why); the host key made
// once a boot and reused, or taken from a setting; a key of another kind refused by name.
import { existsSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import test from 'ava';
import { fakeRoot } from '../helpers/fake-root.ts';
import type { Runner } from '../../src/agent/exec.ts';
import { findSetting } from '../../src/agent/settings.ts';
import { startSsh } from '../../src/agent/ssh.ts';
import { hostKey } from '../../src/agent/ssh-key.ts';

const noPartition: Runner = async () => ({ code: 1, stdout: '', stderr: 'findfs: unable to resolve' });
const ctx = (root: string, said: string[] = []) => ({ root, run: noPartition, warn: (l: string) => said.push(`warning: ${l}`), say: (l: string) => said.push(l) });
const FW_CFG = 'sys/firmware/qemu_fw_cfg/by_name/opt/picowire';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';

test('without authorized_keys no SSH server starts, and the console says where keys would come from', async (t) => {
  const root = await fakeRoot({});
  const said: string[] = [];
  await startSsh(ctx(root, said), ['eth2']);
  t.deepEqual(said, ['no SSH server: no authorized_keys given (picowire.authorized_keys= on the kernel command line, fw_cfg opt/picowire/authorized_keys, authorized_keys on the PICOWIRE partition or picowire embed --authorized-keys)']);
  t.false(existsSync(join(root, 'root/.ssh')));
});

test('keys given to an image without dropbear: the console names what is missing', async (t) => {
  const root = await fakeRoot({ [`${FW_CFG}/authorized_keys/raw`]: `# a comment\n${KEY}\n` });
  const said: string[] = [];
  await startSsh(ctx(root, said), ['eth2']);
  t.deepEqual(said, ["no SSH server: this image has no /usr/sbin/dropbear (the recipe's packages want dropbear-bin)"]);
});

test('a host key is made once a boot (not saved without a partition) and the next look reuses it', async (t) => {
  const root = await fakeRoot({});
  const first = await hostKey(ctx(root));
  t.regex(first.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  t.is(first.kept, 'made now, not saved (no writable PICOWIRE partition): a new one at the next boot');
  // dropbear's file: string "ssh-ed25519", then a 64-byte string (seed and public key)
  t.is(first.dropbear.length, 4 + 11 + 4 + 64);
  t.is(first.dropbear.toString('latin1', 4, 15), 'ssh-ed25519');
  const again = await hostKey(ctx(root));
  t.is(again.fingerprint, first.fingerprint);
  t.is(again.kept, 'made by this box at boot');
});

test('a host key given as a setting is used; one of another kind is refused naming its source', async (t) => {
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const given = await hostKey(ctx(await fakeRoot({ [`${FW_CFG}/ssh_host_ed25519_key/raw`]: pem })));
  t.is(given.kept, 'from QEMU fw_cfg opt/picowire/ssh_host_ed25519_key');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await t.throwsAsync(hostKey(ctx(await fakeRoot({ [`${FW_CFG}/ssh_host_ed25519_key/raw`]: rsa }))), {
    message: 'QEMU fw_cfg opt/picowire/ssh_host_ed25519_key: an rsa key; allowed: an ed25519 private key (PKCS#8 PEM)',
  });
});

test('authorized_keys on the kernel command line keeps the white space inside its quotes', async (t) => {
  const root = await fakeRoot({ 'proc/cmdline': `console=ttyS0 picowire.authorized_keys="${KEY}" quiet\n` });
  t.deepEqual(await findSetting(ctx(root), 'authorized_keys'), { source: 'kernel command line (picowire.authorized_keys=)', text: KEY });
  const plain = await fakeRoot({ 'proc/cmdline': 'picowire.token=abc quiet\n' });
  t.is((await findSetting(ctx(plain), 'token'))?.text, 'abc');
});
