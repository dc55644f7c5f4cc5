// `picowire remote URL status|apply FILE...|ipfw CMD...|dnctl CMD...|watch`: the appliance's own commands, run
// from a laptop or a CI job against the box's HTTP API (src/agent/api/), with the same output and
// exit status as at the box's console: 0 done, 1 a profile was refused, 2 usage, the box not
// reachable or the token refused.
import { formatStatus, type Status } from '../agent/status.ts';
import { showCommand } from '../ipfw/show.ts';
import { readInput } from '../profile/read.ts';

/** A usage problem, an unreachable box or a refused token: exit 2, as the box's command does. */
export class RemoteUsage extends Error {}

export interface RemoteOptions {
  token: string | undefined;
  json?: boolean;
  /** watch: stop after this many counter events */
  count?: number;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

interface Answer {
  status: number;
  text: string;
}

/** Opens one request to the box (its body not read yet); no token, no connection or a refused token is RemoteUsage. */
async function open(base: URL, token: string | undefined, path: string, init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {}): Promise<Response> {
  if (!token) throw new RemoteUsage('no token: give --token or set PICOWIRE_TOKEN (the box prints its token on its console at first boot)');
  let res: Response;
  try {
    res = await fetch(new URL(path, base), { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new RemoteUsage(`cannot reach the box at ${base.origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  if (res.status === 401) throw new RemoteUsage(`the box at ${base.origin} refused the token (401)`);
  return res;
}

/** One request and its whole answer. */
async function call(base: URL, token: string | undefined, method: string, path: string, body?: { type: string; text: string }): Promise<Answer> {
  const res = await open(base, token, path, { method, ...(body && { headers: { 'content-type': body.type }, body: body.text }), signal: AbortSignal.timeout(60_000) });
  return { status: res.status, text: await res.text() };
}

/** The errors a refusal carries, one a line. */
function errorsOf(a: Answer): string[] {
  try {
    const errors = (JSON.parse(a.text) as { errors?: unknown }).errors;
    if (Array.isArray(errors)) return errors.map(String);
  } catch {
    // not JSON: the text as it came
  }
  return [`HTTP ${a.status}: ${a.text.trim()}`];
}

/** Prints what became of an apply, as the box's `picowire apply` does; returns whether it is in force. */
function reportApply(a: Answer, source: string, o: Required<Pick<RemoteOptions, 'out' | 'err'>>): boolean {
  if (a.status === 200) {
    const { applied, ms } = JSON.parse(a.text) as { applied: string; ms: number };
    o.out(`applied profile ${applied} (${ms.toFixed(0)} ms)`);
    return true;
  }
  if (a.status !== 422 && a.status !== 409 && a.status !== 500) throw new RemoteUsage(`the box answered HTTP ${a.status}: ${errorsOf(a).join('; ')}`);
  o.err(`rejected ${source}:\n${errorsOf(a).map((e) => `  ${e}`).join('\n')}`);
  return false;
}

/** The base URL of the box's API: http://host[:port], a bare host taken as http. */
export function boxUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new RemoteUsage(`${JSON.stringify(text)} is not the box's address; allowed: http://HOST[:PORT] or https://HOST[:PORT], or a bare HOST`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RemoteUsage(`${text}: the scheme ${url.protocol} is not allowed; allowed: http, https`);
  return url;
}

/** Runs one remote command; returns the exit status. */
export async function remote(address: string, verb: string, args: string[], opts: RemoteOptions): Promise<number> {
  const base = boxUrl(address);
  const o = { out: opts.out ?? ((l: string) => console.log(l)), err: opts.err ?? ((l: string) => console.error(l)) };
  switch (verb) {
    case 'status': {
      const a = await call(base, opts.token, 'GET', '/api/v1/status');
      if (a.status !== 200) throw new RemoteUsage(`the box answered HTTP ${a.status}: ${errorsOf(a).join('; ')}`);
      o.out(opts.json ? a.text.trimEnd() : formatStatus(JSON.parse(a.text) as Status));
      return 0;
    }
    case 'apply': {
      if (!args.length) throw new RemoteUsage('apply: name at least one profile file');
      let ok = true;
      for (const file of args) {
        let text: string;
        try {
          text = readInput(file);
          JSON.parse(text);
        } catch (e) {
          o.err(`${file}: ${(e as Error).message}`);
          ok = false;
          continue;
        }
        ok = reportApply(await call(base, opts.token, 'PUT', '/api/v1/profile', { type: 'application/json', text }), `picowire apply ${file}`, o) && ok;
      }
      return ok ? 0 : 1;
    }
    case 'ipfw':
    case 'dnctl': {
      if (!args.length) throw new RemoteUsage(`${verb}: give an ${verb} command, -f FILE, list, or show`);
      const show = showCommand(verb, args);
      if (show) {
        const query = `what=${show.what}${show.numbers.length ? `&numbers=${show.numbers.join(',')}` : ''}`;
        const a = await call(base, opts.token, 'GET', `/api/v1/ipfw/show?${query}`);
        if (a.status !== 200) throw new RemoteUsage(`the box answered HTTP ${a.status}: ${errorsOf(a).join('; ')}`);
        o.out(a.text.trimEnd());
        return 0;
      }
      if (args[0] === 'list' && args.length === 1) {
        const a = await call(base, opts.token, 'GET', '/api/v1/ipfw');
        o.out(a.text.trimEnd());
        return 0;
      }
      const whole = args[0] === '-f' && args.length === 2;
      const text = whole ? readInput(args[1]!) : `${verb} ${args.join(' ')}`;
      return reportApply(await call(base, opts.token, 'POST', `/api/v1/ipfw${whole ? '?replace=1' : ''}`, { type: 'text/plain', text }), `picowire ${verb}`, o) ? 0 : 1;
    }
    case 'watch':
      return watch(base, opts, o);
    default:
      throw new RemoteUsage(`unknown remote command "${verb}"; allowed: status, apply, ipfw, dnctl, watch`);
  }
}

/** Prints the box's counters as they come (and each change of its profile), until stopped or `count` counter events. */
async function watch(base: URL, opts: RemoteOptions, o: { out: (l: string) => void; err: (l: string) => void }): Promise<number> {
  const res = await open(base, opts.token, '/api/v1/events', { headers: { accept: 'text/event-stream' } });
  if (res.status !== 200 || !res.body) throw new RemoteUsage(`the box answered HTTP ${res.status} for its events`);
  const decoder = new TextDecoder();
  let buffer = '';
  let counters = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(message)?.[1];
      const data = /^data: (.*)$/m.exec(message)?.[1];
      if (!event || data === undefined) continue;
      if (event === 'counters') {
        o.out(opts.json ? data : `-- ${new Date().toISOString()}\n${formatStatus(JSON.parse(data) as Status)}`);
        if (opts.count !== undefined && ++counters >= opts.count) return 0;
      } else o.out(opts.json ? data : `-- ${event}: ${data}`);
    }
  }
  throw new RemoteUsage(`the box at ${base.origin} closed its event stream`);
}
