// Boots any picowire output in QEMU (TCG only: KVM hangs on these machines) in one of the ways a
// real machine would boot it, and gives its serial console to tests, the lab and benchmarks.
import { connect } from 'node:net';
import { createWriteStream, existsSync, statSync, type WriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, extname, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { UserError } from '../common/errors.ts';

export type BootMode = 'bios-cd' | 'bios-disk' | 'bios-usb' | 'uefi-cd' | 'uefi-disk' | 'uefi-usb' | 'pxe' | 'direct';
export const BOOT_MODES: readonly BootMode[] = ['bios-cd', 'bios-disk', 'bios-usb', 'uefi-cd', 'uefi-disk', 'uefi-usb', 'pxe', 'direct'];

/** A NIC on a tap device that already exists. */
export interface Nic {
  tap: string;
  mac?: string;
}
/** A NIC on QEMU's user-mode network, restricted to the host (restrict=on); in pxe mode it serves the TFTP boot. */
export interface UserNic {
  user: true;
  mac?: string;
  /** its subnet (QEMU's DHCP gives the guest .15 of it): one of 198.18.0.0/15, the test range */
  net?: string;
  /** TCP ports of 127.0.0.1 forwarded to the guest's ports (hostfwd: host port → guest port) */
  forward?: { host: number; guest: number }[];
  /** the other way: a port of address .100 of the network that reaches 127.0.0.1:host (guestfwd), a server of the test's for the guest */
  serve?: { guest: number; host: number }[];
}

export interface BootOptions {
  mode: BootMode;
  /** an .iso, .img or .qcow2; for pxe and direct, an images/<name>-pxe directory */
  image: string;
  /** NICs in PCI order; pxe mode adds a user NIC after them when none is given */
  nics?: (Nic | UserNic)[];
  /** profile text handed to the guest as fw_cfg opt/picowire/profile.json */
  fwCfgProfile?: string;
  /** a profile file handed to the guest the same way (instead of fwCfgProfile) */
  fwCfgProfileFile?: string;
  /** more settings handed to the guest as fw_cfg opt/picowire/<name> (say, token) */
  fwCfg?: Record<string, string>;
  /** more kernel command line, for direct and pxe */
  append?: string;
  memoryMiB?: number;
  /** vCPUs (multi-threaded TCG); 2 by default */
  cpus?: number;
  /** a file the serial console is copied to as it arrives */
  log?: string;
  /** a USB controller (qemu-xhci) for sticks plugged in at runtime */
  usb?: boolean;
  /** a unix socket path for QEMU's human monitor, to plug devices in at runtime (monitorCommand) */
  monitor?: string;
}

export interface Vm {
  /** everything the serial console printed so far */
  readonly console: string;
  /** Date.now() when QEMU was started */
  readonly startedAt: number;
  /** Waits for the pattern in console output after the previous match; atMs: when its text arrived, from startedAt. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<{ match: RegExpMatchArray; atMs: number }>;
  /** Types on the serial console. */
  send(text: string): void;
  /** Kills QEMU and removes its temporary files. */
  stop(): Promise<void>;
}

export const QEMU = 'qemu-system-x86_64';
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/** The iPXE ROM QEMU gives virtio-net for network boot (Debian package ipxe-qemu). */
export const IPXE_ROM = '/usr/lib/ipxe/qemu/efi-virtio.rom';

/** Whether a command is on PATH. */
function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}

/** Whether this host can boot the given modes, and if not, why (with the packages to install). */
export function qemuSupport(modes: readonly BootMode[] = BOOT_MODES): { ok: true } | { ok: false; reason: string } {
  const missing: string[] = [];
  if (!onPath(QEMU)) missing.push(`${QEMU} (Debian package qemu-system-x86)`);
  if (modes.some((m) => m.startsWith('uefi-')) && !(existsSync(OVMF_CODE) && existsSync(OVMF_VARS))) missing.push(`${OVMF_CODE} and ${OVMF_VARS} (Debian package ovmf)`);
  if (modes.includes('pxe') && !existsSync(IPXE_ROM)) missing.push(`${IPXE_ROM} (Debian package ipxe-qemu)`);
  return missing.length ? { ok: false, reason: `missing ${missing.join(', ')}` } : { ok: true };
}

