// The long-running tc and nft the agent sends its batches to, run for real on this host: nft in a
// network namespace of this test's own, tc reading qdiscs only. A batch that fails says which
// command, as the one-shot tools do; a transaction that fails leaves nothing; the sessions go on
// after failures and start again when their process dies.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { BIN } from '../../src/agent/paths.ts';
import { nftSession, tcSession } from '../../src/agent/session.ts';
import { testNeeding } from '../helpers/env.ts';

const ns = `pwtest-${process.pid}-session`;
let dir: string;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'picowire-session-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
  try {
    execFileSync(BIN.ip, ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // never made: the tests needing root did not run
  }
});

/** A batch file with these lines. */
async function batch(name: string, lines: string[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

testNeeding(['root'], 'tc: batches run in one process; a failure names its line in its own file, and the next batch runs', async (t) => {
  const tc = tcSession([BIN.tc]);
  try {
    t.like(await tc.run(await batch('ok.tc', ['qdisc show dev lo'])), { code: 0 });
    const bad = await batch('bad.tc', ['qdisc show dev lo', 'qdisc show dev pwnope0', 'qdisc show dev lo']);
    const failed = await tc.run(bad);
    t.is(failed.code, 1);
    t.regex(failed.stderr, /Cannot find device "pwnope0"/);
    t.regex(failed.stderr, new RegExp(`Command failed ${bad}:2\\b`), 'the line within its batch, not within the session');
    const first = await batch('first.tc', ['qdisc show dev pwnope1']);
    t.regex((await tc.run(first)).stderr, new RegExp(`Command failed ${first}:1\\b`));
    t.like(await tc.run(await batch('again.tc', ['qdisc show dev lo', 'class show dev lo'])), { code: 0, stderr: '' });
  } finally {
    tc.close();
  }
});

testNeeding(['root'], 'nft: a batch is one transaction, as nft -f makes it; its complaint names the file and line; the session survives it and a killed process', async (t) => {
  execFileSync(BIN.ip, ['netns', 'add', ns]);
  const nft = nftSession([BIN.ip, 'netns', 'exec', ns, BIN.nft]);
  const tables = () => execFileSync(BIN.ip, ['netns', 'exec', ns, BIN.nft, 'list', 'tables'], { encoding: 'utf8' });
  try {
    t.like(await nft.run(await batch('good.nft', ['add table bridge one', 'add chain bridge one c'])), { code: 0, stderr: '' });
    t.regex(tables(), /table bridge one/);
    const bad = await batch('bad.nft', ['add table bridge two', 'add chain bridge nonexistent c']);
    const failed = await nft.run(bad);
    t.is(failed.code, 1);
    t.regex(failed.stderr, new RegExp(`^${bad}:2:\\d+-\\d+: Error: No such file or directory`), 'as nft -f says it');
    t.notRegex(tables(), /table bridge two/, 'the first command of the failed transaction is undone');
    nft.close(); // as if it had died: the next batch starts another
    t.like(await nft.run(await batch('three.nft', ['add table bridge three'])), { code: 0 });
    t.regex(tables(), /table bridge three/);
  } finally {
    nft.close();
  }
});

test('a tool that cannot start fails the batch with the reason, and the session tries again next time', async (t) => {
  const missing = tcSession(['/nonexistent/tc']);
  const file = await batch('x.tc', ['qdisc show dev lo']);
  for (const _ of [1, 2]) {
    const r = await missing.run(file);
    t.is(r.code, 1);
    t.regex(r.stderr, /\/nonexistent\/tc: .*ENOENT/);
  }
});
