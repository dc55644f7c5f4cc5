// The picowire command as a user runs it (bin/picowire.js → dist/picowire.js), compiled from the
// current source once per test file, so a test never runs a stale build.
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { REPO } from './env.ts';

test.before(async () => {
  await execa('npm', ['run', '--silent', 'compile'], { cwd: REPO });
});

/** Runs `picowire args...`; never throws for a non-zero exit. */
export const picowire = (args: string[], opts: { input?: string; cwd?: string; env?: Record<string, string> } = {}) =>
  execa('node', [join(REPO, 'bin/picowire.js'), ...args], { reject: false, cwd: opts.cwd ?? REPO, ...(opts.input === undefined ? {} : { input: opts.input }), ...(opts.env && { env: opts.env }) });
