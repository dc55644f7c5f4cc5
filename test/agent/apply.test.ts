import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { applyPlan, applyProfile, readKernelState, withoutLinesInForce } from '../../src/agent/apply.ts';
import type { Runner } from '../../src/agent/exec.ts';
import type { Profile } from '../../src/profile/schema.ts';

const roots: string[] = [];
test.after.always(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));
const tempRoot = async () => {
  const root = await mkdtemp(join(tmpdir(), 'picowire-apply-'));
  roots.push(root);
  return root;
};

/** A fake tc/nft that fails any batch line containing `failOn`, and records what it was given. */
function kernel(failOn?: RegExp) {
  const batches: string[][] = [];
  const nftScripts: string[] = [];
  const run: Runner = async (cmd, args) => {
    if (cmd === '/sbin/tc' && args[0] === '-j') return { code: 0, stdout: JSON.stringify([{ dev: 'a', kind: 'noqueue', handle: '0:', root: true }, { dev: 'eth9', kind: 'mq', handle: '0:', root: true }]), stderr: '' };
    if (cmd === '/sbin/tc' && args[0] === '-batch') {
      const lines = (await readFile(args[1]!, 'utf8')).trimEnd().split('\n');
      batches.push(lines);
      const bad = failOn ? lines.findIndex((l) => failOn.test(l)) : -1;
      if (bad >= 0) return { code: 1, stdout: '', stderr: `Error: Specified qdisc kind is unknown.\nCommand failed ${args[1]}:${bad + 1}\n` };
      return { code: 0, stdout: '', stderr: 'Warning: harmless\n' };
    }
    if (cmd === '/usr/sbin/nft') {
      nftScripts.push(await readFile(args[1]!, 'utf8'));
      return failOn?.test('nft') ? { code: 1, stdout: '', stderr: `${args[1]}:6:3-40: Error: Could not process rule: No such file or directory\n` } : { code: 0, stdout: '', stderr: '' };
    }
    return { code: 127, stdout: '', stderr: `unexpected ${cmd}` };
  };
  return { run, batches, nftScripts };
}

const profile: Profile = { name: 'p', pipes: { up: { bw: '1Mbit/s', delay: '10ms' } }, rules: [{ from: 'a', pipe: 'up' }] };

test('the kernel state is the qdiscs of ports a and b only', async (t) => {
  t.deepEqual(await readKernelState({ root: '/', run: kernel().run }), { qdiscs: [{ dev: 'a', kind: 'noqueue', handle: '0:', root: true }] });
});

test('a plan runs as tc batch, then nft, then the cleanup batch, from files kept in /run/picowire', async (t) => {
  const root = await tempRoot();
  const k = kernel();
  const error = await applyPlan({ dists: {}, tc: ['qdisc replace dev a root handle 1: htb default ffff'], nft: 'table bridge picowire\n', cleanup: ['class del dev a classid 1:12'], objects: { chains: [], maps: [] } }, { root, run: k.run });
  t.is(error, undefined);
  t.deepEqual(k.batches, [['qdisc replace dev a root handle 1: htb default ffff'], ['class del dev a classid 1:12']]);
  t.deepEqual(k.nftScripts, ['table bridge picowire\n']);
  t.is(await readFile(join(root, 'run/picowire/plan.nft'), 'utf8'), 'table bridge picowire\n');
});

test('a failing tc line is reported with the kernel\'s message and the command, and nft is not run', async (t) => {
  const root = await tempRoot();
  const k = kernel(/netem/);
  const error = await applyPlan({ dists: {}, tc: ['class replace dev b parent 1: classid 1:10 htb rate 100gbit', 'qdisc replace dev b parent 1:10 handle 10: netem delay 10000us'], nft: '', cleanup: [], objects: { chains: [], maps: [] } }, { root, run: k.run });
  t.is(error, 'tc: Error: Specified qdisc kind is unknown. (in "tc qdisc replace dev b parent 1:10 handle 10: netem delay 10000us")');
  t.deepEqual(k.nftScripts, []);
});

test('when applying fails half-way the previous profile is applied again', async (t) => {
  const root = await tempRoot();
  const k = kernel(/netem/);
  const error = await applyProfile(profile, { name: 'before', pipes: {}, rules: [] }, { root, run: k.run });
  t.regex(error!, /^tc: Error: Specified qdisc kind is unknown\. \(in "tc qdisc replace dev b parent 1:10 handle 10: netem /);
  t.is(k.batches.length, 1, 'the failed batch; the previous profile has no pipes, so no tc batch of its own (this fake kernel keeps no qdiscs to clean up)');
  t.is(k.nftScripts.length, 1);
  t.regex(k.nftScripts[0]!, /\ndelete chain bridge picowire forward\n/, 'the previous profile\'s: no rules, so no chain sees the packets');
});

test('before any good profile, a failed apply restores the closed bridge', async (t) => {
  const root = await tempRoot();
  const k = kernel(/netem/);
  await applyProfile(profile, null, { root, run: k.run });
  t.regex(k.nftScripts[0]!, /policy drop;/);
});

test('an nft failure is reported with nft\'s own words, and the restore failing too is said as well', async (t) => {
  const root = await tempRoot();
  const k = kernel(/nft/);
  const error = await applyProfile({ ...profile, pipes: {}, rules: [] }, null, { root, run: k.run });
  t.is(
    error,
    `nft: ${join(root, 'run/picowire/plan.nft')}:6:3-40: Error: Could not process rule: No such file or directory; restoring the previous profile failed too: nft: ${join(root, 'run/picowire/plan.nft')}:6:3-40: Error: Could not process rule: No such file or directory`,
  );
});

test('lines already in force are left out of a plan, unless it deletes something or writes delay tables', (t) => {
  const inForce = new Set(['class replace dev b parent 1: classid 1:10 htb rate 100gbit', 'qdisc replace dev b parent 1:10 handle 10: netem delay 10000us']);
  const changed = 'qdisc replace dev b parent 10:1 handle 4000: netem delay 5000us';
  const p = { dists: {}, tc: [...inForce, changed], nft: '', cleanup: [], objects: { chains: [], maps: [] } };
  t.deepEqual(withoutLinesInForce(p, inForce).tc, [changed]);
  const deleting = { ...p, tc: ['qdisc del dev b parent 10:1 handle 4000:', ...p.tc] };
  t.is(withoutLinesInForce(deleting, inForce), deleting, 'a delete may take an identical line\'s object with it');
  const tables = { ...p, dists: { 'picowire-p.dist': '1 2 3\n' } };
  t.is(withoutLinesInForce(tables, inForce), tables, 'netem reads a table only when its line runs');
});
