// The API's endpoints, one entry each: path, method, whether it needs the token, and what it does.
//   GET  /healthz            whether a profile is in force (200) or not (503); nothing else, no token
//   GET  /api/v1/status      what `picowire status --json` prints
//   GET  /api/v1/profile     the profile in force (404 before the first)
//   PUT  /api/v1/profile     a profile (application/json), validated and applied through the agent's queue
//   GET  /api/v1/ipfw        the profile in force as ipfw commands (text/plain)
//   POST /api/v1/ipfw        ipfw commands (text/plain) amending the profile in force, as `picowire ipfw CMD`;
//                            ?replace=1: a whole configuration replacing it, as `picowire ipfw -f`
//   GET  /api/v1/ipfw/show   dummynet's show commands as FreeBSD prints them (text/plain): ?what=rules (ipfw
//                            show), pipe, queue or sched; &numbers=1,2 for some of them
//   GET  /api/v1/events      server-sent events: counters every second, profile changes as they happen
//   GET  /metrics            Prometheus text format
//   GET  /, /app.js, /app.css  the web page (page.ts); no token for its files, its API calls send it
import type { IncomingMessage, ServerResponse } from 'node:http';
import { amendProfile, formatIpfw, Inexpressible } from '../../ipfw/index.ts';
import { formatShow, type ShowWhat } from '../../ipfw/show.ts';
import type { Profile } from '../../profile/schema.ts';
import { validateProfile } from '../../profile/validate.ts';
import { parseJson, readBody, requireType, utf8 } from './body.ts';
import type { Box } from './box.ts';
import { HttpError } from './errors.ts';
import type { EventStream } from './events.ts';
import { formatMetrics, METRICS_TYPE } from './metrics.ts';
import { pageRoutes } from './page.ts';

/** Bodies larger than this are refused (413): the largest real profile, a 1000-sample delay table, is 84 KB indented. */
export const BODY_LIMIT = 1024 * 1024;

export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  box: Box;
  events: EventStream;
  /** who asked, for the console's "profile from ..." line */
  peer: string;
}

export interface Route {
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  /** false only for /healthz */
  token: boolean;
  handle(call: Call): Promise<void>;
}

export const ROUTES: Route[] = [
  { method: 'GET', path: '/healthz', token: false, handle: health },
  { method: 'GET', path: '/api/v1/status', token: true, handle: async ({ res, box }) => sendJson(res, 200, await box.status()) },
  { method: 'GET', path: '/api/v1/profile', token: true, handle: getProfile },
  { method: 'PUT', path: '/api/v1/profile', token: true, handle: putProfile },
  { method: 'GET', path: '/api/v1/ipfw', token: true, handle: getIpfw },
  { method: 'POST', path: '/api/v1/ipfw', token: true, handle: postIpfw },
  { method: 'GET', path: '/api/v1/ipfw/show', token: true, handle: getShow },
  { method: 'GET', path: '/api/v1/events', token: true, handle: events },
  { method: 'GET', path: '/metrics', token: true, handle: metrics },
  ...pageRoutes(),
];

/** Says only whether a profile is in force: a load balancer or a CI job waits on it without the token. */
async function health({ res, box }: Call): Promise<void> {
  const inForce = box.inForce() !== null;
  sendJson(res, inForce ? 200 : 503, { inForce });
}

/** The profile in force, as validation filled it in. */
async function getProfile({ res, box }: Call): Promise<void> {
  const profile = box.inForce();
  if (!profile) throw new HttpError(404, ['no profile in force yet: the bridge forwards nothing']);
  sendJson(res, 200, profile);
}

/** A whole profile, refused whole with every error (422) before it reaches the queue; the previous stays in force. */
async function putProfile(call: Call): Promise<void> {
  requireType(call.req, 'application/json');
  const value = parseJson(utf8(await readBody(call.req, BODY_LIMIT)));
  const checked = validateProfile(value);
  if (!checked.ok) throw new HttpError(422, checked.errors);
  await applyThroughQueue(call, value, `the API (PUT /api/v1/profile from ${call.peer})`);
}

