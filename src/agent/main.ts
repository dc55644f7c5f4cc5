// The on-boot agent (bundled to /opt/picowire/agent.mjs; busybox init respawns it if it exits).
// Until a good profile is in force the bridge does not forward. Then it stays up: SIGHUP makes it
// read the sources again.
import { existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyNft, readKernelState } from './apply.ts';
import { refresh, readCurrent, type Context } from './cycle.ts';
import { launch, run } from './exec.ts';
import { FILES } from './paths.ts';
import { plan } from './plan.ts';
import { setupPorts } from './ports.ts';
import { findProfile } from './sources.ts';

const say = (line: string) => process.stdout.write(`picowire: ${line}\n`);

/** A milestone in the kernel log, stamped with the kernel's uptime (the boot benchmark reads it); best effort. */
async function markKernelLog(root: string, what: string): Promise<void> {
  if (root !== '/') return;
  await appendFile('/dev/kmsg', `picowire: ${what}\n`).catch(() => undefined);
}

/** Waits until rcS has loaded the boot modules (it loads them while node starts, to overlap the two). */
async function modulesLoaded(root: string): Promise<void> {
  if (!existsSync(join(root, FILES.bootModules))) return; // not on the image: nothing loads behind our back
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(root, FILES.modulesReady))) {
    if (Date.now() > deadline) {
      say('warning: rcS did not finish loading modules within 60 s; going on');
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts the appliance: closed bridge, ports, profile; then waits for SIGHUP. */
async function main(): Promise<void> {
  // PICOWIRE_ROOT: a directory standing in for /, for measuring and testing the agent off the image
  const ctx: Context = { root: process.env.PICOWIRE_ROOT ?? '/', run, say };
  await modulesLoaded(ctx.root);
  // the critical path under QEMU TCG is tool starts (~0.1-0.25 s each): run what does not depend on
  // each other side by side. The sources and the qdisc state need nothing from the ports (before the
  // NICs are renamed, a and b have no qdiscs, which plans the same as the fresh ones they get).
  const found = findProfile({ ...ctx, warn: (line) => say(`warning: ${line}`) });
  const state = readKernelState(ctx);
  let inForce = await readCurrent(ctx.root);
  // nothing crosses the wire until a profile is in force: the ports come up after this
  const closed = inForce ? Promise.resolve() : applyNft(plan(null, { qdiscs: [] }).nft, ctx).then((error) => error && say(`warning: cannot close the bridge: ${error}`));
  await setupPorts({ ...ctx, launch, closed });
  inForce = await refresh(ctx, inForce, { found: await found, state: await state.catch(() => undefined) });
  say(`ready ${Math.round(performance.now())} ms after node started`);
  await markKernelLog(ctx.root, 'agent ready');

  // one refresh at a time; a SIGHUP during one asks for another after it
  let busy: Promise<void> | undefined;
  let again = false;
  process.on('SIGHUP', () => {
    if (busy) {
      again = true;
      return;
    }
    busy = (async () => {
      do {
        again = false;
        inForce = await refresh(ctx, inForce);
      } while (again);
      busy = undefined;
    })();
  });
  setInterval(() => undefined, 1 << 30); // stay alive: init respawns an agent that exits
}

main().catch((e: unknown) => {
  say(`failed: ${(e as Error).message}`);
  process.exit(1);
});
