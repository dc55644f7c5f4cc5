import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { createLimit } from '../../../src/builder/fetch/limit.ts';

test('no more tasks than the limit run at once, and every task runs and returns its value', async (t) => {
  const limit = createLimit(3);
  let running = 0;
  let most = 0;
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      limit(async () => {
        running++;
        most = Math.max(most, running);
        await sleep(5);
        running--;
        return i * 2;
      }),
    ),
  );
  t.is(most, 3);
  t.deepEqual(results, Array.from({ length: 12 }, (_, i) => i * 2));
});

test('a failing task frees its slot for the ones waiting', async (t) => {
  const limit = createLimit(1);
  const first = limit(async () => {
    throw new Error('boom');
  });
  const second = limit(async () => 'ran');
  await t.throwsAsync(first, { message: 'boom' });
  t.is(await second, 'ran');
});
