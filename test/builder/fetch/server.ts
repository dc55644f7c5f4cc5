// A tiny HTTP server on 127.0.0.1 for download tests: serves the files a test puts in `files`,
// answers anything else 404, and records every request path so tests can count network use.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** path → body or handler; tests may change it between requests */
  files: Map<string, Buffer | Handler>;
  requests: string[];
  close(): Promise<void>;
}

/** Starts a server on an ephemeral loopback port. */
export async function startServer(): Promise<TestServer> {
  const files = new Map<string, Buffer | Handler>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    const entry = files.get(path);
    if (typeof entry === 'function') return entry(req, res);
    if (!entry) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-length': entry.length }).end(entry);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    files,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A logger that keeps what it is told, for assertions. */
export function recordingLog(): { info(m: string): void; warn(m: string): void; infos: string[]; warnings: string[] } {
  const infos: string[] = [];
  const warnings: string[] = [];
  return { info: (m) => void infos.push(m), warn: (m) => void warnings.push(m), infos, warnings };
}
