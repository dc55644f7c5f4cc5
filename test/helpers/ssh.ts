// The host's OpenSSH client against a lab box's forwarded port 22, with keys a test makes.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Makes an ed25519 key pair `name` (and `name.pub`) in dir; returns the private key's path. */
export async function sshKey(dir: string, name: string): Promise<string> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `vm-test-${name}`, '-f', join(dir, name)]);
  return join(dir, name);
}

/** ssh to 127.0.0.1:port with one key; its exit code, output and -v log (never throws for a refusal). */
export async function ssh(port: number, key: string, command: string, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const opts = ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'BatchMode=yes', 'IdentitiesOnly=yes', 'ConnectTimeout=60'];
  const args = ['-v', '-p', String(port), '-i', key, ...opts.flatMap((o) => ['-o', o]), ...extra, 'root@127.0.0.1', command];
  try {
    const { stdout, stderr } = await run('ssh', args, { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
