// tc and nft kept running, so a runtime change does not pay for starting them: under QEMU TCG a
// `tc -batch` or `nft -f` start costs 50-120 ms, about what the whole change may take.
//
// Each session is one process reading commands on its stdin: `tc -force -batch -` and `nft -i`.
// After a plan's commands comes one bound to fail, naming a marker no real object has; neither
// tool buffers stderr, so when the marker's complaint arrives every command before it has run, and
// whatever stderr said in between is their complaint. nft runs the plan as `include "FILE"`: one
// transaction, as `nft -f FILE` is. tc reads one line ahead before it runs a line (to batch
// filters), so a blank line follows the marker to let the marker run.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Result } from './exec.ts';

/** How long one batch may take before the session is declared stuck and restarted. */
const TIMEOUT_MS = 30_000;

interface Protocol {
  args: string[];
  /** what to send for a batch file (tc: its lines; nft: an include); `line` is the first line number it gets */
  send(file: string, text: string): string;
  /** the command that fails with `marker` in its complaint */
  marker(n: number): { send: string; done: RegExp };
  /** the complaint as the one-shot tool would have given it for `file`, from what the session said; `first` is the line number the batch began at */
  complaint(said: string, file: string, first: number): string;
  /** lines a batch takes up (tc counts them in its complaints) */
  lines(sent: string): number;
  /** whether what the batch said is a failure, not a warning */
  failed(said: string): boolean;
}

const TC: Protocol = {
  args: ['-force', '-batch', '-'],
  send: (_file, text) => (text.endsWith('\n') ? text : `${text}\n`),
  marker: (n) => ({ send: `qdisc show dev pwsync${n}\n\n`, done: new RegExp(`Cannot find device "pwsync${n}"\\nCommand failed -:\\d+\\n`) }),
  // tc numbers lines from the start of its stdin: renumber them from the batch's first
  complaint: (said, file, first) => said.replace(/Command failed -:(\d+)/g, (_, n: string) => `Command failed ${file}:${Number(n) - first + 1}`),
  lines: (sent) => sent.split('\n').length - 1,
  failed: (said) => said.includes('Command failed'),
};

const NFT: Protocol = {
  args: ['-i'],
  send: (file) => `include "${file}"\n`,
  marker: (n) => ({ send: `list table bridge pwsync${n}\n`, done: new RegExp(`Error: [^\\n]*\\nlist table bridge pwsync${n}\\n *\\^+\\n`) }),
  complaint: (said) => said.replace(/^In file included from [^\n]*\n/gm, ''),
  lines: () => 0,
  failed: (said) => /Error/.test(said),
};

/** One long-running tool; batches go through it one at a time. */
export class ToolSession {
  private child?: ChildProcess;
  private stderr = '';
  private line = 1;
  private markers = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting?: () => void;

  /** `command`: the tool and any words before it (tests run it in a network namespace with `ip netns exec NS`) */
  constructor(
    private readonly command: readonly string[],
    private readonly protocol: Protocol,
  ) {}

  /** Runs a batch file as `tc -batch FILE` or `nft -f FILE` would, and answers as they would (code 0, or 1 and the complaint). */
  run(file: string): Promise<Result> {
    const next = this.queue.then(() => this.once(file));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Starts the tool ahead of its first batch, which then does not wait for the start (at boot: beside other work). */
  warm(): void {
    if (!this.child) this.start();
  }

  /** Ends the process (the agent does not need to: the session dies with it). */
  close(): void {
    this.child?.kill();
    this.child = undefined;
  }

  private start(): ChildProcess {
    const [cmd, ...pre] = this.command;
    const child = spawn(cmd!, [...pre, ...this.protocol.args], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.stderr = '';
    this.line = 1;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.waiting?.();
    });
    const gone = () => {
      if (this.child === child) this.child = undefined;
      this.waiting?.();
    };
    child.on('error', (e) => {
      this.stderr += `${this.command.join(' ')}: ${e.message}\n`;
      gone();
    });
    child.on('exit', gone);
    child.stdin!.on('error', () => undefined); // a dead process: 'exit' tells
    this.child = child;
    return child;
  }

  private async once(file: string): Promise<Result> {
    const text = await readFile(file, 'utf8');
    const child = this.child ?? this.start();
    const marker = this.protocol.marker(++this.markers);
    const batch = this.protocol.send(file, text);
    const first = this.line;
    this.line += this.protocol.lines(batch) + this.protocol.lines(marker.send);
    const from = this.stderr.length;
    child.stdin!.write(batch + marker.send);
    const said = await new Promise<string | undefined>((done) => {
      const timer = setTimeout(() => finish(undefined), TIMEOUT_MS);
      const finish = (value: string | undefined) => {
        clearTimeout(timer);
        this.waiting = undefined;
        done(value);
      };
      const look = () => {
        const got = this.stderr.slice(from);
        const m = marker.done.exec(got);
        if (m) finish(got.slice(0, m.index));
        else if (this.child !== child) finish(undefined);
      };
      this.waiting = look;
      look();
    });
    if (said === undefined) {
      // stuck or gone: the next batch starts a new process
      const why = this.child === child ? `no answer within ${TIMEOUT_MS / 1000} s` : 'it exited';
      if (this.child === child) this.close();
      return { code: 1, stdout: '', stderr: `${this.command.join(' ')}: ${why}${this.stderr.slice(from) ? `: ${this.stderr.slice(from)}` : ''}` };
    }
    this.stderr = this.stderr.slice(from + said.length).replace(marker.done, ''); // keep only what came after
    return { code: this.protocol.failed(said) ? 1 : 0, stdout: '', stderr: this.protocol.complaint(said, file, first) };
  }
}

/** A long-running `tc -force -batch -`. */
export const tcSession = (command: readonly string[]) => new ToolSession(command, TC);
/** A long-running `nft -i`. */
export const nftSession = (command: readonly string[]) => new ToolSession(command, NFT);
