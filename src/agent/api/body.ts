// Reading a request's body: at most a limit (1 MiB for the API), of the one type a route takes, and
// as JSON that says where it broke. Each problem is an HttpError the server answers with.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.ts';

/** The body's bytes once all have come; 413 as soon as it is known to be larger than `limit`. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge(limit, `Content-Length ${declared}`));
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData);
      req.resume(); // what follows is read and dropped, so the answer reaches a client still sending
      fail(tooLarge(limit, `more than ${limit} bytes`));
    };
    req.on('data', onData);
    req.on('end', () => done(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

/** The 413 for a body over the limit, saying what came. */
function tooLarge(limit: number, got: string): HttpError {
  return new HttpError(413, [`body: ${got} is not allowed; allowed: at most ${limit} bytes (${limit / 1024 / 1024} MiB)`]);
}

/** 415 unless the request's Content-Type is `type` (parameters such as charset aside; utf-8 is the only charset taken). */
export function requireType(req: IncomingMessage, type: string): void {
  const given = req.headers['content-type'] ?? '';
  const [media, ...params] = given.split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (media === type && (charset === undefined || charset === 'utf-8' || charset === 'utf8')) return;
  throw new HttpError(415, [`Content-Type: ${JSON.stringify(given)} is not allowed; allowed: ${type} (charset utf-8, if one is named)`]);
}

/** The body as UTF-8 text; 400 when it is not UTF-8. */
export function utf8(body: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new HttpError(400, ['body: not valid UTF-8; allowed: UTF-8 text']);
  }
}

/** The body as JSON; 400 naming the line and column where it broke. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message);
    const where = at && !/line \d+/.test(message) ? ` (${lineAndColumn(text, Number(at[1]))})` : '';
    throw new HttpError(400, [`body: not valid JSON: ${message}${where}`]);
  }
}

/** "line L column C" of a character offset, both counted from 1. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length} column ${before.at(-1)!.length + 1}`;
}
