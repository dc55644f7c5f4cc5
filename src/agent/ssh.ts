// SSH on the management NICs (dropbear): keys only, root by key, no password ever (-s -g), no port
// forwarding (-j -k). It runs only when authorized_keys is given (settings.ts: kernel command line,
// fw_cfg, the PICOWIRE partition, /etc/picowire); without it the console says so and nothing listens.
// dropbear is told each management address (-p ADDRESS:22), never a wildcard, so it never answers on
// the bridge or its ports; the addresses come from DHCP, so they are looked at every second and
// dropbear is started again on the new set when it changes. Started once the agent is ready.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { managementHosts } from './api/listen.ts';
import { FILES } from './paths.ts';
import { findSetting } from './settings.ts';
import type { Context } from './sources.ts';
import { hostKey } from './ssh-key.ts';

export const DROPBEAR = '/usr/sbin/dropbear';
export const SSH_PORT = 22;
const AUTHORIZED_KEYS = 'authorized_keys';
const WHERE = `picowire.${AUTHORIZED_KEYS}= on the kernel command line, fw_cfg opt/picowire/${AUTHORIZED_KEYS}, ${AUTHORIZED_KEYS} on the PICOWIRE partition or picowire embed --authorized-keys`;

/** Starts dropbear on the management NICs when keys are given; says on the console what it did. */
export async function startSsh(ctx: Context & { say: (line: string) => void }, nics: string[]): Promise<void> {
  const given = await findSetting(ctx, AUTHORIZED_KEYS);
  const keys = (given?.text ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (!given || keys.length === 0) return ctx.say(`no SSH server: no ${AUTHORIZED_KEYS} given (${WHERE})`);
  if (!existsSync(join(ctx.root, DROPBEAR))) return ctx.say(`no SSH server: this image has no ${DROPBEAR} (the recipe's packages want dropbear-bin)`);
  const ssh = join(ctx.root, 'root/.ssh');
  await mkdir(ssh, { recursive: true, mode: 0o700 });
  await writeFile(join(ssh, AUTHORIZED_KEYS), keys.join('\n') + '\n', { mode: 0o600 });
  const key = await hostKey(ctx);
  const keyFile = join(ctx.root, FILES.run, 'dropbear_ed25519_host_key');
  await writeFile(keyFile, key.dropbear, { mode: 0o600 });
  ctx.say(`SSH host key ED25519 ${key.fingerprint} (${key.kept}); ${keys.length} authorized key${keys.length === 1 ? '' : 's'} from ${given.source}`);
  const { spawn } = await import('node:child_process');
  let running: { hosts: string; child: ChildProcess } | undefined;
  const warned = new Set<string>();
  // a fresh IPv6 address cannot be bound until its duplicate check is done: dropbear starts again at the next look
  const failedToListen = (line: string): boolean => {
    const what = line.replace(/^\[\d+\] [^:]+:\d\d:\d\d /, '');
    if (/Cannot assign requested address/.test(line) && running) {
      running.hosts = '';
      return true;
    }
    if (!warned.has(what)) ctx.say(`warning: SSH: ${what}`);
    warned.add(what);
    return false;
  };
  // one look: dropbear on the addresses there are now, started again when they changed
  const look = async () => {
    const all = managementHosts(nics, (await import('node:os')).networkInterfaces());
    const hosts = [...all.keys()].sort();
    if (running?.hosts === hosts.join(' ')) return;
    if (running) running.child.removeAllListeners('exit').kill();
    running = undefined;
    if (hosts.length === 0) return;
    const args = ['-F', '-E', '-s', '-g', '-j', '-k', '-r', keyFile, '-P', join(ctx.root, FILES.run, 'dropbear.pid'), ...hosts.slice(0, 10).flatMap((h) => ['-p', `${h.includes(':') ? `[${h}]` : h}:${SSH_PORT}`])];
    const child = spawn(join(ctx.root, DROPBEAR), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let last = '';
    let again = false; // to be started again at the next look: said then
    // dropbear says "Not backgrounding" once its sockets listen: only then is SSH there to use
    child.stderr!.on('data', (d: Buffer) => {
      for (const line of d.toString().trim().split('\n')) {
        last = line;
        if (/Failed listening/.test(line)) again = failedToListen(line) || again;
        if (/Not backgrounding/.test(line) && !again) ctx.say(`SSH on ${hosts.map((h) => `root@${h}`).join(', ')} (management NIC, port ${SSH_PORT}, keys only)`);
      }
    });
    // started again when the addresses change, not every second: a fault would fill the console
    child.on('exit', (code) => ctx.say(`warning: SSH server stopped (exit ${code}): ${last}`));
    running = { hosts: hosts.join(' '), child };
  };
  await look();
  setInterval(() => void look().catch((e: Error) => ctx.say(`warning: SSH: ${e.message}`)), 1000);
}
