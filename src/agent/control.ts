// The agent's control socket: `picowire apply|status|ipfw` on the appliance talk to the running
// agent through it, so one process owns the kernel state and changes are applied one at a time.
// One request per connection: a line of JSON in, a line of JSON out.
import { createServer, type Server } from 'node:net';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Profile } from '../profile/schema.ts';
import type { Status } from './status.ts';

export type Request = { op: 'apply'; profile: unknown; source: string } | { op: 'status' } | { op: 'current' };

export type Response =
  | { ok: true; op: 'apply'; name: string; ms: number }
  | { ok: false; op: 'apply'; errors: string[]; ms: number }
  | { ok: true; op: 'status'; status: Status }
  | { ok: true; op: 'current'; profile: Profile | null }
  | { ok: false; op: 'error'; errors: string[] };

/** Serves requests on a unix socket; `handle` is called for each, one at a time in arrival order. */
export async function serveControl(path: string, handle: (req: Request) => Promise<Response>): Promise<Server> {
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { force: true }); // a respawned agent replaces its predecessor's socket
  let queue: Promise<unknown> = Promise.resolve();
  // allowHalfOpen: the client ends its side after the request, and the answer still has to go out
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end === -1) return;
      const line = buffer.slice(0, end);
      buffer = '';
      queue = queue.then(async () => {
        let res: Response;
        try {
          res = await handle(parseRequest(line));
        } catch (e) {
          res = { ok: false, op: 'error', errors: [(e as Error).message] };
        }
        socket.end(JSON.stringify(res) + '\n');
      });
    });
  });
  await new Promise<void>((done, fail) => server.once('error', fail).listen(path, () => done()));
  return server;
}

function parseRequest(line: string): Request {
  const req = JSON.parse(line) as Request;
  if (req.op !== 'apply' && req.op !== 'status' && req.op !== 'current') throw new Error(`unknown request ${JSON.stringify((req as { op?: unknown }).op)}`);
  return req;
}
