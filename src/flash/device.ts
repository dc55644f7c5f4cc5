// Which block devices `picowire flash` may write: a whole removable disk (a USB stick, an SD card)
// or a file-backed loop device, that nothing has mounted or holds, that is not the running
// system's, and that is large enough. Facts come from lsblk and /sys; the judgement is pure.
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { UserError } from '../common/errors.ts';
import { mb } from '../builder/fetch/progress.ts';

/** What lsblk says of a device and what lies on it. */
export interface BlockDevice {
  name: string;
  path: string;
  type: string;
  rm: boolean;
  hotplug: boolean;
  size: number;
  model: string | null;
  vendor: string | null;
  tran: string | null;
  ro: boolean;
  mountpoints: (string | null)[];
  pkname: string | null;
  children?: BlockDevice[];
}

/** What else is known of the device: who holds it, and which disks the running system lives on. */
export interface Context {
  /** devices (kernel names) stacked on it: md, dm (LVM, LUKS) */
  holders: string[];
  /** kernel names of the disks under /, /boot, /usr and swap */
  systemDisks: string[];
}

/** The device as lsblk reports it, children included; a UserError when it is not a block device. */
export async function inspect(path: string): Promise<BlockDevice> {
  if (!existsSync(path)) throw new UserError(`${path} does not exist; list the disks with \`lsblk -d -o NAME,SIZE,MODEL,TRAN,RM\``);
  const st = statSync(path);
  if (st.isFile()) throw new UserError(`${path} is a regular file, not a disk; to copy the image to a file, use cp`);
  if (!st.isBlockDevice()) throw new UserError(`${path} is not a block device`);
  const { stdout } = await execa('lsblk', ['--json', '--bytes', '-o', 'NAME,PATH,TYPE,RM,HOTPLUG,SIZE,MODEL,VENDOR,TRAN,RO,MOUNTPOINTS,PKNAME', path]);
  const device = (JSON.parse(stdout) as { blockdevices: BlockDevice[] }).blockdevices[0];
  if (!device) throw new UserError(`lsblk knows nothing of ${path}`);
  return device;
}

/** Holders and the system's disks, read from /sys, /proc/mounts and /proc/swaps. */
export async function context(device: BlockDevice): Promise<Context> {
  const holders = (dev: BlockDevice): string[] => {
    const dir = `/sys/class/block/${dev.name}/holders`;
    return [...(existsSync(dir) ? readdirSync(dir) : []), ...(dev.children ?? []).flatMap(holders)];
  };
  const sources = new Set<string>();
  const { stdout: mounts } = await execa('findmnt', ['--list', '--noheadings', '--output', 'TARGET,SOURCE', '--real']);
  for (const line of mounts.split('\n')) {
    const [target, source] = line.trim().split(/\s+/);
    if (source?.startsWith('/dev/') && ['/', '/boot', '/boot/efi', '/usr', '/var'].includes(target!)) sources.add(source);
  }
  const swaps = await readFile('/proc/swaps', 'utf8').catch(() => '');
  for (const line of swaps.split('\n').slice(1)) if (line.startsWith('/dev/')) sources.add(line.split(/\s+/)[0]!);
  const systemDisks = new Set<string>();
  for (const source of sources) {
    const { stdout } = await execa('lsblk', ['--noheadings', '--inverse', '--list', '--output', 'NAME,TYPE', realpathSync(source)], { reject: false });
    for (const line of stdout.split('\n')) {
      const [name, type] = line.trim().split(/\s+/);
      if (name && (type === 'disk' || type === 'loop')) systemDisks.add(name);
    }
  }
  return { holders: holders(device), systemDisks: [...systemDisks] };
}

/** A human name for the device: model, size, bus. */
export function describe(d: BlockDevice): string {
  const model = [d.vendor?.trim(), d.model?.trim()].filter(Boolean).join(' ') || (d.type === 'loop' ? 'loop device' : 'unknown model');
  const size = d.size >= 1e9 ? `${(d.size / 1e9).toFixed(1)} GB` : mb(d.size);
  return `${d.path}: ${model}, ${size}${d.tran ? `, ${d.tran}` : ''}${d.rm ? ', removable' : ''}`;
}

/** Every reason the image must not be written to the device; empty when it may be. */
export function refusals(d: BlockDevice, ctx: Context, imageBytes: number): string[] {
  const why: string[] = [];
  if (d.type === 'part') why.push(`${d.path} is a partition of /dev/${d.pkname}; give the whole disk (/dev/${d.pkname})`);
  else if (d.type !== 'disk' && d.type !== 'loop') why.push(`${d.path} is a ${d.type} device, not a disk`);
  if (ctx.systemDisks.includes(d.name)) why.push(`${d.path} holds the running system`);
  const mounted = [d, ...(d.children ?? [])].flatMap((x) => x.mountpoints.filter((m): m is string => !!m).map((m) => `${x.path} at ${m}`));
  if (mounted.length) why.push(`${d.path} is mounted (${mounted.join(', ')}); unmount it first`);
  if (ctx.holders.length) why.push(`${d.path} is in use by ${ctx.holders.map((h) => `/dev/${h}`).join(', ')} (RAID, LVM or encryption)`);
  if (d.ro) why.push(`${d.path} is read-only (a locked SD card?)`);
  // a loop device is a file: removable by nature; a disk must say it is (USB sticks, SD cards; USB disks are hotplug)
  if (d.type === 'disk' && !d.rm && !d.hotplug && d.tran !== 'usb') why.push(`${d.path} is a fixed disk, not a removable one (USB stick, SD card)`);
  if (d.size < imageBytes) why.push(`${d.path} holds ${mb(d.size)}, less than the image's ${mb(imageBytes)}`);
  return why;
}