/** The profile in force as ipfw commands, as `picowire ipfw show` prints it. */
async function getIpfw({ res, box }: Call): Promise<void> {
  const profile = box.inForce();
  sendText(res, 200, profile ? formatIpfw(profile) : '# no profile in force\n');
}

const SHOWS: ShowWhat[] = ['rules', 'pipe', 'queue', 'sched'];

/** ipfw show, ipfw pipe|queue|sched show: FreeBSD's text from the counters of the profile in force. */
async function getShow({ res, url, box }: Call): Promise<void> {
  const what = url.searchParams.get('what') ?? 'rules';
  if (!(SHOWS as string[]).includes(what)) throw new HttpError(400, [`query what: ${JSON.stringify(what)} is not allowed; allowed: ${SHOWS.join(', ')}`]);
  const numbers = url.searchParams.get('numbers');
  if (numbers !== null && !/^\d{1,5}(,\d{1,5})*$/.test(numbers)) throw new HttpError(400, [`query numbers: ${JSON.stringify(numbers)} is not allowed; allowed: numbers separated by commas, such as 1,2`]);
  sendText(res, 200, formatShow(what as ShowWhat, box.inForce(), await box.status(), numbers ? numbers.split(',').map(Number) : []));
}

/** ipfw commands, amending what is in force or (?replace=1) replacing it; what ipfw cannot read is refused (422). */
async function postIpfw(call: Call): Promise<void> {
  requireType(call.req, 'text/plain');
  const text = utf8(await readBody(call.req, BODY_LIMIT));
  // nothing to do is a mistake, not a request to rewrite the profile in force as ipfw reads it back
  if (text.split('\n').every((line) => /^\s*(#.*)?$/.test(line))) throw new HttpError(400, ['body: no ipfw commands; allowed: ipfw/dummynet commands, one a line, such as "pipe 1 config bw 2Mbit/s delay 10ms"']);
  const replace = call.url.searchParams.get('replace');
  if (replace !== null && replace !== '0' && replace !== '1') throw new HttpError(400, [`query replace: ${JSON.stringify(replace)} is not allowed; allowed: 0 (amend the profile in force, the default) or 1 (replace it)`]);
  let profile: Profile;
  try {
    profile = amendProfile(replace === '1' ? null : call.box.inForce(), text);
  } catch (e) {
    throw new HttpError(e instanceof Inexpressible ? 409 : 422, [`ipfw: ${(e as Error).message}`]);
  }
  const checked = validateProfile(profile);
  if (!checked.ok) throw new HttpError(422, checked.errors);
  await applyThroughQueue(call, profile, `the API (POST /api/v1/ipfw from ${call.peer})`);
}

/** Queues a checked profile; 200 with what is in force once it is, 500 when the kernel refused it (the previous stays in force). */
async function applyThroughQueue({ res, box }: Call, profile: unknown, source: string): Promise<void> {
  const outcome = await box.apply(profile, source);
  if (!outcome.applied) throw new HttpError(500, [...outcome.errors, 'the previous profile stays in force']);
  sendJson(res, 200, { applied: outcome.inForce!.name, ms: Math.round(outcome.ms), profile: outcome.inForce });
}

/** Hands the response to the event stream; 503 when it has as many clients as it takes. */
async function events({ res, events }: Call): Promise<void> {
  if (!events.add(res)) throw new HttpError(503, ['too many event streams open; close one and try again'], { 'retry-after': '5' });
}

/** The counters and the profile's name and time in Prometheus' text format. */
async function metrics({ res, box }: Call): Promise<void> {
  const [status, appliedAt] = await Promise.all([box.status(), box.appliedAt()]);
  res.writeHead(200, { 'content-type': METRICS_TYPE, 'cache-control': 'no-store' });
  res.end(formatMetrics(status, appliedAt));
}

/** A JSON answer, indented as `picowire status --json` prints it. */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(value, null, 2) + '\n');
}

/** A plain-text answer. */
function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}
