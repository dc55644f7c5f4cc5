import { PassThrough } from 'node:stream';
import test from 'ava';
import { createProgress } from '../../../src/builder/fetch/progress.ts';
import { recordingLog } from './server.ts';

/** A stream that says it is (or is not) a terminal and keeps what is written to it. */
function stream(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & { text: () => string };
  const chunks: string[] = [];
  s.write = ((chunk: string) => chunks.push(String(chunk)) > 0) as typeof s.write;
  Object.assign(s, { isTTY, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  s.text = () => chunks.join('');
  return s;
}

test('off a terminal, each download gets a line when it starts and one with size and rate when it ends, then a summary', (t) => {
  const log = recordingLog();
  const out = stream(false);
  const progress = createProgress(log, out);
  const transfer = progress.begin('iproute2 6.1.0-3', 'https://deb.debian.org/debian/pool/i.deb', 2_500_000);
  transfer.data(2_500_000);
  transfer.done();
  progress.close();
  progress.close(); // a second close says nothing more
  t.is(out.text(), '');
  t.is(log.infos.length, 3);
  t.is(log.infos[0], 'downloading iproute2 6.1.0-3 (2.5 MB) from https://deb.debian.org/debian/pool/i.deb');
  t.regex(log.infos[1]!, /^downloaded iproute2 6\.1\.0-3: 2\.5 MB in \d+\.\d s \([\d.]+ MB\/s\)$/);
  t.regex(log.infos[2]!, /^downloaded 1 files, 2\.5 MB in \d+\.\d s$/);
});

test('on a terminal, all downloads share one bar with bytes, total and rate, and a summary line follows', (t) => {
  const log = recordingLog();
  const out = stream(true);
  const progress = createProgress(log, out);
  const a = progress.begin('a', 'http://x/a', 1_000_000);
  const b = progress.begin('b', 'http://x/b', 3_000_000);
  a.data(1_000_000);
  b.data(3_000_000);
  a.done();
  b.done();
  progress.close();
  t.regex(out.text(), /downloading \[.*\] [\d.]+ MB \/ 4\.0 MB {2}[\d.]+ MB\/s/);
  t.deepEqual(log.infos.length, 1);
  t.regex(log.infos[0]!, /^downloaded 2 files, 4\.0 MB in/);
});
