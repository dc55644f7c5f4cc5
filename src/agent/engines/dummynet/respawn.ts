// kipfw started again if it ends while a dummynet profile is in force (a crash, a kill by hand):
// the agent looks every second and, through its one queue of changes, puts the profile in force
// again, which starts kipfw first. Until then the ports are out of the bridge and nothing crosses.
import type { Changes } from '../../changes.ts';
import { kipfwPid } from './apply.ts';

const LOOK_MS = 1000;

/** Watches kipfw for as long as the agent runs. */
export function keepKipfwRunning(root: string, changes: Changes, say: (line: string) => void): void {
  let looking = false;
  const gone = async (inForce: { engine?: string }) => inForce.engine === 'dummynet' && (await kipfwPid(root)) === undefined;
  setInterval(() => {
    if (looking || changes.inForce?.engine !== 'dummynet') return;
    looking = true;
    void gone(changes.inForce)
      .then((dead) => {
        if (!dead) return;
        say('kipfw is not running: starting it again with the profile in force');
        return changes.reapply('kipfw, started again', gone);
      })
      .finally(() => (looking = false));
  }, LOOK_MS).unref();
}
