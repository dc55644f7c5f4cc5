// The QEMU lab: an appliance image booted between two test hosts. `make lab` runs this file to give
// a person a live lab to poke at; VM tests call withLab to get one for the length of a test.
//   npx tsx src/lab/lab.ts [image] [--mode uefi-cd] [--profile file.json] [--timeout 300]
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { UserError } from '../common/errors.ts';
import { attachTaps, createLab, labSupport, type Lab } from './hosts.ts';
import { boot, servedAddress, type BootMode, type BootOptions, type Vm } from './qemu.ts';

const MODES: BootMode[] = ['bios-cd', 'bios-disk', 'bios-usb', 'uefi-cd', 'uefi-disk', 'uefi-usb', 'pxe', 'direct'];
// what the agent prints once the profile is in force: from then on the wire is the one asked for
export const APPLIED = /picowire: applied profile \S+\r?\n/;
// bridge ports a and b, in PCI order: fixed MACs so a person can tell them apart in the guest
const PORT_MACS = ['52:54:00:70:77:0a', '52:54:00:70:77:0b'] as const;
const MANAGEMENT_MAC = '52:54:00:70:77:0c';

export interface LabRun {
  image: string;
  mode: BootMode;
  /** a profile (JSON text) given to the agent through QEMU's fw_cfg; without it the image's own applies */
  profile?: string;
  /** the console line that means the lab is ready (default: the applied line) */
  ready?: RegExp;
  /** how long the boot may take until the profile is applied (TCG is slow; UEFI more so) */
  bootTimeoutMs?: number;
  /** where QEMU's serial console is written as well */
  log?: string;
  /** more for QEMU: a USB controller, a monitor socket, fw_cfg settings */
  qemu?: Pick<BootOptions, 'usb' | 'monitor' | 'fwCfg'>;
  /** a third NIC for management, on QEMU's user network (MANAGEMENT_NET), its port 80 forwarded to a free port of 127.0.0.1 */
  management?: boolean;
  /** more of the box's management ports to forward from free loopback ports (443, 22, ...), beside 80 */
  also?: number[];
  /** servers of the test's on 127.0.0.1 that the box reaches at MANAGEMENT_SERVER:guest over its management NIC */
  serve?: { guest: number; host: number }[];
}

/** The management NIC's subnet in the lab: QEMU's DHCP gives the box MANAGEMENT_ADDRESS. */
export const MANAGEMENT_NET = '198.19.0.0/24';
export const MANAGEMENT_ADDRESS = '198.19.0.15';
/** Where the box reaches the servers a run's `serve` names, over its management NIC */
export const MANAGEMENT_SERVER = servedAddress({ net: MANAGEMENT_NET });

/** How the host reaches the lab box's API: 127.0.0.1:port, forwarded by QEMU to port 80 of the management address. */
export interface ManagementAccess {
  url: string;
  port: number;
  /** the loopback port forwarded to each other management port the run asked for (`also`), by the box's port */
  also: Record<number, number>;
}

/** A TCP port of 127.0.0.1 free now (for QEMU to forward from). */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

/** Boots the image with one NIC on each tap (and one for management, if asked), moves the taps to the hosts and waits until the agent applied its profile. */
export async function startLab(run: LabRun): Promise<{ lab: Lab; vm: Vm; management?: ManagementAccess }> {
  const support = labSupport();
  if (!support.ok) throw new UserError(`the QEMU lab cannot run here: ${support.reason}`);
  const lab = await createLab({ wire: 'tap' });
  let vm: Vm | undefined;
  try {
    const port = run.management ? await freeLoopbackPort() : undefined;
    const also: Record<number, number> = {};
    for (const guest of run.management ? (run.also ?? []) : []) also[guest] = await freeLoopbackPort();
    const forward = [{ host: port!, guest: 80 }, ...Object.entries(also).map(([guest, host]) => ({ host, guest: Number(guest) }))];
    const management = port === undefined ? [] : [{ user: true as const, mac: MANAGEMENT_MAC, net: MANAGEMENT_NET, forward, ...(run.serve && { serve: run.serve }) }];
    vm = await boot({
      mode: run.mode,
      image: run.image,
      nics: [...lab.taps.map((tap, i) => ({ tap, mac: PORT_MACS[i] })), ...management],
      fwCfgProfile: run.profile,
      log: run.log,
      ...run.qemu,
    });
    await attachTaps(lab);
    await vm.waitFor(run.ready ?? APPLIED, run.bootTimeoutMs ?? 300_000);
    return { lab, vm, ...(port !== undefined && { management: { url: `http://127.0.0.1:${port}`, port, also } }) };
  } catch (e) {
    await vm?.stop();
    await lab.teardown();
    throw e;
  }
}

/** For VM tests: a lab with the image booted and its profile applied, for the length of fn; always torn down. */
export async function withLab<T>(
  image: string,
  mode: BootMode,
  profile: string | undefined,
  fn: (lab: Lab, vm: Vm, management?: ManagementAccess) => Promise<T>,
  opts: Pick<LabRun, 'bootTimeoutMs' | 'log' | 'ready' | 'qemu' | 'management' | 'serve' | 'also'> = {},
): Promise<T> {
  const { lab, vm, management } = await startLab({ image, mode, profile, ...opts });
  try {
    return await fn(lab, vm, management);
  } finally {
    await vm.stop();
    await lab.teardown();
  }
}

/** The boot mode an image's name suggests: an ISO as a CD, a disk image as a disk, both under BIOS. */
export function defaultMode(image: string): BootMode {
  return extname(image) === '.iso' ? 'bios-cd' : 'bios-disk';
}

