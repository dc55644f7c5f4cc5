// A TLS certificate and its private key (PEM), as the API serves HTTPS with them: checked alike by
// `picowire embed` before it writes them into an image and by the agent before it serves them.
// node:crypto is loaded when asked, not with the agent's bundle (see agent/api/server.ts).

/** The setting names (one each: partition file, fw_cfg opt/picowire/<name>, /etc/picowire/<name>). */
export const TLS_CERT = 'tls_cert';
export const TLS_KEY = 'tls_key';

/** Why a certificate and key cannot serve HTTPS, or undefined when they can. */
export async function tlsProblem(cert: string, key: string): Promise<string | undefined> {
  const { X509Certificate, createPrivateKey } = await import('node:crypto');
  let x509: InstanceType<typeof X509Certificate>;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    return `${TLS_CERT} is not a PEM certificate (${(e as Error).message}); allowed: "-----BEGIN CERTIFICATE-----" ...`;
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    return `${TLS_KEY} is not an unencrypted PEM private key (${(e as Error).message}); allowed: "-----BEGIN PRIVATE KEY-----" ... without a passphrase`;
  }
  if (!x509.checkPrivateKey(privateKey)) return `${TLS_KEY} is not the key of ${TLS_CERT} (${x509.subject.replace(/\n/g, ', ')})`;
  if (Date.parse(x509.validTo) < Date.now()) return `${TLS_CERT} expired on ${x509.validTo}`;
  return undefined;
}
