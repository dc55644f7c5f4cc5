import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { checkFound, readCurrent, refresh } from '../../src/agent/cycle.ts';
import type { Runner } from '../../src/agent/exec.ts';
import { FILES } from '../../src/agent/paths.ts';
import { plan, type TcQdisc } from '../../src/agent/plan.ts';
import type { Profile } from '../../src/profile/schema.ts';

const roots: string[] = [];
test.after.always(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

const good: Profile = { name: 'wan', pipes: { up: { bw: '1Mbit/s', delay: '10ms' } }, rules: [{ from: 'a', pipe: 'up' }] };

/** A root whose baked profile is `profile`, and a fake kernel that holds `qdiscs` and counts batches. */
async function setup(profile: unknown, qdiscs: TcQdisc[] = []) {
  const root = await mkdtemp(join(tmpdir(), 'picowire-cycle-'));
  roots.push(root);
  await mkdir(join(root, 'etc/picowire'), { recursive: true });
  await writeFile(join(root, FILES.baked), JSON.stringify(profile));
  const calls: string[] = [];
  const run: Runner = async (cmd, args) => {
    calls.push(`${cmd} ${args[0]}`);
    if (cmd === '/sbin/tc' && args[0] === '-j') return { code: 0, stdout: JSON.stringify(qdiscs), stderr: '' };
    if (cmd === '/bin/busybox') return { code: 1, stdout: '', stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  };
  const said: string[] = [];
  return { ctx: { root, run, say: (l: string) => said.push(l) }, calls, said, root };
}

/** The qdiscs a kernel holds once `p` is applied. */
function applied(p: Profile): TcQdisc[] {
  return plan(p, { qdiscs: [] }).tc.flatMap((line): TcQdisc[] => {
    const root = /^qdisc replace dev (\S+) root handle (\S+) (\S+)/.exec(line);
    if (root) return [{ dev: root[1]!, handle: root[2]!, kind: root[3]!, root: true }];
    const m = /^qdisc replace dev (\S+) parent (\S+) handle (\S+) (\S+)/.exec(line);
    return m ? [{ dev: m[1]!, parent: m[2]!, handle: m[3]!, kind: m[4]! }] : [];
  });
}

test('a good profile is applied, announced with the line the console reads, and recorded as in force', async (t) => {
  const { ctx, calls, said, root } = await setup(good);
  const inForce = await refresh(ctx, null);
  t.deepEqual(inForce, good);
  t.deepEqual(said, ['profile from /etc/picowire/profile.json', 'applied profile wan']);
  t.true(calls.includes('/sbin/tc -batch') && calls.includes('/usr/sbin/nft -f'));
  t.deepEqual(await readCurrent(root), good);
});

test('a bad profile is rejected with every error on one line, and the previous one stays in force', async (t) => {
  const { ctx, calls, said, root } = await setup({ name: 'bad', pipes: { up: { bw: '1 furlong/s', plr: 3 } }, rules: [{ from: 'a', pipe: 'nope' }] });
  const inForce = await refresh(ctx, good);
  t.is(inForce, good);
  t.is(
    said[1],
    'rejected profile: profile.pipes.up.plr: 3 must be <= 1; allowed: packet loss rate: a probability from 0 to 1, such as 0.01; profile.pipes.up.bw: "1 furlong/s": unknown bandwidth unit "furlong/s"; allowed: bit/s, Kbit/s, Mbit/s, Gbit/s, Byte/s, KByte/s, MByte/s, GByte/s; also bps, Kbps, Mbps, Gbps; B is a byte, b a bit; profile.rules[0].pipe: "nope" is not a pipe of this profile; pipes: up',
  );
  t.false(calls.includes('/sbin/tc -batch'));
  t.is(await readCurrent(root), null);
});

test('a verdict reached ahead (at boot, while the ports are set up) is the one refresh acts on, for the profile it was reached for', async (t) => {
  const { ctx, said } = await setup(good);
  const found = { source: '/etc/picowire/profile.json', value: { ...good, pipes: { up: { plr: 3 } } } };
  const checked = checkFound(found);
  t.false(checked.ok);
  t.is(await refresh(ctx, null, { found, checked }), null);
  t.deepEqual(said, ['profile from /etc/picowire/profile.json', 'rejected profile: profile.pipes.up.plr: 3 must be <= 1; allowed: packet loss rate: a probability from 0 to 1, such as 0.01']);
  // without the profile it was reached for, a verdict is ignored: the sources are read and checked again
  t.deepEqual(await refresh(ctx, null, { checked }), good);
});

test('a source that could not be read is rejected with its reason', (t) => {
  t.deepEqual(checkFound({ source: 'fw_cfg', error: 'fw_cfg: not JSON' }), { ok: false, errors: ['fw_cfg: not JSON'] });
});

test('a respawned agent whose profile is already in the kernel touches nothing', async (t) => {
  const { ctx, calls, said } = await setup(good, applied(good));
  t.deepEqual(await refresh(ctx, good), good);
  t.deepEqual(said, ['profile from /etc/picowire/profile.json', 'applied profile wan']);
  t.false(calls.includes('/sbin/tc -batch'));
  t.false(calls.includes('/usr/sbin/nft -f'));
});

test('a respawned agent whose profile is in force on paper but not in the kernel applies it again', async (t) => {
  const { ctx, calls } = await setup(good, []);
  await refresh(ctx, good);
  t.true(calls.includes('/sbin/tc -batch'));
});

test('a changed profile is applied even when the kernel holds the previous one', async (t) => {
  const changed: Profile = { ...good, name: 'wan2', pipes: { up: { bw: '2Mbit/s', delay: '10ms' } } };
  const { ctx, calls, said } = await setup(changed, applied(good));
  t.deepEqual(await refresh(ctx, good), changed);
  t.true(calls.includes('/sbin/tc -batch'));
  t.is(said.at(-1), 'applied profile wan2');
});

test('a runtime change of parameters plans over what the agent applied: one tc batch, no tc query, no nft when the rules are the same', async (t) => {
  const { ctx, calls } = await setup(good, []);
  await refresh(ctx, null);
  calls.length = 0;
  const faster: Profile = { ...good, pipes: { up: { bw: '2Mbit/s', delay: '20ms' } } };
  await writeFile(join(ctx.root, FILES.baked), JSON.stringify(faster));
  t.deepEqual(await refresh(ctx, good), faster);
  t.deepEqual(calls, ['/bin/busybox findfs', '/sbin/tc -batch']);
});

test('changes back and forth plan over the agent\'s own model of the kernel: the root is never replaced again', async (t) => {
  const { ctx, calls } = await setup(good, []);
  const batches: string[] = [];
  const run = ctx.run;
  ctx.run = async (cmd, args, opts) => {
    if (args[0] === '-batch') batches.push(await readFile(args[1]!, 'utf8'));
    return run(cmd, args, opts);
  };
  let inForce = await refresh(ctx, null);
  batches.length = 0;
  const other: Profile = { ...good, pipes: { up: { bw: '2Mbit/s', delay: '20ms' } } };
  for (const p of [other, good, other, good]) {
    await writeFile(join(ctx.root, FILES.baked), JSON.stringify(p));
    inForce = await refresh(ctx, inForce);
  }
  t.is(batches.length, 4);
  t.false(batches.some((b) => /root handle 1:|qdisc del/.test(b)), 'only replaces of what is there');
  t.deepEqual(
    batches.map((b) => b.trim().split('\n')),
    [other, good, other, good].map((p) => {
      const bw = p === other ? 2000000 : 1000000;
      const [us, limit] = p === other ? [20000, 16513] : [10000, 8257];
      return [`qdisc replace dev b parent 1:10 handle 10: netem rate ${bw}bit limit 43`, `qdisc replace dev b parent 10:1 handle 4000: netem delay ${us}us limit ${limit}`];
    }),
    'only the lines that differ from those in force: the bottleneck\'s rate and the delay line (no class, no default class)',
  );
  t.is(calls.filter((c) => c === '/sbin/tc -j').length, 1, 'tc was asked once, at the start');
});

test('when the kernel was changed by hand behind the agent\'s model, a failed apply is planned again over what tc reports, and succeeds', async (t) => {
  const { ctx, calls } = await setup(good, []);
  // after the first apply someone deletes the root by hand: a batch that does not make it again fails
  let rootGone = false;
  let refused = 0;
  const run = ctx.run;
  ctx.run = async (cmd, args, opts) => {
    if (rootGone && args[0] === '-batch' && !(await readFile(args[1]!, 'utf8')).includes('root handle 1:')) {
      refused++;
      return { code: 2, stdout: '', stderr: 'RTNETLINK answers: No such file or directory\nCommand failed x:1\n' };
    }
    return run(cmd, args, opts);
  };
  let inForce = await refresh(ctx, null);
  rootGone = true;
  const other: Profile = { ...good, pipes: { up: { bw: '2Mbit/s', delay: '20ms' } } };
  await writeFile(join(ctx.root, FILES.baked), JSON.stringify(other));
  calls.length = 0;
  inForce = await refresh(ctx, inForce);
  t.deepEqual(inForce, other);
  t.is(refused, 1, 'the batch planned over the stale model was refused once');
  t.deepEqual(calls.filter((c) => c.startsWith('/sbin/tc')), ['/sbin/tc -j', '/sbin/tc -batch'], 'then tc was asked, and the new plan went through');
});
