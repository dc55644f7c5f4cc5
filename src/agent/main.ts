// The on-boot agent (bundled to /opt/picowire/agent.mjs; busybox init respawns it if it exits).
// Until a good profile is in force the bridge does not forward. Then it stays up: SIGHUP makes it
// read the sources again.
import { applyNft } from './apply.ts';
import { refresh, readCurrent, type Context } from './cycle.ts';
import { launch, run } from './exec.ts';
import { plan } from './plan.ts';
import { setupPorts } from './ports.ts';
import { findProfile } from './sources.ts';

const say = (line: string) => process.stdout.write(`picowire: ${line}\n`);

/** Starts the appliance: closed bridge, ports, profile; then waits for SIGHUP. */
async function main(): Promise<void> {
  // PICOWIRE_ROOT: a directory standing in for /, for measuring and testing the agent off the image
  const ctx: Context = { root: process.env.PICOWIRE_ROOT ?? '/', run, say };
  let inForce = await readCurrent(ctx.root);
  if (!inForce) {
    // before the ports come up: nothing crosses the wire until a profile is in force
    const error = await applyNft(plan(null, { qdiscs: [] }).nft, ctx);
    if (error) say(`warning: cannot close the bridge: ${error}`);
  }
  const [, found] = await Promise.all([
    setupPorts({ ...ctx, launch }),
    findProfile({ ...ctx, warn: (line) => say(`warning: ${line}`) }),
  ]);
  inForce = await refresh(ctx, inForce, found);
  say(`ready ${Math.round(performance.now())} ms after node started`);

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
