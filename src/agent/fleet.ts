// Fleet profiles: a box given a profile_url fetches its profile from there once it is up, then polls
// it, so one server drives a lab of boxes. The URL may name {mac} (port a's), {serial} (the DMI
// serial) and {hostname}, filled in per box. A poll sends the last ETag (If-None-Match), and a
// profile the box already holds is not applied again. A URL that cannot be fetched, or a profile
// that is refused, is said on the console and in `picowire status`; the profile in force stays.
//
// The setting (file profile_url, or picowire.profile_url=): the URL, optionally followed by how
// often to poll, "every 30s" (a duration: s or ms; default 60 s, at least 1 s).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseDuration } from '../profile/units.ts';
import { notes } from './notes.ts';
import { findSetting } from './settings.ts';
import type { Context, Found } from './sources.ts';

/** The one file name of this setting (partition, fw_cfg, /etc/picowire, picowire embed). */
export const PROFILE_URL_FILE = 'profile_url';
export const DEFAULT_POLL_S = 60;
/** How soon a URL that could not be reached is tried again (at most the interval). */
const RETRY_MS = 3000;
const FIELDS = ['{mac}', '{serial}', '{hostname}'] as const;

export interface FleetSetting {
  template: string;
  everyMs: number;
}

/** The setting's text as a URL template and a poll interval, or why it is not one. */
export function parseProfileUrl(text: string): FleetSetting | { error: string } {
  const [template, ...rest] = text.trim().split(/\s+/);
  if (!template) return { error: 'is empty; allowed: an http:// or https:// URL, optionally followed by "every 30s"' };
  let everyMs = DEFAULT_POLL_S * 1000;
  if (rest.length) {
    let ms: number | undefined;
    try {
      ms = rest[0] === 'every' && rest.length === 2 ? parseDuration(rest[1]!) / 1000 : undefined; // microseconds
    } catch {
      ms = undefined;
    }
    if (ms === undefined || !(ms >= 1000)) return { error: `"${rest.join(' ')}" is not a poll interval; allowed: "every" and a duration of 1 s or more, such as "every 30s"` };
    everyMs = ms;
  }
  let url: URL;
  try {
    url = new URL(FIELDS.reduce((u, f) => u.replaceAll(f, 'x'), template));
  } catch {
    return { error: `${JSON.stringify(template)} is not a URL; allowed: http:// or https:// URLs, with ${FIELDS.join(', ')} filled in by the box` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `${JSON.stringify(template)} has the scheme ${url.protocol.replace(/:$/, '')}; allowed: http, https` };
  const unknown = template.match(/\{[^}]*\}/g)?.filter((f) => !(FIELDS as readonly string[]).includes(f));
  if (unknown?.length) return { error: `${JSON.stringify(template)} names ${unknown.join(', ')}; allowed: ${FIELDS.join(', ')}` };
  return { template, everyMs };
}

/** The URL for this box: {mac} of port a, {serial} from DMI, {hostname}; each URL-encoded. */
export async function fillUrl(template: string, root: string): Promise<string> {
  const read = (path: string) => readFile(join(root, path), 'utf8').then((t) => t.trim(), () => '');
  const values: Record<(typeof FIELDS)[number], () => Promise<string>> = {
    '{mac}': () => read('sys/class/net/a/address'),
    '{serial}': () => read('sys/class/dmi/id/product_serial'),
    '{hostname}': async () => (await import('node:os')).hostname(), // node:os loads only here, not before main() (api/server.ts)
  };
  let url = template;
  for (const field of FIELDS) if (url.includes(field)) url = url.replaceAll(field, encodeURIComponent(await values[field]()));
  return url;
}

export interface Fleet {
  /** one fetch now (the poll runs it every interval); resolves when done */
  poll(): Promise<void>;
  /** what status says of the fleet: the URL and the last outcome */
  state(): { url: string; last: string };
  stop(): void;
}

/**
 * Polls `url` every `everyMs`; a new profile goes to `apply`, which answers whether it is in force.
 * `say` gets a line when the outcome changes (not every poll): a user sees an outage once.
 */
export function startFleet(url: string, everyMs: number, apply: (found: Found) => Promise<{ applied: boolean; errors: string[] }>, say: (line: string) => void, fetcher: typeof fetch = fetch): Fleet {
  let etag: string | undefined;
  let held: unknown;
  let last = 'not fetched yet';
  const note = (outcome: string) => {
    if (outcome !== last) say(`profile_url ${url}: ${outcome}`);
    last = outcome;
  };
  const poll = async () => {
    let res: Response;
    try {
      res = await fetcher(url, { headers: { accept: 'application/json', ...(etag && { 'if-none-match': etag }) }, signal: AbortSignal.timeout(Math.min(everyMs, 30_000)) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      return note(`unreachable (${cause?.code ?? cause?.message ?? (e as Error).message}); the profile in force stays`);
    }
    if (res.status === 304) return; // unchanged since the last ETag
    const text = await res.text();
    if (res.status !== 200) return note(`HTTP ${res.status}; the profile in force stays`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return note(`not valid JSON (${(e as Error).message}); the profile in force stays`);
    }
    etag = res.headers.get('etag') ?? undefined;
    if (isDeepStrictEqual(value, held)) return;
    const outcome = await apply({ source: `profile_url ${url}`, value });
    held = value; // a refused profile is not sent again until it changes
    note(outcome.applied ? 'in force' : `refused (${outcome.errors.length} errors, on the console); the profile in force stays`);
  };
  let busy: Promise<void> | undefined;
  const once = () => (busy ??= poll().finally(() => (busy = undefined)));
  // the next poll: the interval, or sooner while the URL cannot be reached (at boot the management
  // NIC's lease may come seconds after the agent is ready)
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void once().then(schedule), last.startsWith('unreachable') ? Math.min(everyMs, RETRY_MS) : everyMs);
    timer.unref();
  };
  schedule();
  return {
    poll: once,
    state: () => ({ url, last }),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Starts the fleet poll when the box has a profile_url; a bad setting is said and polls nothing. */
export async function fleetFromSettings(ctx: Context, apply: (found: Found) => Promise<{ applied: boolean; errors: string[] }>, say: (line: string) => void): Promise<Fleet | undefined> {
  const setting = await findSetting(ctx, PROFILE_URL_FILE);
  if (!setting) return undefined;
  const parsed = parseProfileUrl(setting.text);
  if ('error' in parsed) {
    const line = `${setting.source}: ${parsed.error}; no profile is fetched`;
    say(line);
    notes.set(PROFILE_URL_FILE, line);
    return undefined;
  }
  const url = await fillUrl(parsed.template, ctx.root);
  const fleet = startFleet(url, parsed.everyMs, apply, (line) => {
    say(line);
    notes.set(PROFILE_URL_FILE, line.endsWith(': in force') ? undefined : line);
  });
  void fleet.poll();
  return fleet;
}
