// The runner's own `tc -force -batch -`, fed line by line without waiting for an answer. The
// agent's plan session (../session.ts) ends each batch with a command bound to fail and waits for
// its complaint, which tells it when the batch is done and what it said; that marker (`qdisc show
// dev pwsyncN`) opens and closes two sockets in tc each time (strace: 201 socket() calls for 100
// markers, none for 100 `class change` lines), and under QEMU TCG a trace's 50 changes a second
// with a marker each kept a vCPU busy. A schedule's changes need no answer to go on: tc runs each
// line as it comes (a blank line after each batch makes it run the last one at once rather than
// read ahead), and a line it refuses says "Command failed -:N" on stderr, which is reported with
// the line; the runner then sets everything again at its next change.
import { spawn, type ChildProcess } from 'node:child_process';

export class TcStream {
  private child?: ChildProcess;
  private stderr = '';
  private failed?: string;

  constructor(private readonly command: readonly string[]) {}

  /** Sends a batch of lines; returns the complaint of an earlier line tc refused since the last call, if any. */
  send(text: string): string | undefined {
    const complaint = this.failed;
    this.failed = undefined;
    const child = this.child ?? this.start();
    child.stdin!.write(text.endsWith('\n') ? `${text}\n` : `${text}\n\n`);
    return complaint;
  }

  /** Ends the process. */
  close(): void {
    this.child?.kill();
    this.child = undefined;
  }

  private start(): ChildProcess {
    const [cmd, ...pre] = this.command;
    const child = spawn(cmd!, [...pre, '-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
      const m = /Command failed -:(\d+)\n/.exec(this.stderr);
      if (!m) return;
      this.failed ??= `tc: ${this.stderr.slice(0, m.index).trim().split('\n')[0]} (line ${m[1]} of the schedule's tc stream)`;
      this.stderr = this.stderr.slice(m.index + m[0].length);
    });
    const gone = () => {
      if (this.child === child) this.child = undefined;
    };
    child.on('error', (e) => {
      this.failed ??= `${this.command.join(' ')}: ${e.message}`;
      gone();
    });
    child.on('exit', gone);
    child.stdin!.on('error', () => undefined); // a dead process: 'exit' tells, the next send starts another
    this.child = child;
    return child;
  }
}
