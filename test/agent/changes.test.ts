// The agent's one queue: changes from anywhere are applied one at a time, in order, and listeners
// hear of each profile put in force and each one refused.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Changes, type Change } from '../../src/agent/changes.ts';
import type { Runner } from '../../src/agent/exec.ts';

const profile = (name: string, delay: string) => ({ name, pipes: { p: { delay } }, rules: [{ pipe: 'p' }] });

test('changes asked for at once are applied one after another, and listeners hear of each', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'picowire-changes-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const log: string[] = [];
  let running = 0;
  let most = 0;
  // a kernel whose tc batches take their time: an interleaved apply would overlap them
  const run: Runner = async (cmd, args) => {
    if (cmd.endsWith('tc') && args[0] === '-batch') {
      running++;
      most = Math.max(most, running);
      log.push(`tc ${args[1]}`);
      await new Promise((r) => setTimeout(r, 30));
      running--;
    }
    if (cmd.endsWith('tc') && args[0] === '-j') return { code: 0, stdout: '[]', stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  };
  const changes = new Changes({ root, run, say: () => undefined }, null);
  const heard: Change[] = [];
  changes.onChange((c) => heard.push(c));
  const outcomes = await Promise.all([
    changes.consider({ source: 'one', value: profile('one', '1ms') }),
    changes.consider({ source: 'bad', value: profile('bad', 'soon') }),
    changes.consider({ source: 'two', value: profile('two', '2ms') }),
  ]);
  t.is(most, 1, `tc batches overlapped: ${log.join(', ')}`);
  t.deepEqual(outcomes.map((o) => o.applied), [true, false, true]);
  t.is(changes.inForce?.name, 'two');
  t.deepEqual(heard.map((c) => `${c.kind} ${c.source}`), ['applied one', 'rejected bad', 'applied two']);
  t.truthy(await changes.appliedAt());
});