/** Checks that the image suits the mode; a UserError says what the mode needs. */
function checkImage(mode: BootMode, image: string): void {
  if (!existsSync(image)) throw new UserError(`boot image ${image} does not exist; build it first (make) or name another`);
  const isDir = statSync(image).isDirectory();
  if (mode === 'pxe' || mode === 'direct') {
    const needs = mode === 'pxe' ? ['vmlinuz', 'initrd.img', 'boot.ipxe'] : ['vmlinuz', 'initrd.img', 'cmdline.txt'];
    const lacking = needs.filter((f) => !isDir || !existsSync(join(image, f)));
    if (lacking.length) throw new UserError(`boot mode ${mode} needs a directory written by the pxe output (images/<name>-pxe/); ${image} lacks ${lacking.join(', ')}`);
    return;
  }
  const ext = extname(image);
  const allowed = mode.endsWith('-cd') ? ['.iso'] : ['.iso', '.img', '.raw', '.qcow2'];
  if (isDir || !allowed.includes(ext)) throw new UserError(`boot mode ${mode} cannot boot ${image}; allowed: a file ending in ${allowed.join(', ')}`);
}

/** The boot medium's drive and device: a CD on the AHCI bus, a virtio disk, or a stick on an xHCI controller. */
function mediumArgs(mode: BootMode, image: string): string[] {
  const format = extname(image) === '.qcow2' ? 'qcow2' : 'raw';
  if (mode.endsWith('-cd')) {
    return ['-drive', `if=none,id=boot,file=${image},format=raw,media=cdrom,readonly=on`, '-device', 'ide-cd,drive=boot,bootindex=0'];
  }
  // snapshot=on: the guest's writes (to the config partition, say) go to a throwaway overlay, never to the image
  const drive = `if=none,id=boot,file=${image},format=${format},snapshot=on`;
  if (mode.endsWith('-disk')) return ['-drive', drive, '-device', 'virtio-blk-pci,drive=boot,bootindex=0'];
  if (mode.endsWith('-usb')) return ['-device', 'qemu-xhci,id=xhci', '-drive', drive, '-device', 'usb-storage,bus=xhci.0,drive=boot,removable=on,bootindex=0'];
  return [];
}

/** -netdev/-device pairs for the NICs; only the pxe boot NIC carries an option ROM (the others would slow the firmware down). */
function nicArgs(opts: BootOptions, tftpDir: string): string[] {
  const nics: (Nic | UserNic)[] = [...(opts.nics ?? [])];
  if (opts.mode === 'pxe' && !nics.some((n) => 'user' in n)) nics.push({ user: true });
  let pxeGiven = false;
  return nics.flatMap((nic, i) => {
    const id = `net${i}`;
    const mac = nic.mac ? `,mac=${nic.mac}` : '';
    if ('tap' in nic) return ['-netdev', `tap,id=${id},ifname=${nic.tap},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=${id}${mac},romfile=`];
    if (opts.mode === 'pxe' && !pxeGiven) {
      pxeGiven = true;
      return ['-netdev', `user,id=${id},restrict=on,tftp=${tftpDir},bootfile=boot.ipxe${userNet(nic)}`, '-device', `virtio-net-pci,netdev=${id}${mac},bootindex=0`];
    }
    return ['-netdev', `user,id=${id},restrict=on${userNet(nic)}`, '-device', `virtio-net-pci,netdev=${id}${mac},romfile=`];
  });
}

/** Where a user NIC's guest reaches the servers `serve` names: .100 of its subnet (.2 is QEMU's own). */
export const servedAddress = (nic: Pick<UserNic, 'net'>) => (nic.net ?? '10.0.2.0/24').replace(/\.0\/24$/, '.100');

/** A user NIC's subnet and forwards, as -netdev user options; forwards listen on 127.0.0.1 only. */
function userNet(nic: UserNic): string {
  if (nic.net !== undefined && !/^198\.1[89]\.\d{1,3}\.0\/24$/.test(nic.net)) throw new UserError(`user NIC net "${nic.net}" is not allowed; allowed: a /24 of 198.18.0.0/15, such as 198.19.0.0/24`);
  const forwards = (nic.forward ?? []).map((f) => `,hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`);
  // a guestfwd to a tcp: device makes one connection when QEMU starts; cmd: runs a relay per connection
  // (a node one-liner, its commas doubled for QEMU's option syntax), so a guest can poll a server
  const served = (nic.serve ?? []).map((f) => {
    const relay = `node -e "const c=require('net').connect(${f.host},'127.0.0.1');process.stdin.pipe(c);c.pipe(process.stdout);c.on('close',()=>process.exit(0))"`;
    return `,guestfwd=tcp:${servedAddress(nic)}:${f.guest}-cmd:${relay.replaceAll(',', ',,')}`;
  });
  return `${nic.net ? `,net=${nic.net}` : ''}${forwards.join('')}${served.join('')}`;
}

