// The SSH server's host key, ed25519: the given one (the setting ssh_host_ed25519_key, a PKCS#8 PEM,
// from the same places as the token), or the one made earlier this boot, or a new one, kept on the
// PICOWIRE partition when it is writable so that the box's fingerprint stays the same across boots.
// Made by node:crypto rather than dropbearkey, which the image then need not carry (30 KB of ISO).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CONFIG_LABEL, FILES } from './paths.ts';
import { findSetting } from './settings.ts';
import { onConfigPartition, readText, type Context } from './sources.ts';

/** The setting's one file name: on the partition, in fw_cfg (opt/picowire/) and /etc/picowire/. */
export const HOST_KEY_FILE = 'ssh_host_ed25519_key';
const MADE = join(FILES.run, HOST_KEY_FILE);

export interface HostKey {
  /** the key file as dropbear reads it */
  dropbear: Buffer;
  /** as OpenSSH prints it: SHA256:<base64 of the public key blob's hash, unpadded> */
  fingerprint: string;
  /** where it came from, or where it went */
  kept: string;
}

/** The host key to serve with: given, made earlier this boot, or made now (and saved when it can be). */
export async function hostKey(ctx: Context): Promise<HostKey> {
  const given = await findSetting(ctx, HOST_KEY_FILE);
  if (given) return { ...(await fromPem(given.text, given.source)), kept: `from ${given.source}` };
  const made = await readText(join(ctx.root, MADE));
  if (made !== undefined) return { ...(await fromPem(made, MADE)), kept: 'made by this box at boot' };
  const { generateKeyPairSync } = await import('node:crypto'); // loaded after the agent is ready
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await mkdir(dirname(join(ctx.root, MADE)), { recursive: true });
  await writeFile(join(ctx.root, MADE), pem, { mode: 0o600 });
  const saved = await onConfigPartition(ctx, 'rw', async (dir, device) => {
    await writeFile(join(dir, HOST_KEY_FILE), pem);
    return device;
  }).catch((e: unknown) => ctx.warn(`cannot write ${HOST_KEY_FILE} to the ${CONFIG_LABEL} partition: ${(e as Error).message}`));
  const kept = saved ? `made now, saved as ${HOST_KEY_FILE} on the ${CONFIG_LABEL} partition (${saved})` : `made now, not saved (no writable ${CONFIG_LABEL} partition): a new one at the next boot`;
  return { ...(await fromPem(pem, 'the key made now')), kept };
}

/** An ed25519 private key in PEM as dropbear's key file and its fingerprint; an error naming the source otherwise. */
export async function fromPem(pem: string, source: string): Promise<Omit<HostKey, 'kept'>> {
  const { createHash, createPrivateKey } = await import('node:crypto');
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${source}: an ${key.asymmetricKeyType} key; allowed: an ed25519 private key (PKCS#8 PEM)`);
  const jwk = key.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d!, 'base64url');
  const pub = Buffer.from(jwk.x!, 'base64url');
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(pub)]);
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  // dropbear's ed25519 key file: the key type, then the private seed followed by the public key
  return { dropbear: Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(Buffer.concat([seed, pub]))]), fingerprint };
}

/** An SSH wire-format string: its length (32 bits, big-endian), then its bytes. */
function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}
