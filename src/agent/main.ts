// The on-boot agent (bundled to /opt/picowire/agent.mjs; busybox init respawns it if it exits).
// Until a good profile is in force the bridge does not forward. Then it stays up: SIGHUP makes it
// read the sources again, `picowire apply|status|ipfw` talk to it on its control socket, a
// PICOWIRE partition that appears (a stick plugged back in) or changes is read again, and the HTTP
// API (api/) serves on the management NIC. All of them change the profile through one queue (changes.ts).
// The same bundle is the `picowire` command: with arguments it runs ctl.ts instead.
import { existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyNft, readKernelState } from './apply.ts';
import { serveControl } from './control.ts';
import { runCli } from './ctl.ts';
import { startApi } from './api/index.ts';
import { Changes } from './changes.ts';
import { keepKipfwRunning } from './engines/dummynet/respawn.ts';
import { checkFound, refresh, readCurrent, type Context } from './cycle.ts';
import { launch, run, trace } from './exec.ts';
import { guardBridge } from './guard.ts';
import { BIN, CONTROL_SOCKET, FILES } from './paths.ts';
import { nftSession, tcSession } from './session.ts';
import { plan } from './plan.ts';
import { createBridge, setupPorts, waitForwarding } from './ports.ts';
import { fleetFromSettings } from './fleet.ts';
import { findProfile } from './sources.ts';
import { startSsh } from './ssh.ts';
import { readStatus } from './status.ts';
import { agentSchedule, ScheduleRunner } from './schedule/runner.ts';
import { tcEngine } from './schedule/tc.ts';
import { dummynetEngine } from './schedule/dummynet.ts';
import { TcStream } from './schedule/tc-stream.ts';
import { watchConfigPartition } from './watch.ts';

const say = (line: string) => process.stdout.write(`picowire: ${line}\n`);
// how long the boot waits for the ports' links before it goes on without them
const PORT_LINK_WAIT_MS = 5000;

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
  // tc and nft stay running between changes (session.ts): a runtime change then pays no tool start
  const sessions = { tc: tcSession([BIN.tc]), nft: nftSession([BIN.nft]) };
  const ctx: Context = { root: process.env.PICOWIRE_ROOT ?? '/', run, batch: (tool, file) => sessions[tool].run(file), say };
  // timed pipes (schedules, traces) are changed by the runner through a tc of its own, fed line by line
  const scheduleTc = new TcStream([BIN.tc]);
  // (the dummynet engine's: an ipfw run per pipe and change, schedule/dummynet.ts)
  const engineFor = (profile: Parameters<typeof tcEngine>[0]) => (profile.engine === 'dummynet' ? dummynetEngine(profile, ctx) : tcEngine(profile, async (text) => scheduleTc.send(text)));
  ctx.schedule = agentSchedule.runner = new ScheduleRunner(ctx, engineFor, (line) => say(`warning: ${line}`));
  trace?.(`${Math.round(performance.now())} ms: main started`);
  void markKernelLog(ctx.root, 'agent main started');
  await modulesLoaded(ctx.root);
  trace?.(`${Math.round(performance.now())} ms: modules loaded`);
  // every boot puts an nft plan in force: nft starts now (it needs nf_tables), while the ports are set up
  sessions.nft.warm();
  // the critical path under QEMU TCG is tool starts (~0.1-0.25 s each): run what does not depend on
  // each other side by side. The sources and the qdisc state need nothing from the ports (before the
  // NICs are renamed, a and b have no qdiscs, which plans the same as the fresh ones they get).
  const warn = (line: string) => say(`warning: ${line}`);
  const found = findProfile({ ...ctx, warn });
  // checked while the tools join the ports, when the node thread has nothing else to do (checking
  // took ~0.25 s under TCG: done at once, it held up choosing the ports and starting those tools)
  let joining!: () => void;
  const portsJoining = new Promise<void>((r) => (joining = r));
  const checked = Promise.all([found, portsJoining]).then(([f]) => checkFound(f));
  let inForce = await readCurrent(ctx.root);
  // no profile in force since boot: nothing of ours is in the kernel yet, so no need to ask tc
  const state = inForce ? readKernelState(ctx) : Promise.resolve({ qdiscs: [] });
  // the bridge, made if need be; nothing crosses it until a profile is in force: the ports join after
  // this. At boot rcS made both beside node's start (FILES.bridgeClosed); a respawned agent has a profile in force
  const close = async () => {
    const closedAtBoot = existsSync(join(ctx.root, FILES.bridgeClosed));
    const error = (await createBridge(ctx)) ?? (inForce || closedAtBoot ? undefined : await applyNft(plan(null, { qdiscs: [] }).nft, ctx));
    if (error) warn(`cannot close the bridge: ${error}`);
  };
  const closed = close();
  const ports = await setupPorts({ ...ctx, launch, closed, joining });
  // the applied line means traffic crosses: not before both ports forward (a port without a link,
  // say no cable, is waited for this long, then named; it forwards by itself once it has one)
  for (const { port, state } of await waitForwarding(ctx.root, PORT_LINK_WAIT_MS)) {
    warn(`port ${port} does not forward after ${PORT_LINK_WAIT_MS / 1000} s (${state}: no link? check its cable); traffic crosses once it has a link`);
  }
  inForce = await refresh(ctx, inForce, { found: await found, checked: await checked, state: await state.catch(() => undefined) });
  say(`ready ${Math.round(performance.now())} ms after node started`);
  await markKernelLog(ctx.root, 'agent ready');

  // one change of the kernel state at a time, whoever asks for it: console, SIGHUP, partition, API
  const changes = new Changes(ctx, inForce);
  process.on('SIGHUP', () => changes.refresh());
  // the dummynet engine's kipfw started again should it end
  keepKipfwRunning(ctx.root, changes, say);

  await serveControl(join(ctx.root, CONTROL_SOCKET), async (req) => {
    if (req.op === 'status') return { ok: true, op: 'status', status: await readStatus(ctx, changes.inForce) };
    if (req.op === 'current') return { ok: true, op: 'current', profile: changes.inForce };
    const { applied, inForce: now, errors, ms } = await changes.consider({ source: req.source, value: req.profile });
    return applied ? { ok: true, op: 'apply', name: now!.name, ms } : { ok: false, op: 'apply', errors, ms };
  });

  const watch = watchConfigPartition({ ...ctx, warn }, (found) => changes.consider(found));
  void watch.look(); // the first look only notes the partitions there are

  // the management plane: nothing from the bridge ports reaches the box, then the HTTP API on the management NICs
  const guarded = await guardBridge({ ...ctx, batch: ctx.batch! });
  if (guarded) warn(`the bridge ports may reach the box: ${guarded}`);
  // a failure here must not take the agent (and the bridge's profile) down with it
  startApi({ ...ctx, warn }, changes, ports.management.map((nic) => nic.name)).catch((e: Error) => say(`no HTTP API: ${e.message}`));
  // SSH (dropbear) on the management NICs when authorized_keys are given
  startSsh({ ...ctx, warn, say }, ports.management.map((nic) => nic.name)).catch((e: Error) => say(`no SSH server: ${e.message}`));
  // fleet profiles: fetched from profile_url once the box is up, then polled, through the same queue
  fleetFromSettings({ ...ctx, warn }, (found) => changes.consider(found), say).catch((e: Error) => warn(`profile_url: ${e.message}`));
  setInterval(() => undefined, 1 << 30); // stay alive: init respawns an agent that exits
}

if (process.argv.length > 2) runCli(process.argv.slice(2));
else
  main().catch((e: unknown) => {
    say(`failed: ${(e as Error).message}`);
    process.exit(1);
  });
