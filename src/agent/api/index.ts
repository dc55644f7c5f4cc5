// The HTTP API, started once the agent is ready: its token (token.ts), then a server on each address
// of the management NICs as DHCP gives them (listen.ts), HTTPS when the box has a certificate
// (tls.ts). Without a management NIC there is no API.
import type { Changes } from '../changes.ts';
import type { Runner } from '../exec.ts';
import { boxOf } from './box.ts';
import { followManagementAddresses, HTTPS_PORT, type Listening } from './listen.ts';
import { createApi } from './server.ts';
import { findTls } from './tls.ts';
import { apiToken } from './token.ts';

interface Context {
  root: string;
  run: Runner;
  say: (line: string) => void;
  warn: (line: string) => void;
}

/** Serves the API over the agent's queue of changes on the management NICs; undefined (and the console says why) when it cannot. */
export async function startApi(ctx: Context, changes: Changes, managementNics: string[]): Promise<Listening | undefined> {
  if (managementNics.length === 0) {
    ctx.say('no management NIC (a third NIC), so no HTTP API');
    return undefined;
  }
  const token = await apiToken(ctx);
  if ('error' in token) {
    ctx.say(`no HTTP API: ${token.error}`);
    return undefined;
  }
  const tls = await findTls(ctx);
  if (tls && 'error' in tls) {
    ctx.say(`no HTTP API: ${tls.error}`);
    return undefined;
  }
  const api = await createApi(boxOf(changes, ctx), token.token, {}, tls);
  const listening = followManagementAddresses({ nics: managementNics, server: api.server, say: ctx.say, ...(tls && { port: HTTPS_PORT, scheme: 'https' }) });
  await listening.look();
  // with HTTPS, port 80 only says where the API is
  if (api.redirect) await followManagementAddresses({ nics: managementNics, server: api.redirect, say: () => undefined }).look();
  return listening;
}
