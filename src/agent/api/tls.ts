// HTTPS for the API: given a certificate and its key (settings tls_cert and tls_key, PEM, from the
// places every setting comes from: settings.ts), the API is served on port 443, and port 80 only
// redirects there, so the token never crosses the network in the clear from a client that follows.
// Only one of the two given, or a pair that does not match, is refused with the reason, and no API
// is served: the user asked for HTTPS, and plain HTTP instead would expose the token unasked.
import { TLS_CERT, TLS_KEY, tlsProblem } from '../../common/tls.ts';
import { findSetting } from '../settings.ts';
import type { Context } from '../sources.ts';

export type TlsFound = { cert: string; key: string; source: string } | { error: string };

/** The certificate and key to serve HTTPS with; undefined when neither is given. */
export async function findTls(ctx: Context): Promise<TlsFound | undefined> {
  const [cert, key] = await Promise.all([findSetting(ctx, TLS_CERT), findSetting(ctx, TLS_KEY)]);
  if (!cert && !key) return undefined;
  if (!cert || !key) return { error: `${cert ? `${TLS_CERT} (${cert.source})` : `${TLS_KEY} (${key!.source})`} is given without ${cert ? TLS_KEY : TLS_CERT}; HTTPS needs both` };
  const problem = await tlsProblem(cert.text, key.text);
  return problem ? { error: `${problem} (${cert.source}, ${key.source})` } : { cert: cert.text, key: key.text, source: cert.source };
}
