// Self-signed certificates for the HTTPS tests, made by openssl (the host's) in a scratch folder:
// for 127.0.0.1, where the tests reach the API (directly, or through QEMU's forward).
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

/** A certificate for 127.0.0.1 and its key, PEM, and a second key that is not its own. */
export async function selfSigned(): Promise<{ cert: string; key: string; otherKey: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'picowire-tls-'));
  const [cert, key, other] = ['cert.pem', 'key.pem', 'other.pem'].map((f) => join(dir, f));
  await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key!, '-out', cert!, '-days', '2', '-subj', '/CN=picowire-test', '-addext', 'subjectAltName=IP:127.0.0.1']);
  await execa('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', other!]);
  return { cert: await readFile(cert!, 'utf8'), key: await readFile(key!, 'utf8'), otherKey: await readFile(other!, 'utf8') };
}
