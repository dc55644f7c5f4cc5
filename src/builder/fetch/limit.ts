// A few downloads at a time: enough to hide latency, few enough to be polite to mirrors.

export type Limit = <T>(task: () => Promise<T>) => Promise<T>;

/** Returns a runner that lets at most `concurrency` tasks run at once; the others wait in order. */
export function createLimit(concurrency: number): Limit {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    // a finishing task hands its slot straight to the next waiter, so `running` never overshoots
    if (running < concurrency) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
