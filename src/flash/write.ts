// Writing an image to a device and reading it back: large aligned writes, a flush to the device,
// then the device's own bytes (not the page cache's) compared with the image's.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { execa } from 'execa';
import { UserError } from '../common/errors.ts';
import { mb } from '../builder/fetch/progress.ts';

const CHUNK = 4 * 2 ** 20;

/** Progress of one pass over the image: a bar on a terminal, a line every 10 % otherwise. */
function meter(verb: string, total: number, log: (line: string) => void, stream: NodeJS.WriteStream = process.stderr) {
  const started = performance.now();
  const rate = (bytes: number) => `${mb(bytes / Math.max((performance.now() - started) / 1000, 0.001))}/s`;
  const bar = stream.isTTY ? new cliProgress.SingleBar({ stream, format: `${verb} [{bar}] {percentage}% {done} / {all}  {rate}`, hideCursor: null, clearOnComplete: true }) : undefined;
  bar?.start(total, 0, { done: mb(0), all: mb(total), rate: '' });
  let tenths = 0;
  return {
    update(bytes: number) {
      bar?.update(bytes, { done: mb(bytes), all: mb(total), rate: rate(bytes) });
      if (!bar && Math.floor((bytes / total) * 10) > tenths) {
        tenths = Math.floor((bytes / total) * 10);
        log(`${verb}: ${tenths * 10} % (${mb(bytes)} of ${mb(total)}, ${rate(bytes)})`);
      }
    },
    done(bytes: number): string {
      bar?.stop();
      return `${verb}: ${mb(bytes)} in ${((performance.now() - started) / 1000).toFixed(1)} s (${rate(bytes)})`;
    },
  };
}

/** Opens the device for writing, exclusively (the kernel refuses while anything has it mounted). */
async function openDevice(device: string) {
  try {
    return await open(device, constants.O_WRONLY | constants.O_EXCL);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new UserError(`no permission to write ${device}: run as root (sudo picowire flash ...) or as a member of the disk group`);
    if (code === 'EBUSY') throw new UserError(`${device} is busy (mounted or in use): unmount it first`);
    throw e;
  }
}

/** Copies the image onto the device and syncs it; returns the summary line. */
export async function writeImage(image: string, device: string, log: (line: string) => void): Promise<string> {
  const src = await open(image, 'r');
  const dst = await openDevice(device);
  try {
    const total = (await src.stat()).size;
    const m = meter('writing', total, log);
    const buf = Buffer.alloc(CHUNK);
    for (let at = 0; at < total; ) {
      const { bytesRead } = await src.read(buf, 0, CHUNK, at);
      if (bytesRead === 0) throw new Error(`${image} ended at ${at} of ${total} bytes while being written`);
      await dst.write(buf, 0, bytesRead, at);
      at += bytesRead;
      m.update(at);
    }
    await dst.sync();
    return m.done(total);
  } finally {
    await src.close();
    await dst.close();
  }
}

/** Drops the device's cached pages, then compares what it holds with the image; throws where they differ. */
export async function verifyImage(image: string, device: string, log: (line: string) => void): Promise<string> {
  await execa('blockdev', ['--flushbufs', device]);
  const src = await open(image, 'r');
  const dst = await open(device, 'r');
  try {
    const total = (await src.stat()).size;
    const m = meter('verifying', total, log);
    const a = Buffer.alloc(CHUNK), b = Buffer.alloc(CHUNK);
    for (let at = 0; at < total; ) {
      const { bytesRead } = await src.read(a, 0, CHUNK, at);
      const got = await dst.read(b, 0, bytesRead, at);
      if (got.bytesRead !== bytesRead || !a.subarray(0, bytesRead).equals(b.subarray(0, bytesRead))) {
        const first = [...a.subarray(0, bytesRead)].findIndex((x, i) => x !== b[i]);
        throw new UserError(`${device} does not hold what was written: the bytes differ at offset ${at + Math.max(first, 0)}; the device may be failing or fake (its real size smaller than it says)`);
      }
      at += bytesRead;
      m.update(at);
    }
    return m.done(total);
  } finally {
    await src.close();
    await dst.close();
  }
}
