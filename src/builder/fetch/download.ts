// HTTP GET with retries, streaming into a file while hashing, or into memory for small files.
// Every failure ends in a UserError naming what was being downloaded, from where, and why.
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pRetry, { AbortError } from 'p-retry';
import { UserError } from '../../common/errors.ts';
import type { Logger } from '../types.ts';
import { silentProgress, type Progress } from './progress.ts';

export interface RetryOptions {
  /** retries after the first attempt */
  retries: number;
  /** milliseconds before the first retry; each next wait doubles */
  minTimeout: number;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 3, minTimeout: 1000 };

// a transfer that receives nothing for this long is abandoned (and retried)
const IDLE_TIMEOUT_MS = 60_000;

export interface DownloadOptions {
  log: Logger;
  progress?: Progress;
  retry?: RetryOptions;
}

/** What is being downloaded, for messages: a package name or a description such as "bookworm InRelease". */
export interface Source {
  name: string;
  url: string;
  /** expected size in bytes, if an index says so */
  size?: number;
}

/** The server answered 404 or 410: the file is not there, retrying will not help. Callers may recover (a re-resolve). */
export class NotFoundError extends UserError {
  constructor(readonly source: Source, readonly status: number) {
    super(`${source.name} is not at ${source.url} (HTTP ${status})`);
  }
}

/** Downloads url into file, hashing with `algorithm` as the bytes arrive; returns the digest and the byte count. */
export async function downloadToFile(source: Source, file: string, algorithm: 'sha256' | 'sha512', opts: DownloadOptions): Promise<{ digest: Buffer; size: number }> {
  return withRetry(source, opts, async (signal, touch) => {
    const response = await get(source, signal);
    const hash = createHash(algorithm);
    const transfer = (opts.progress ?? silentProgress).begin(source.name, source.url, source.size ?? contentLength(response));
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        touch();
        hash.update(chunk);
        size += chunk.length;
        transfer.data(chunk.length);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), tap, createWriteStream(file));
    } finally {
      transfer.done();
    }
    return { digest: (hash as Hash).digest(), size };
  });
}

/** Downloads a small file (an index signature, registry metadata) into memory. */
export async function downloadBytes(source: Source, opts: DownloadOptions, headers: Record<string, string> = {}): Promise<Buffer> {
  return withRetry(source, opts, async (signal) => Buffer.from(await (await get(source, signal, headers)).arrayBuffer()));
}

/** Sends the GET; a 404/410 aborts retrying, any other non-2xx is a retryable failure. */
async function get(source: Source, signal: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(source.url, { signal, headers: { 'user-agent': 'picowire', ...headers } });
  if (response.status === 404 || response.status === 410) {
    await response.body?.cancel();
    throw new AbortError(new NotFoundError(source, response.status));
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status} ${response.statusText}`);
  }
  return response;
}

/** The Content-Length header as a number, if the server sent one. */
function contentLength(response: Response): number | undefined {
  const n = Number(response.headers.get('content-length'));
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * Runs one attempt at a time with p-retry's exponential backoff, warning before each retry. Each
 * attempt gets an abort signal that fires when `touch` has not been called for IDLE_TIMEOUT_MS.
 * UserErrors (a hash mismatch, a 404) are not retried; the last failure becomes a UserError.
 */
async function withRetry<T>(source: Source, opts: DownloadOptions, attempt: (signal: AbortSignal, touch: () => void) => Promise<T>): Promise<T> {
  const retry = opts.retry ?? DEFAULT_RETRY;
  try {
    return await pRetry(
      async () => {
        const controller = new AbortController();
        let timer = setTimeout(() => controller.abort(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)), IDLE_TIMEOUT_MS);
        const touch = () => timer.refresh();
        try {
          return await attempt(controller.signal, touch);
        } catch (error) {
          if (error instanceof UserError) throw new AbortError(error);
          throw controller.signal.aborted ? controller.signal.reason : error;
        } finally {
          clearTimeout(timer);
        }
      },
      {
        retries: retry.retries,
        minTimeout: retry.minTimeout,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          if (retriesLeft > 0) opts.log.warn(`downloading ${source.name} from ${source.url} failed (${describe(error)}); retrying (attempt ${attemptNumber + 1} of ${retry.retries + 1})`);
        },
      },
    );
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`could not download ${source.name} from ${source.url} after ${retry.retries + 1} attempts: ${describe(error)}`);
  }
}

/** An error's message with its cause (fetch hides the real reason, e.g. ECONNREFUSED, in `cause`). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return error.message + cause;
}
