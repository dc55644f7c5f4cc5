// SSH on the real image (issue 15, point 2): the lab box boots from its disk image (a writable
// PICOWIRE partition) with a third NIC on QEMU's user network, whose port 22 QEMU forwards to a port
// of 127.0.0.1; the test's own keys, made in a temp dir, reach it there with the host's OpenSSH
// client. The right key runs `picowire status` and `apply`; a wrong key and passwords are refused; the host key
// is the one the console printed and the one saved on the partition; nothing answers on port 22
// from the bridge side.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromPem } from '../../src/agent/ssh-key.ts';
import { runOnConsole } from '../../src/lab/console.ts';
import { MANAGEMENT_ADDRESS, withLab } from '../../src/lab/lab.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';
import { ssh, sshKey } from '../helpers/ssh.ts';

const NEEDS = ['root', 'qemu', 'image'] as const;
const profile = { name: 'ssh-slow', pipes: { up: { delay: '5ms' }, down: { delay: '5ms' } }, rules: [{ from: 'a', pipe: 'up' }, { from: 'b', pipe: 'down' }] };

testNeeding([...NEEDS], 'SSH on the management NIC: the right key runs picowire status, a wrong key and passwords are refused, the host key is the printed and saved one, and the bridge side gets no answer on port 22', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-ssh-'));
  try {
    for (const name of ['right', 'wrong']) await sshKey(dir, name);
    const authorized = await readFile(join(dir, 'right.pub'), 'utf8');
    await withLab(
      join(IMAGES, 'default.img'),
      'bios-disk',
      JSON.stringify(profile),
      async (lab, vm, management) => {
        const port = management!.also[22]!;
        const { match } = await vm.waitFor(/picowire: SSH host key ED25519 (SHA256:\S+) \((.*)\); 1 authorized key from (.*)\r?\n/, 120_000);
        const [, fingerprint, kept, source] = match as unknown as [string, string, string, string];
        t.regex(kept, /^made now, saved as ssh_host_ed25519_key on the PICOWIRE partition \(\/dev\/\S+\)$/);
        t.is(source, 'QEMU fw_cfg opt/picowire/authorized_keys');
        await vm.waitFor(/picowire: SSH on root@198\.19\.0\.15\b.* \(management NIC, port 22, keys only\)/, 60_000);

        const right = await ssh(port, join(dir, 'right'), 'picowire status');
        t.is(right.code, 0, `ssh with the right key: ${right.stderr.split('\n').slice(-5).join(' | ')}`);
        t.regex(right.stdout, /ssh-slow/, 'picowire status over SSH names the profile in force');
        t.log(right.stdout.trim().split('\n').slice(0, 3).join('\n'));
        const served = /Server host key: ssh-ed25519 (SHA256:\S+)/.exec(right.stderr)?.[1];
        t.is(served, fingerprint, 'the server shows the host key the console printed');

        // apply over SSH too: the same command, the same queue as the console's
        const faster = JSON.stringify({ ...profile, name: 'ssh-fast', pipes: { up: { delay: '1ms' }, down: { delay: '1ms' } } });
        const applied = await ssh(port, join(dir, 'right'), `echo '${faster}' > /tmp/p.json && picowire apply /tmp/p.json && picowire status`);
        t.is(applied.code, 0, `picowire apply over SSH: ${applied.stdout} ${applied.stderr.split('\n').slice(-3).join(' | ')}`);
        t.regex(applied.stdout, /applied profile ssh-fast/);
        t.regex(applied.stdout, /^profile ssh-fast/m, 'and status then names it');

        const wrong = await ssh(port, join(dir, 'wrong'), 'picowire status');
        t.is(wrong.code, 255, 'a wrong key is refused');
        t.regex(wrong.stderr, /Permission denied \(publickey\)/, 'and publickey is the only method offered');
        const password = await ssh(port, join(dir, 'right'), 'true', ['-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', 'PubkeyAuthentication=no']);
        t.is(password.code, 255, 'password login fails');
        const offered = /Authentications that can continue: (\S+)/.exec(password.stderr)?.[1];
        t.is(offered, 'publickey', 'the server offers no password or keyboard-interactive method at all');

        await runOnConsole(vm, 'dmesg -n 1', 30_000);
        const onDisk = await runOnConsole(vm, 'mkdir -p /mnt/p && mount -t vfat -o ro,iocharset=utf8 $(findfs LABEL=PICOWIRE) /mnt/p && cat /mnt/p/ssh_host_ed25519_key; umount /mnt/p', 30_000);
        t.is((await fromPem(onDisk, 'the partition')).fingerprint, fingerprint, 'the partition holds the host key, for the next boot');

        const listening = await runOnConsole(vm, 'busybox netstat -ltn', 30_000);
        t.log(listening);
        t.regex(listening, new RegExp(`tcp +\\d+ +\\d+ ${MANAGEMENT_ADDRESS.replace(/\./g, '\\.')}:22 `), 'dropbear listens on the management address');
        t.notRegex(listening, /0\.0\.0\.0:22 |:::22 /, 'and not on a wildcard address');
        // the IPv6 addresses came after the first start (fec0:: by QEMU's router advertisement, bound once its duplicate check is done)
        for (const v6 of ['fe80::5054:ff:fe70:770c', 'fec0::5054:ff:fe70:770c']) t.true(listening.includes(`${v6}:22 `), `dropbear listens on ${v6} too`);
        // a host on the wire that routes to the management address and knows the bridge's MAC (port a's)
        const left = lab.left;
        await left.exec(['ip', 'route', 'replace', `${MANAGEMENT_ADDRESS}/32`, 'dev', left.ifname]);
        await left.exec(['ip', 'neigh', 'replace', MANAGEMENT_ADDRESS, 'lladdr', '52:54:00:70:77:0a', 'dev', left.ifname, 'nud', 'permanent']);
        const probe = await left.exec(['timeout', '5', 'bash', '-c', `exec 3<>/dev/tcp/${MANAGEMENT_ADDRESS}/22 && echo connected`], { timeoutMs: 15_000 });
        t.not(probe.exitCode, 0, `a host on the wire connected to port 22: ${probe.stdout}`);
        t.notRegex(probe.stdout, /connected/);
        const again = await ssh(port, join(dir, 'right'), 'picowire status');
        t.is(again.code, 0, 'SSH still answers on the management NIC');
      },
      { management: true, also: [22], qemu: { fwCfg: { authorized_keys: authorized } } },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
