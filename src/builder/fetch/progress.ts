// Download progress on stderr: one updating line on a terminal, a line per file at start and end
// otherwise (CI logs), and a summary either way. Several downloads share one reporter.
import cliProgress from 'cli-progress';
import type { Logger } from '../types.ts';

/** One download in flight. */
export interface Transfer {
  data(bytes: number): void;
  done(): void;
}

export interface Progress {
  begin(name: string, url: string, total: number | undefined): Transfer;
  /** ends the display and prints what was downloaded, if anything was */
  close(): void;
}

/** Megabytes with one decimal, for humans. */
export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** A reporter that says nothing (tests, and lookups too small to report). */
export const silentProgress: Progress = { begin: () => ({ data() {}, done() {} }), close() {} };

/** Picks the terminal bar when the stream is a TTY, plain lines otherwise. */
export function createProgress(log: Logger, stream: NodeJS.WriteStream = process.stderr): Progress {
  return stream.isTTY ? terminalProgress(log, stream) : lineProgress(log);
}

/** Plain lines: one when a download starts, one when it ends, with its rate. */
function lineProgress(log: Logger): Progress {
  const totals = { files: 0, bytes: 0, started: 0 };
  return {
    begin(name, url, total) {
      if (totals.files === 0) totals.started = performance.now();
      const started = performance.now();
      let bytes = 0;
      log.info(`downloading ${name}${total ? ` (${mb(total)})` : ''} from ${url}`);
      return {
        data: (n) => void (bytes += n),
        done() {
          const seconds = (performance.now() - started) / 1000;
          totals.files++;
          totals.bytes += bytes;
          log.info(`downloaded ${name}: ${mb(bytes)} in ${seconds.toFixed(1)} s (${mb(bytes / Math.max(seconds, 0.001))}/s)`);
        },
      };
    },
    close() {
      if (totals.files > 0) log.info(`downloaded ${totals.files} files, ${mb(totals.bytes)} in ${((performance.now() - totals.started) / 1000).toFixed(1)} s`);
      totals.files = 0;
      totals.bytes = 0;
    },
  };
}

/** One bar for all downloads together: bytes done / bytes known, rate, files in flight. */
function terminalProgress(log: Logger, stream: NodeJS.WriteStream): Progress {
  let bar: cliProgress.SingleBar | undefined;
  const state = { files: 0, active: 0, bytes: 0, total: 0, started: 0 };
  const payload = () => {
    const seconds = Math.max((performance.now() - state.started) / 1000, 0.001);
    return { got: mb(state.bytes), all: mb(state.total), rate: `${mb(state.bytes / seconds)}/s`, active: state.active };
  };
  return {
    begin(_name, _url, total) {
      if (!bar) {
        state.started = performance.now();
        bar = new cliProgress.SingleBar({ stream, format: 'downloading [{bar}] {got} / {all}  {rate}  ({active} in flight)', clearOnComplete: true, hideCursor: null });
        bar.start(1, 0, payload());
      }
      state.active++;
      state.total += total ?? 0;
      bar.setTotal(Math.max(state.total, 1));
      return {
        data(n) {
          state.bytes += n;
          bar!.update(state.bytes, payload());
        },
        done() {
          state.active--;
          state.files++;
          bar!.update(state.bytes, payload());
        },
      };
    },
    close() {
      if (!bar) return;
      bar.stop();
      bar = undefined;
      log.info(`downloaded ${state.files} files, ${mb(state.bytes)} in ${((performance.now() - state.started) / 1000).toFixed(1)} s`);
    },
  };
}
