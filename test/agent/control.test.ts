// The control socket and the `picowire` command on the appliance, against a stand-in agent.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { serveControl, type Request, type Response } from '../../src/agent/control.ts';
import { ask, main } from '../../src/agent/ctl.ts';
import { CONTROL_SOCKET } from '../../src/agent/paths.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { validateProfile } from '../../src/profile/validate.ts';

const root = await mkdtemp(join(tmpdir(), 'picowire-control-'));
process.env.PICOWIRE_ROOT = root;
let inForce: Profile | null = { name: 'wan', pipes: { up: { bw: '1Mbit/s', delay: '10ms' } }, rules: [{ from: 'a', pipe: 'up' }] };
const seen: string[] = [];
// a stand-in agent: validates as the agent does, and takes its time so requests overlap
const server = await serveControl(join(root, CONTROL_SOCKET), async (req: Request): Promise<Response> => {
  seen.push(`start ${req.op}`);
  await new Promise((r) => setTimeout(r, 30));
  seen.push(`end ${req.op}`);
  if (req.op === 'current') return { ok: true, op: 'current', profile: inForce };
  if (req.op === 'status') return { ok: true, op: 'status', status: { profile: inForce?.name ?? null, pipes: [], rules: [] } };
  const checked = validateProfile(req.profile);
  if (!checked.ok) return { ok: false, op: 'apply', errors: checked.errors, ms: 1 };
  inForce = checked.value;
  return { ok: true, op: 'apply', name: inForce.name, ms: 12.3 };
});
test.after.always(async () => {
  server.close();
  await rm(root, { recursive: true, force: true });
});

/** Runs `picowire ARGS` in this process, capturing what it prints. */
async function picowire(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    return { code: await main(args), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test.serial('requests are answered one at a time, in the order they came', async (t) => {
  seen.length = 0;
  await Promise.all([ask({ op: 'status' }), ask({ op: 'current' })]);
  t.deepEqual(seen, ['start status', 'end status', 'start current', 'end current']);
});

test.serial('picowire apply puts each file in force in order and says how long it took; a bad one is rejected with every error', async (t) => {
  const good = join(root, 'good.json');
  const bad = join(root, 'bad.json');
  await writeFile(good, JSON.stringify({ name: 'lan', pipes: { up: { delay: '1ms' } }, rules: [{ pipe: 'up' }] }));
  await writeFile(bad, JSON.stringify({ name: 'bad', pipes: { up: { bw: 'fast' } } }));
  const r = await picowire('apply', good, bad);
  t.is(r.code, 1, 'one profile was rejected');
  t.is(r.out, 'applied profile lan (12 ms)');
  t.regex(r.err, /^rejected picowire apply .*bad\.json:\n {2}profile\.pipes\.up\.bw: "fast" is not a bandwidth/);
  t.is(inForce?.name, 'lan', 'the good one stays in force');
});

test.serial('picowire ipfw amends the profile in force with one command, as ipfw does on FreeBSD', async (t) => {
  inForce = { name: 'wan', pipes: { up: { bw: '1Mbit/s', delay: '10ms' } }, rules: [{ from: 'a', pipe: 'up' }] };
  const r = await picowire('ipfw', 'pipe', '1', 'config', 'bw', '2Mbit/s', 'delay', '30ms');
  t.is(r.code, 0, r.err);
  t.is(inForce.name, 'wan');
  t.deepEqual(inForce.pipes['up'], { bw: '2Mbit/s', delay: '30ms' }, 'pipe 1 is "up": its settings are replaced');
  const show = await picowire('ipfw', 'list');
  t.regex(show.out, /^ipfw pipe 1 config bw 2Mbit\/s delay 30ms$/m);
  // FreeBSD's listings, from the status (no counters here: the stand-in agent reports none)
  t.is((await picowire('ipfw', 'show')).out, '00100 0 0 pipe 1 ip from any to any out\n65535 0 0 allow ip from any to any');
  t.is((await picowire('dnctl', 'pipe', 'show')).out.split('\n')[0], '00001:   2.000 Mbit/s   30 ms burst 0');
});

test.serial('picowire ipfw refuses to amend a profile with settings ipfw cannot express, rather than lose them', async (t) => {
  inForce = { name: 'jittery', pipes: { up: { delay: '10ms', jitter: '2ms' } }, rules: [{ pipe: 'up' }] };
  const e = await t.throwsAsync(picowire('ipfw', 'pipe', '1', 'config', 'delay', '5ms'));
  t.is(e!.message, 'ipfw: the profile in force has settings ipfw cannot express (pipe 1 jitter not expressible in ipfw); change it with picowire apply');
  t.is(inForce.name, 'jittery');
});

test.serial('without an agent, picowire says where it looked', async (t) => {
  const e = await t.throwsAsync(ask({ op: 'status' }, join(root, 'nowhere')));
  t.regex(e!.message, /cannot reach the agent at .*control\.sock: .*is picowire-agent running/);
});
