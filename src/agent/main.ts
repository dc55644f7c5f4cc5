// The on-boot agent (bundled to /opt/picowire/agent.mjs; busybox init respawns it if it exits).
// Until a good profile is in force the bridge does not forward. Then it stays up: SIGHUP makes it
// read the sources again.
import { appendFile } from 'node:fs/promises';
import { applyNft, readKernelState } from './apply.ts';
import { refresh, readCurrent, type Context } from './cycle.ts';
import { launch, run } from './exec.ts';
import { plan } from './plan.ts';
import { setupPorts } from './ports.ts';
import { findProfile } from './sources.ts';

const say = (line: string) => process.stdout.write(`picowire: ${line}\n`);

/** A milestone in the kernel log, stamped with the kernel's uptime (the boot benchmark reads it); best effort. */
async function markKernelLog(root: string, what: string): Promise<void> {
  if (root !== '/') return;
  await appendFile('/dev/kmsg', `picowire: ${what}\n`).catch(() => undefined);
}

/** Starts the appliance: closed bridge, ports, profile; then waits for SIGHUP. */
async function main(): Promise<void> {
  // PICOWIRE_ROOT: a directory standing in for /, for measuring and testing the agent off the image
  const ctx: Context = { root: process.env.PICOWIRE_ROOT ?? '/', run, say };
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
