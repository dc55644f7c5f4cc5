// Where the API listens: port 80 of the management NICs' own addresses, and nowhere else: never a
// wildcard address, which would answer on any address the box ever has, and never a bridge port,
// which has none. The addresses come from DHCP (busybox udhcpc, overlays/rootfs) whenever a lease
// comes or changes, so they are looked at every second: a new address gets a server, one that went
// away loses its own. A link-local IPv6 address is served on its NIC only (its scope).
import type { Server } from 'node:http';
import type { NetworkInterfaceInfo } from 'node:os';

export const API_PORT = 80;
export const HTTPS_PORT = 443;

export interface Listening {
  /** one look at the addresses, as the timer makes (for tests) */
  look(): Promise<void>;
  /** what is served now, as URLs */
  urls(): string[];
  /** stops looking and closes every server */
  stop(): Promise<void>;
}

interface Options {
  nics: string[];
  server: () => Server;
  say: (line: string) => void;
  port?: number;
  /** how the URLs it says are written */
  scheme?: 'http' | 'https';
  everyMs?: number;
  /** the seam for tests: the addresses by NIC, as os.networkInterfaces() gives them */
  addresses?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
}

/** Serves on the management NICs' addresses as they come and go. */
export function followManagementAddresses(opts: Options): Listening {
  const { nics, port = API_PORT, everyMs = 1000 } = opts;
  const open = new Map<string, Server>(); // by host, as listen() takes it
  const warned = new Set<string>();
  // one look: servers for new addresses, none for those gone
  const look = async () => {
    // node:os is loaded when the API starts, not before the agent's main() (see server.ts)
    const wanted = managementHosts(nics, (opts.addresses ?? (await import('node:os')).networkInterfaces)());
    for (const [host, server] of open) {
      if (wanted.has(host)) continue;
      open.delete(host);
      server.close();
      server.closeAllConnections();
      opts.say(`API no longer on ${url(host, port, opts.scheme)}: the address went away`);
    }
    await Promise.all(
      [...wanted].filter(([host]) => !open.has(host)).map(async ([host, nic]) => {
        const server = opts.server();
        open.set(host, server);
        try {
          await new Promise<void>((done, fail) => server.once('error', fail).listen({ host, port }, done));
          // an error later (say, out of file descriptors) is said, not thrown: it would end the agent
          server.on('error', (e) => opts.say(`warning: API on ${url(host, port, opts.scheme)}: ${e.message}`));
          opts.say(`API on ${url(host, port, opts.scheme)} (management NIC ${nic})`);
        } catch (e) {
          open.delete(host); // tried again at the next look: a fresh IPv6 address cannot be bound until its duplicate check is done
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'EADDRNOTAVAIL' && !warned.has(host)) opts.say(`warning: cannot serve the API on ${url(host, port, opts.scheme)}: ${(e as Error).message}`);
          warned.add(host);
        }
      }),
    );
  };
  let busy: Promise<void> | undefined;
  const once = () => (busy ??= look().finally(() => (busy = undefined)));
  const timer = setInterval(() => void once(), everyMs);
  return {
    look: once,
    urls: () => [...open.keys()].map((host) => url(host, port, opts.scheme)),
    async stop() {
      clearInterval(timer);
      await busy;
      for (const server of open.values()) {
        server.close();
        server.closeAllConnections();
      }
      open.clear();
    },
  };
}

/** The management NICs' addresses as listen() takes them (a link-local IPv6 one with its NIC), each with its NIC. */
export function managementHosts(nics: string[], all: NodeJS.Dict<NetworkInterfaceInfo[]>): Map<string, string> {
  const wanted = new Map<string, string>(); // host → its NIC
  for (const nic of nics) for (const a of all[nic] ?? []) wanted.set(a.family === 'IPv6' && a.scopeid ? `${a.address}%${nic}` : a.address, nic);
  return wanted;
}

/** How a person writes the address of a server. */
function url(host: string, port: number, scheme: 'http' | 'https' = 'http'): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${h}${port === (scheme === 'https' ? 443 : 80) ? '' : `:${port}`}/`;
}
