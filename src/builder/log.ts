// Progress output: each stage announces itself and how long it took, on stderr so stdout stays clean.
import type { Logger } from './types.ts';

const out = (line: string) => process.stderr.write(line + '\n');

/** The logger every stage writes through. */
export const log: Logger = {
  info: (message) => out(`    ${message}`),
  warn: (message) => out(`  ! ${message}`),
};

/** Runs one named stage, printing its name first and its duration when done. */
export async function stage<T>(name: string, run: () => Promise<T>): Promise<T> {
  out(`==> ${name}`);
  const started = performance.now();
  const result = await run();
  out(`    ${name}: done in ${seconds(performance.now() - started)}`);
  return result;
}

/** "1.23 s" */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** "12.3 MB" */
export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
