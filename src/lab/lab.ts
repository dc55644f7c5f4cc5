// The QEMU lab: an appliance image booted between two test hosts. `make lab` runs this file to give
// a person a live lab to poke at; VM tests call withLab to get one for the length of a test.
//   npx tsx src/lab/lab.ts [image] [--mode uefi-cd] [--profile file.json] [--timeout 300]
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { UserError } from '../common/errors.ts';
import { attachTaps, createLab, labSupport, type Lab } from './hosts.ts';
import { boot, type BootMode, type BootOptions, type Vm } from './qemu.ts';

const MODES: BootMode[] = ['bios-cd', 'bios-disk', 'bios-usb', 'uefi-cd', 'uefi-disk', 'uefi-usb', 'pxe', 'direct'];
// what the agent prints once the profile is in force: from then on the wire is the one asked for
export const APPLIED = /picowire: applied profile \S+\r?\n/;
// bridge ports a and b, in PCI order: fixed MACs so a person can tell them apart in the guest
const PORT_MACS = ['52:54:00:70:77:0a', '52:54:00:70:77:0b'] as const;

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
  /** more for QEMU: a USB controller, a monitor socket */
  qemu?: Pick<BootOptions, 'usb' | 'monitor'>;
}

/** Boots the image with one NIC on each tap, moves the taps to the hosts and waits until the agent applied its profile. */
export async function startLab(run: LabRun): Promise<{ lab: Lab; vm: Vm }> {
  const support = labSupport();
  if (!support.ok) throw new UserError(`the QEMU lab cannot run here: ${support.reason}`);
  const lab = await createLab({ wire: 'tap' });
  let vm: Vm | undefined;
  try {
    vm = await boot({
      mode: run.mode,
      image: run.image,
      nics: lab.taps.map((tap, i) => ({ tap, mac: PORT_MACS[i] })),
      fwCfgProfile: run.profile,
      log: run.log,
      ...run.qemu,
    });
    await attachTaps(lab);
    await vm.waitFor(run.ready ?? APPLIED, run.bootTimeoutMs ?? 300_000);
    return { lab, vm };
  } catch (e) {
    await vm?.stop();
    await lab.teardown();
    throw e;
  }
}

/** For VM tests: a lab with the image booted and its profile applied, for the length of fn; always torn down. */
export async function withLab<T>(image: string, mode: BootMode, profile: string | undefined, fn: (lab: Lab, vm: Vm) => Promise<T>, opts: Pick<LabRun, 'bootTimeoutMs' | 'log' | 'ready' | 'qemu'> = {}): Promise<T> {
  const { lab, vm } = await startLab({ image, mode, profile, ...opts });
  try {
    return await fn(lab, vm);
  } finally {
    await vm.stop();
    await lab.teardown();
  }
}

/** The boot mode an image's name suggests: an ISO as a CD, a disk image as a disk, both under BIOS. */
export function defaultMode(image: string): BootMode {
  return extname(image) === '.iso' ? 'bios-cd' : 'bios-disk';
}

/** What a person can type in another terminal to use the lab. */
export function usage(lab: Lab): string {
  const { left, right } = lab;
  return [
    `lab ready: ${left.name} ${left.address} (namespace ${left.netns}) ⇄ appliance ⇄ ${right.name} ${right.address} (namespace ${right.netns})`,
    'in another terminal, as root:',
    `  ip netns exec ${left.netns} ping ${right.address}`,
    `  ip netns exec ${right.netns} iperf3 -s`,
    `  ip netns exec ${left.netns} iperf3 -c ${right.address}          # left → right; add -R for right → left`,
    `  ip netns exec ${left.netns} iperf3 -c ${right.address} -u -b 10M -l 1200   # UDP: loss and jitter`,
    `  ip netns exec ${left.netns} bash                                  # a shell on the left host`,
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
  const { lab, vm } = await startLab(run);
  let shown = 0;
  const showConsole = (): void => {
    process.stdout.write(vm.console.slice(shown));
    shown = vm.console.length;
  };
  showConsole();
  console.log(`\n${usage(lab)}\n`);
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
