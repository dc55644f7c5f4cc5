// `picowire embed --show`: what an image carries, one setting a line, secrets never printed.
import { X509Certificate } from 'node:crypto';
import { validateProfile } from '../profile/validate.ts';
import type { Carried } from './index.ts';
import { fingerprint, parseKeyLine } from './settings.ts';

/** One file's description: what a user needs to recognise it. */
function describe(name: string, data: Buffer): string[] {
  const text = data.toString('utf8');
  if (name === 'token') return [`token: set (${text.trim().length} characters; not shown)`];
  if (name === 'tls_key') return ['tls_key: set (not shown)'];
  if (name === 'tls_cert') return [`tls_cert: ${certLine(text)}`];
  if (name === 'profile_url') return [`profile_url: ${text.trim()}`];
  if (name === 'authorized_keys') {
    const keys = text.split('\n').filter((l) => l.trim() && !l.trimStart().startsWith('#'));
    return [`authorized_keys: ${keys.length} key${keys.length === 1 ? '' : 's'}`, ...keys.map((l) => {
      const k = parseKeyLine(l);
      return 'error' in k ? `  a line that ${k.error}` : `  ${k.type} ${fingerprint(k.blob)}${k.comment ? ` ${k.comment}` : ''}`;
    })];
  }
  if (name === 'profile.json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return [`profile.json: not valid JSON (${data.length} bytes); the box would refuse it`];
    }
    const checked = validateProfile(value);
    if (!checked.ok) return [`profile.json: an invalid profile (${checked.errors.length} errors, the first: ${checked.errors[0]}); the box would refuse it`];
    const p = checked.value;
    return [`profile.json: profile ${p.name} (${Object.keys(p.pipes).length} pipes, ${p.rules.length} rules, ${data.length} bytes)`];
  }
  return [`${name}: ${data.length} bytes`];
}

/** A certificate as a person recognises it: subject and expiry. */
function certLine(pem: string): string {
  try {
    const x = new X509Certificate(pem);
    return `${x.subject.replace(/\n/g, ', ')}, valid until ${x.validTo}`;
  } catch {
    return 'not a PEM certificate; the box would refuse it';
  }
}

/** The lines `embed --show` prints for an image. */
export function showCarried(image: string, c: Carried): string {
  const where = c.kind === 'pxe' || c.kind === 'initrd' ? 'settings appended to its initrd' : 'its PICOWIRE partition';
  const lines = c.files.flatMap((f) => describe(f.path.replace(/^\//, ''), f.data));
  if (!lines.length) lines.push(c.kind === 'pxe' || c.kind === 'initrd' ? 'nothing embedded: the profile built into the image applies' : 'nothing: the partition is empty');
  return [`${image} (${c.kind}), ${where}:`, ...lines.map((l) => `  ${l}`)].join('\n');
}