/** What a person can type in another terminal to use the lab (and its API, when it has a management NIC). */
export function usage(lab: Lab, api?: { url: string; token: string; sshPort?: number }): string {
  const { left, right } = lab;
  const curl = api && `curl -H 'Authorization: Bearer ${api.token}'`;
  return [
    `lab ready: ${left.name} ${left.address} (namespace ${left.netns}) ⇄ appliance ⇄ ${right.name} ${right.address} (namespace ${right.netns})`,
    'in another terminal, as root:',
    `  ip netns exec ${left.netns} ping ${right.address}`,
    `  ip netns exec ${right.netns} iperf3 -s`,
    `  ip netns exec ${left.netns} iperf3 -c ${right.address}          # left → right; add -R for right → left`,
    `  ip netns exec ${left.netns} iperf3 -c ${right.address} -u -b 10M -l 1200   # UDP: loss and jitter`,
    `  ip netns exec ${left.netns} bash                                  # a shell on the left host`,
    ...(api && curl
      ? [
          `the box's HTTP API (management NIC ${MANAGEMENT_ADDRESS} on QEMU's user network, port 80 forwarded to ${api.url}),`,
          `once the console says "picowire: API on http://${MANAGEMENT_ADDRESS}/":`,
          `  ${curl} ${api.url}/api/v1/status`,
          `  ${curl} -X PUT -H 'Content-Type: application/json' --data-binary @profile.json ${api.url}/api/v1/profile`,
          `  ${curl} -H 'Content-Type: text/plain' --data-binary 'pipe 1 config bw 2Mbit/s delay 10ms' ${api.url}/api/v1/ipfw`,
          `  ${curl} -N ${api.url}/api/v1/events      # counters every second, profile changes`,
          `  ${curl} ${api.url}/metrics`,
          `the web page: open ${api.url}/ in a browser on this machine and log in with the token ${api.token}`,
        ]
      : []),
    ...(api?.sshPort
      ? [
          `SSH with your key (~/.ssh/id_*.pub, handed over by fw_cfg), once the console says "picowire: SSH on root@${MANAGEMENT_ADDRESS}":`,
          `  ssh -p ${api.sshPort} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 picowire status`,
        ]
      : []),
    'lines typed here go to the appliance’s serial console; Ctrl-C stops QEMU and removes the lab',
  ].join('\n');
}

/** Reads the command line: [image] [--mode M] [--profile FILE] [--timeout S]. */
function parseCommandLine(argv: string[]): LabRun {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { mode: { type: 'string' }, profile: { type: 'string' }, timeout: { type: 'string' } } });
  } catch (e) {
    throw new UserError(`lab: ${(e as Error).message}\nusage: lab.ts [image] [--mode ${MODES.join('|')}] [--profile file.json] [--timeout seconds]`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UserError(`lab: one image at most, got ${positionals.length}: ${positionals.join(' ')}`);
  const image = resolve(positionals[0] ?? 'images/default.iso');
  if (!existsSync(image)) throw new UserError(`lab: image ${image} does not exist; build it with \`make\` or name another`);
  const mode = (values.mode ?? defaultMode(image)) as BootMode;
  if (!MODES.includes(mode)) throw new UserError(`lab: --mode "${values.mode}" is not allowed; allowed: ${MODES.join(', ')}`);
  const profile = values.profile === undefined ? undefined : resolve(values.profile);
  if (profile !== undefined && !existsSync(profile)) throw new UserError(`lab: --profile ${profile} does not exist; give a profile file (JSON or ipfw syntax)`);
  const seconds = values.timeout === undefined ? 300 : Number(values.timeout);
  if (!(seconds > 0)) throw new UserError(`lab: --timeout "${values.timeout}" is not allowed; allowed: seconds to wait for the profile to apply, e.g. 300`);
  return { image, mode, profile: profile === undefined ? undefined : readFileSync(profile, 'utf8'), bootTimeoutMs: seconds * 1000 };
}

/** `make lab`: boot, print how to use the lab, show the console live, and tear down on Ctrl-C. */
async function main(argv: string[]): Promise<void> {
  const run = parseCommandLine(argv);
  console.log(`booting ${run.image} (${run.mode})${run.profile ? ' with the given profile' : ''}; waiting for the agent to apply its profile…`);
  // the lab's own token, handed over by fw_cfg as a user would (so it is printed here, not made by the box)
  const token = randomBytes(24).toString('base64url');
  // and the user's public keys, if any, for SSH on the box's port 22
  const keys = ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub'].map((f) => join(homedir(), '.ssh', f)).filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8')).join('');
  const fwCfg = { token, ...(keys && { authorized_keys: keys }) };
  const { lab, vm, management } = await startLab({ ...run, management: true, also: keys ? [22] : [], qemu: { fwCfg } });
  let shown = 0;
  const showConsole = (): void => {
    process.stdout.write(vm.console.slice(shown));
    shown = vm.console.length;
  };
  showConsole();
  console.log(`\n${usage(lab, management && { url: management.url, token, sshPort: management.also[22] })}\n`);
  const ticker = setInterval(showConsole, 200);
  process.stdin.on('data', (d: Buffer) => vm.send(d.toString()));
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    process.stdin.pause();
    console.log('\nstopping QEMU and removing the lab…');
    await vm.stop();
    await lab.teardown();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

/** Whether this file is the program being run (not imported by a test). */
function isMain(): boolean {
  const script = process.argv[1];
  return script !== undefined && existsSync(script) && import.meta.url === pathToFileURL(realpathSync(script)).href;
}

if (isMain()) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    if (e instanceof UserError) console.error(e.message);
    else console.error(e);
    process.exit(1);
  });
}
