// Runs a tool and collects what it said. Never throws: the caller decides what a failure means.
// node:child_process rather than execa keeps the bundle small and the agent's start fast.
import { spawn } from 'node:child_process';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The seam tests replace: run a command with optional stdin. */
export type Runner = (cmd: string, args: readonly string[], opts?: { input?: string; timeoutMs?: number }) => Promise<Result>;

/** PICOWIRE_TRACE=1 (also from the kernel command line): timings on stderr, for finding where boot and apply time goes. */
export const trace = process.env.PICOWIRE_TRACE ? (line: string) => process.stderr.write(`picowire: trace: ${line}\n`) : undefined;

/** Runs a command to completion; a command that cannot start reports code 127 and why. PICOWIRE_TRACE=1 times each on stderr. */
export const run: Runner = (cmd, args, opts) =>
  new Promise((done) => {
    const started = performance.now();
    let settled = false; // a command that cannot start reports both 'error' and 'close'
    const resolve = (r: Result) => {
      if (settled) return;
      settled = true;
      trace?.(`${Math.round(started)} ms: ${cmd} ${args.join(' ')} → ${r.code} in ${Math.round(performance.now() - started)} ms`);
      done(r);
    };
    // timeoutMs: killed (SIGKILL) if it runs longer, without a `timeout` process of its own to start
    const child = spawn(cmd, args, { stdio: [opts?.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(opts?.timeoutMs && { timeout: opts.timeoutMs, killSignal: 'SIGKILL' as const }) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => resolve({ code: 127, stdout: '', stderr: `${cmd}: ${e.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    if (opts?.input !== undefined) child.stdin!.end(opts.input);
  });

/** Runs a batch file as `tc -batch FILE` or `nft -f FILE` does; the agent keeps the tools running instead (session.ts). */
export type Batcher = (tool: 'tc' | 'nft', file: string) => Promise<Result>;

/** A tool start per batch. */
export const startEach = (run: Runner, bin: { tc: string; nft: string }): Batcher => (tool, file) => run(bin[tool], tool === 'tc' ? ['-batch', file] : ['-f', file]);

/** The first lines of a tool's complaint, on one line, for a message. */
export function firstLines(text: string, n = 3): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, n).join(' / ');
}

/** The seam for long-running helpers: start a command detached from the agent, output discarded. */
export type Launcher = (cmd: string, args: readonly string[]) => void;

/** Starts a daemon that outlives the agent (init respawns the agent; the daemon must not die with it). */
export const launch: Launcher = (cmd, args) => {
  const child = spawn(cmd, args, { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
};
