// Reading the PICOWIRE partition again when it may have changed: the appliance runs from RAM, so a
// user pulls the stick, edits profile.json on a laptop and plugs it back in.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Runner } from './exec.ts';
import { fromConfigPartition, type Found } from './sources.ts';

interface Context {
  root: string;
  run: Runner;
  warn: (line: string) => void;
}

/**
 * Polls /proc/partitions (a cheap read) every `intervalMs`; when the block devices change, the
 * PICOWIRE partition is read again, and `apply` gets its profile if that differs from what the
 * partition held the last time it was read. Returns `look` (one poll, for tests) and `stop`.
 */
export function watchConfigPartition(ctx: Context, apply: (found: Found) => Promise<unknown>, intervalMs = 2000): { look: () => Promise<void>; stop: () => void } {
  const partitions = join(ctx.root, 'proc/partitions');
  let seen: string | undefined;
  let last: unknown;
  let busy: Promise<void> | undefined;
  const poll = async () => {
    const now = await readFile(partitions, 'utf8').catch(() => '');
    if (seen !== undefined && now !== seen) {
      const found = await fromConfigPartition(ctx);
      const value = found && ('value' in found ? found.value : found.error);
      if (found && !isDeepStrictEqual(value, last)) {
        last = value;
        await apply(found);
      }
    }
    seen = now;
  };
  const look = () => (busy ??= poll().finally(() => (busy = undefined)));
  const timer = setInterval(() => void look(), intervalMs);
  timer.unref();
  return { look, stop: () => clearInterval(timer) };
}
