// The API's HTTP server (node:http: nothing to add to the agent's bundle). Every request is routed
// by the table in routes.ts: an unknown path is 404, a known one asked with another method 405 with
// Allow, a missing or wrong token 401 with WWW-Authenticate; every error is {"errors": [...]}, one
// line each. Slow and idle clients are cut off, so a few of them cannot hold the box's connections.
// node:http is loaded only when the API starts, after the agent is ready: a static import is loaded
// before main() runs, and under QEMU TCG that put the agent's ready line about 0.5 s later.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { bearerCheck } from './auth.ts';
import type { Box } from './box.ts';
import { HttpError } from './errors.ts';
import { EventStream } from './events.ts';
import { ROUTES, sendJson } from './routes.ts';

/** Limits against slow, idle and too many clients. */
export const LIMITS = {
  /** the request's headers must all have come by then */
  headersMs: 10_000,
  /** the whole request (with a 1 MiB body) must have come by then */
  requestMs: 30_000,
  /** an idle kept-alive connection is closed after this */
  keepAliveMs: 5_000,
  /** how often the server looks for requests past those times (Node's default, 30 s, would let them run that much longer) */
  checkEveryMs: 1_000,
  /** connections at once, per address served */
  connections: 64,
  /** event streams open at once */
  eventStreams: 16,
} as const;

export interface Api {
  /** the request handler every listening server shares */
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** a server for one address (HTTPS when the API was given a certificate), with the limits set; listen() is the caller's */
  server(): Server;
  /** with a certificate: a plain HTTP server for port 80 that sends every request to the same path over HTTPS */
  redirect?(): Server;
  /** ends the event streams */
  close(): void;
}

/** The API over a box, answering with `token` only, over HTTPS with `tls`; tests shorten the limits. */
export async function createApi(box: Box, token: string, limits: Partial<typeof LIMITS> = {}, tls?: { cert: string; key: string }): Promise<Api> {
  const { headersMs, requestMs, keepAliveMs, checkEveryMs, connections, eventStreams } = { ...LIMITS, ...limits };
  const { createServer: createHttp } = await import('node:http');
  const https = tls ? await import('node:https') : undefined;
  const timeouts = { requestTimeout: requestMs, headersTimeout: headersMs, keepAliveTimeout: keepAliveMs, connectionsCheckingInterval: checkEveryMs };
  const authorized = await bearerCheck(token);
  const events = new EventStream(box, eventStreams);
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    answer(req, res, box, events, authorized).catch((e: unknown) => fail(res, e));
  };
  return {
    handle,
    server() {
      const server = https && tls ? https.createServer({ ...timeouts, cert: tls.cert, key: tls.key }, handle) : createHttp(timeouts, handle);
      server.maxConnections = connections;
      // a request Node cannot parse (bad syntax, headers over 16 KiB, too slow) is answered by Node itself: 400, 431 or 408, then closed
      return server;
    },
    ...(tls && {
      redirect() {
        const server = createHttp(timeouts, (req, res) => {
          const host = (req.headers.host ?? req.socket.localAddress ?? '').replace(/:\d+$/, '');
          res.writeHead(308, { location: `https://${host}${(req.url ?? '/').startsWith('/') ? req.url : '/'}`, 'content-type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify({ errors: ['this box serves its API over HTTPS only; allowed: https://'] }) + '\n');
        });
        server.maxConnections = connections;
        return server;
      },
    }),
    close: () => events.close(),
  };
}

/** Routes one request: 404, 405, 401, or the route's own answer. */
async function answer(req: IncomingMessage, res: ServerResponse, box: Box, events: EventStream, authorized: (header: string | undefined) => boolean): Promise<void> {
  const target = req.url ?? '';
  // origin form only: "//host/path" would otherwise read as another host, and absolute forms are for proxies
  if (!target.startsWith('/') || target.startsWith('//')) throw new HttpError(400, [`request target ${show(target)} is not allowed; allowed: a path such as /api/v1/status`]);
  let url: URL;
  try {
    url = new URL(`http://picowire${target}`);
  } catch {
    throw new HttpError(400, [`request target ${show(target)} is not a valid path`]);
  }
  const onPath = ROUTES.filter((r) => r.path === url.pathname);
  if (onPath.length === 0) throw new HttpError(404, [`no endpoint ${show(url.pathname)}; endpoints: ${[...new Set(ROUTES.map((r) => r.path))].join(', ')}`]);
  const route = onPath.find((r) => r.method === req.method);
  const allow = onPath.map((r) => r.method).join(', ');
  if (!route) throw new HttpError(405, [`${show(req.method ?? '')} ${url.pathname} is not allowed; allowed: ${allow}`], { allow });
  if (route.token && !authorized(req.headers.authorization)) {
    const given = req.headers.authorization !== undefined;
    throw new HttpError(401, [given ? 'Authorization: wrong token; allowed: "Bearer <the box\'s token>"' : 'Authorization: missing; allowed: "Bearer <the box\'s token>" (the token is on the console, the PICOWIRE partition or where you gave it)'], {
      'www-authenticate': `Bearer realm="picowire"${given ? ', error="invalid_token"' : ''}`,
    });
  }
  await route.handle({ req, res, url, box, events, peer: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}` });
}

/** Answers with what went wrong; a bug is a 500 with its message (the agent stays up). */
function fail(res: ServerResponse, e: unknown): void {
  if (res.headersSent) return void res.end();
  const error = e instanceof HttpError ? e : new HttpError(500, [`internal error: ${(e as Error)?.message ?? String(e)}`]);
  // a request whose body was refused unread: close the connection rather than read what is left of it
  if (error.status === 413) res.setHeader('connection', 'close');
  sendJson(res, error.status, { errors: error.errors }, error.headers);
}

/** A client's text in a message: quoted, and cut short. */
function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
