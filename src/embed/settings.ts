// The settings that travel with a box, as files: one name each, used alike at the root of the
// PICOWIRE partition, under opt/picowire/ in QEMU's fw_cfg and under /etc/picowire/ in an image.
// Everything here is checked before an image is touched; each check names the setting, the value
// and what is allowed.
import { createHash } from 'node:crypto';
import { UserError } from '../common/errors.ts';
import { TLS_CERT, TLS_KEY, tlsProblem } from '../common/tls.ts';
import { TOKEN_ALLOWED, TOKEN_PATTERN } from '../common/token.ts';
import { parseProfileUrl } from '../agent/fleet.ts';
import { parseIpfw } from '../ipfw/index.ts';
import { validateProfile } from '../profile/validate.ts';

export const SETTING_FILES = ['profile.json', 'token', 'authorized_keys', 'profile_url', TLS_CERT, TLS_KEY] as const;
export type SettingFile = (typeof SETTING_FILES)[number];

/** One file to put into an image: its name there and its bytes. */
export interface Setting {
  name: SettingFile;
  data: Buffer;
}

/** What the user asked to embed, as read from the command line (file contents already read). */
export interface Wanted {
  profile?: { file: string; text: string };
  ipfw?: { file: string; text: string };
  authorizedKeys?: { file: string; text: string };
  token?: { from: string; text: string };
  profileUrl?: string;
  /** HTTPS for the API: both or neither */
  tls?: { cert?: { file: string; text: string }; key?: { file: string; text: string } };
}

const TOKEN = new RegExp(TOKEN_PATTERN);
const KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];

/** Checks everything wanted; returns the files to write, or throws one UserError listing every problem. */
export async function settingsFrom(wanted: Wanted): Promise<Setting[]> {
  const errors: string[] = [];
  const out: Setting[] = [];
  const keep = (name: SettingFile, text: string) => out.push({ name, data: Buffer.from(text.endsWith('\n') ? text : text + '\n') });

  if (wanted.profile && wanted.ipfw) errors.push('--profile and --ipfw both give the profile; give one');
  if (wanted.profile) {
    const problems = profileProblems(wanted.profile.text, wanted.profile.file);
    if (problems.length) errors.push(...problems);
    else keep('profile.json', wanted.profile.text);
  }
  if (wanted.ipfw) {
    try {
      const profile = parseIpfw(wanted.ipfw.text, 'ipfw');
      const checked = validateProfile(profile);
      if (!checked.ok) errors.push(`${wanted.ipfw.file}: the ipfw commands make an invalid profile:`, ...checked.errors.map((e) => `  ${e}`));
      else keep('profile.json', JSON.stringify(profile, null, 2));
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      errors.push(`${wanted.ipfw.file}: ${e.message}`);
    }
  }
  if (wanted.token) {
    const token = wanted.token.text.trim();
    if (!TOKEN.test(token)) errors.push(`token (${wanted.token.from}): ${describeSecret(token)} is not a token; allowed: ${TOKEN_ALLOWED}`);
    else keep('token', token);
  }
  if (wanted.authorizedKeys) {
    const problems = keyProblems(wanted.authorizedKeys.text, wanted.authorizedKeys.file);
    if (problems.length) errors.push(...problems);
    else keep('authorized_keys', wanted.authorizedKeys.text);
  }
  if (wanted.profileUrl !== undefined) {
    // the box's own reading of the setting (agent/fleet.ts): what it would refuse is refused here
    const parsed = parseProfileUrl(wanted.profileUrl);
    if ('error' in parsed) errors.push(`--profile-url: ${parsed.error}`);
    else keep('profile_url', wanted.profileUrl);
  }
  if (wanted.tls) {
    const { cert, key } = wanted.tls;
    // the box's own check (common/tls.ts): a pair it would refuse is refused here
    const problem = !cert || !key ? `--tls-${cert ? 'key' : 'cert'} is missing: HTTPS needs the certificate and its key` : await tlsProblem(cert.text, key.text);
    if (problem) errors.push(problem);
    else {
      keep(TLS_CERT, cert!.text);
      keep(TLS_KEY, key!.text);
    }
  }
  if (errors.length) throw new UserError(`nothing was embedded:\n${errors.map((e) => `  ${e}`).join('\n')}`);
  return out;
}

/** Every error of a profile file's text, each naming the file. */
function profileProblems(text: string, file: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return [`${file}: not valid JSON: ${(e as Error).message}`];
  }
  const checked = validateProfile(value);
  return checked.ok ? [] : [`${file}: invalid profile:`, ...checked.errors.map((e) => `  ${e}`)];
}

/** A secret shown in an error without showing it: its length and first character class. */
function describeSecret(token: string): string {
  return token.length === 0 ? 'an empty value' : `a value of ${token.length} characters${/\s/.test(token) ? ' with white space' : ''}`;
}

/** One line of authorized_keys split into its key type, key blob and comment; options before them are kept aside. */
export function parseKeyLine(line: string): { type: string; blob: Buffer; comment: string } | { error: string } {
  const words = line.trim().split(/\s+/);
  const at = words.findIndex((w) => KEY_TYPES.includes(w));
  if (at === -1) {
    if (/PRIVATE KEY/.test(line)) return { error: 'is part of a private key; give the public key (the .pub file)' };
    return { error: `has no key type; allowed: ${KEY_TYPES.join(', ')}` };
  }
  const type = words[at]!;
  const b64 = words[at + 1] ?? '';
  const blob = Buffer.from(b64, 'base64');
  // the blob starts with its own key type as an SSH string: a copy-paste that lost characters fails here
  const inner = blob.length >= 4 ? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1') : '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || inner !== type) return { error: `has a ${type} key whose base64 is damaged or incomplete` };
  return { type, blob, comment: words.slice(at + 2).join(' ') };
}

/** Every bad line of an authorized_keys file, each naming the file and the line. */
export function keyProblems(text: string, file: string): string[] {
  const problems: string[] = [];
  let keys = 0;
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const parsed = parseKeyLine(line);
    if ('error' in parsed) problems.push(`${file}: line ${i + 1} ${parsed.error}`);
    else keys++;
  }
  if (!problems.length && keys === 0) problems.push(`${file}: holds no public key; an authorized_keys file has one key a line (ssh-ed25519 AAAA... comment)`);
  return problems;
}

/** The SSH fingerprint of a key blob, as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
