// The agent's tool runner: a command that runs past its timeout is killed, without a `timeout` process.
import test from 'ava';
import { run } from '../../src/agent/exec.ts';

test('a command past its timeoutMs is killed and reports code 128; one within it reports its own', async (t) => {
  const started = performance.now();
  const r = await run('sleep', ['5'], { timeoutMs: 200 });
  t.is(r.code, 128);
  t.true(performance.now() - started < 4000, 'ended well before the 5 s it would sleep');
  t.is((await run('sh', ['-c', 'exit 3'], { timeoutMs: 5000 })).code, 3);
});
