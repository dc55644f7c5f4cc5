// One boot of an image, timed by the milestones the guest leaves in its kernel log (the kernel
// stamps each with its uptime): for `make bench` (run.ts) and for comparing kernel parameters
// (boot-ab.ts).
import { boot, type BootMode } from '../src/lab/qemu.ts';
import { median } from '../src/lab/stats.ts';

export interface BootTime {
  /** seconds from QEMU's start to the applied line on the console */
  wallS: number;
  /** kernel uptime when the agent was ready, from its mark in the kernel log */
  uptimeS: number;
  /** seconds the kernel spent unpacking the initramfs */
  unpackS: number;
  /** kernel uptime at each milestone on the way: /init runs, node is started, the agent's main() runs */
  initS: number;
  nodeS: number;
  mainS: number;
}

/** Boots once (with `append` on the kernel command line, in direct and pxe mode) and reads the milestones the guest left in its kernel log. */
export async function timeBoot(image: string, mode: BootMode, append?: string): Promise<BootTime> {
  const vm = await boot({ mode, image, nics: [{ user: true }, { user: true }], append });
  try {
    const { atMs } = await vm.waitFor(/picowire: applied profile \S+\r?\n/, 300_000);
    vm.send('dmesg | grep -E "Trying to unpack|Freeing initrd|Run /init|picowire: agent"\n');
    const ready = await vm.waitFor(/\[\s*([\d.]+)\] picowire: agent ready/, 60_000);
    const at = (re: RegExp) => Number(vm.console.match(re)?.[1] ?? NaN);
    const unpackS = at(/\[\s*([\d.]+)\] Freeing initrd/) - at(/\[\s*([\d.]+)\] Trying to unpack/);
    return {
      wallS: atMs / 1000,
      uptimeS: Number(ready.match[1]),
      unpackS,
      initS: at(/\[\s*([\d.]+)\] Run \/init/),
      nodeS: at(/\[\s*([\d.]+)\] picowire: agent starting/),
      mainS: at(/\[\s*([\d.]+)\] picowire: agent main started/),
    };
  } finally {
    await vm.stop();
  }
}

export const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** Where the uptime at agent ready goes, as medians over every boot: the kernel, rcS, node's own start, the agent's work. */
export function bootTimeline(runs: BootTime[]): Record<string, number> {
  const part = (f: (r: BootTime) => number) => round(median(runs.map(f).filter(Number.isFinite)));
  return {
    'kernel to /init': part((r) => r.initS),
    '/init to node started (rcS)': part((r) => r.nodeS - r.initS),
    "node started to the agent's main()": part((r) => r.mainS - r.nodeS),
    'main() to profile applied': part((r) => r.uptimeS - r.mainS),
  };
}