/** The whole QEMU command line; tmp is this boot's private directory (OVMF variables, fw_cfg file, TFTP root). */
export function qemuArgs(opts: BootOptions, tmp: string, directCmdline = ''): string[] {
  const args = ['-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'q35', '-accel', 'tcg,thread=multi'];
  args.push('-smp', String(opts.cpus ?? 2), '-m', String(opts.memoryMiB ?? 1024), '-no-reboot');
  // entropy from the host, as a hypervisor would give: without it node's first getrandom() waits for the guest's crng under TCG
  args.push('-device', 'virtio-rng-pci');
  args.push('-chardev', 'stdio,id=console,signal=off', '-serial', 'chardev:console');
  if (opts.mode.startsWith('uefi-')) {
    // a fresh copy of the variables every boot: a reused one keeps the last boot's entries (DESIGN.md)
    args.push('-drive', `if=pflash,format=raw,unit=0,file=${OVMF_CODE},readonly=on`, '-drive', `if=pflash,format=raw,unit=1,file=${join(tmp, 'OVMF_VARS.fd')}`);
  }
  args.push(...mediumArgs(opts.mode, opts.image));
  if (opts.mode === 'direct') {
    args.push('-kernel', join(opts.image, 'vmlinuz'), '-initrd', join(opts.image, 'initrd.img'), '-append', [directCmdline, opts.append ?? ''].join(' ').trim());
  }
  args.push(...nicArgs(opts, join(tmp, 'tftp')));
  if (opts.usb) args.push('-device', 'qemu-xhci,id=xhci');
  if (opts.monitor !== undefined) args.push('-monitor', `unix:${opts.monitor},server=on,wait=off`);
  if (opts.fwCfgProfileFile !== undefined) args.push('-fw_cfg', `name=opt/picowire/profile.json,file=${opts.fwCfgProfileFile}`);
  else if (opts.fwCfgProfile !== undefined) args.push('-fw_cfg', `name=opt/picowire/profile.json,file=${join(tmp, 'profile.json')}`);
  for (const name of Object.keys(opts.fwCfg ?? {})) args.push('-fw_cfg', `name=opt/picowire/${name},file=${join(tmp, `fw_cfg.${name}`)}`);
  return args;
}

/** Fills this boot's private directory with what qemuArgs points at. */
async function prepare(opts: BootOptions, tmp: string): Promise<void> {
  if (opts.mode.startsWith('uefi-')) await copyFile(OVMF_VARS, join(tmp, 'OVMF_VARS.fd'));
  if (opts.fwCfgProfile !== undefined && opts.fwCfgProfileFile === undefined) await writeFile(join(tmp, 'profile.json'), opts.fwCfgProfile);
  for (const [name, text] of Object.entries(opts.fwCfg ?? {})) {
    if (!/^[a-z_.-]+$/.test(name)) throw new UserError(`fw_cfg setting name "${name}" is not allowed; allowed: lowercase letters, ".", "_" and "-" (token, authorized_keys, profile_url)`);
    await writeFile(join(tmp, `fw_cfg.${name}`), text);
  }
  if (opts.mode === 'pxe') {
    // a TFTP root of its own, so `append` can go into boot.ipxe without touching the build output
    const tftp = join(tmp, 'tftp');
    await mkdir(tftp);
    for (const f of ['vmlinuz', 'initrd.img']) await symlink(join(opts.image, f), join(tftp, f));
    let script = await readFile(join(opts.image, 'boot.ipxe'), 'utf8');
    if (opts.append) script = script.replace(/^(kernel .*)$/m, `$1 ${opts.append}`);
    await writeFile(join(tftp, 'boot.ipxe'), script);
  }
}

/** Boots the image as the mode says; resolves once QEMU has started (not booted: use waitFor). */
export async function boot(opts: BootOptions): Promise<Vm> {
  if (!BOOT_MODES.includes(opts.mode)) throw new UserError(`boot mode "${opts.mode}" is not allowed; allowed: ${BOOT_MODES.join(', ')}`);
  checkImage(opts.mode, opts.image);
  if (opts.fwCfgProfileFile !== undefined && !existsSync(opts.fwCfgProfileFile)) throw new UserError(`fw_cfg profile file ${opts.fwCfgProfileFile} does not exist`);
  const support = qemuSupport([opts.mode]);
  if (!support.ok) throw new UserError(`cannot boot in mode ${opts.mode}: ${support.reason}`);
  const tmp = await mkdtemp(join(tmpdir(), 'picowire-qemu-'));
  try {
    await prepare(opts, tmp);
    const cmdline = opts.mode === 'direct' ? (await readFile(join(opts.image, 'cmdline.txt'), 'utf8')).trim() : '';
    return startVm(QEMU, qemuArgs(opts, tmp, cmdline), { name: `${opts.image} (${opts.mode})`, log: opts.log, cleanup: () => rm(tmp, { recursive: true, force: true }) });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** One command to QEMU's human monitor at `socket` (BootOptions.monitor); resolves with what it answered. */
export function monitorCommand(socket: string, command: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((done, fail) => {
    const conn = connect(socket);
    let text = '';
    const timer = setTimeout(() => {
      conn.destroy();
      fail(new Error(`QEMU monitor ${socket}: no answer to "${command}" within ${timeoutMs} ms: ${text}`));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('error', (e) => {
      clearTimeout(timer);
      fail(new Error(`QEMU monitor ${socket}: ${e.message}`));
    });
    let sent = false;
    conn.on('data', (d: string) => {
      text += d;
      // the monitor greets, then prompts "(qemu) "; after the command, the next prompt ends its answer
      if (!sent && text.includes('(qemu) ')) {
        sent = true;
        text = '';
        conn.write(`${command}\n`);
      } else if (sent && text.includes('(qemu) ')) {
        clearTimeout(timer);
        conn.end();
        // the monitor echoes the command as it redraws its line; the answer is what follows that line
        const answer = text.slice(0, text.lastIndexOf('(qemu) '));
        done(readable(answer.slice(answer.indexOf('\n') + 1)).trim());
      }
    });
  });
}

/** Console text as a person reads it: no terminal escape sequences, no carriage returns. */
export function readable(text: string): string {
  return text.replace(/\x1b\[[0-9;=?]*[A-Za-z]/g, '').replace(/\x1b[()][A-Z0-9]/g, '').replace(/\r/g, '');
}

/** The last n non-empty lines of console text, readable. */
export function lastLines(text: string, n: number): string {
  return readable(text)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-n)
    .join('\n');
}

/**
 * Runs a program whose stdin/stdout are a serial console (QEMU with -serial stdio, or a stand-in in
 * tests) and offers it as a Vm.
 */
export function startVm(command: string, args: string[], opts: { name: string; log?: string; cleanup?: () => Promise<unknown> }): Vm {
  const startedAt = Date.now();
  const proc: ResultPromise<{ stdin: 'pipe'; stdout: 'pipe'; stderr: 'pipe'; buffer: false; reject: false }> = execa(command, args, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false });
  const log: WriteStream | undefined = opts.log ? createWriteStream(opts.log) : undefined;
  let text = '';
  let stderr = '';
  let cursor = 0; // waitFor looks after the previous match
  const arrivals: { end: number; atMs: number }[] = []; // when each piece of console text came
  let exited: string | undefined; // how the process ended, once it has
  const watchers = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...watchers]) w();
  };

  proc.stdout.on('data', (chunk: Buffer) => {
    const s = chunk.toString('latin1'); // one byte, one character: no split UTF-8 sequences, offsets stay exact
    text += s;
    arrivals.push({ end: text.length, atMs: Date.now() - startedAt });
    log?.write(chunk);
    notify();
  });
  proc.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  proc.stdin.on('error', () => undefined); // typing at a VM that just exited is not an error
  const done = proc.then((result) => {
    exited = result.failed && result.exitCode === undefined ? `${result.signal ? `was killed by ${result.signal}` : `failed to start: ${result.shortMessage}`}` : `exited with code ${result.exitCode}`;
    log?.end();
    notify();
  });

  /** When the console text up to offset arrived. */
  const arrivalOf = (offset: number): number => arrivals.find((a) => a.end >= offset)?.atMs ?? Date.now() - startedAt;

  return {
    get console() {
      return text;
    },
    startedAt,
    waitFor(pattern, timeoutMs) {
      const once = new RegExp(pattern.source, pattern.flags.replace('g', ''));
      return new Promise((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const finish = (error?: Error, value?: { match: RegExpMatchArray; atMs: number }): void => {
          watchers.delete(check);
          clearTimeout(timer);
          if (error) reject(error);
          else resolve(value!);
        };
        const fail = (why: string): void => {
          const err = stderr.trim() ? `\nQEMU said: ${stderr.trim().split('\n').slice(-10).join('\n')}` : '';
          finish(new Error(`${opts.name}: ${why} while waiting for ${once} on the serial console; its last 40 lines:\n${lastLines(text, 40)}${err}`));
        };
        function check(): void {
          const rest = text.slice(cursor);
          const m = rest.match(once);
          if (m) {
            const end = cursor + m.index! + m[0].length;
            cursor = end;
            finish(undefined, { match: m, atMs: arrivalOf(end) });
          } else if (exited !== undefined) fail(`the VM ${exited}`);
        }
        watchers.add(check);
        timer = setTimeout(() => fail(`nothing matched within ${timeoutMs} ms`), timeoutMs);
        check();
      });
    },
    send(textToType) {
      if (exited === undefined) proc.stdin.write(textToType);
    },
    async stop() {
      if (exited === undefined) {
        proc.kill('SIGTERM');
        const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await done;
        clearTimeout(killer);
      } else await done;
      await opts.cleanup?.();
    },
  };
}
