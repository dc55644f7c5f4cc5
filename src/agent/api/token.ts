// The API's bearer token. Like a profile, it comes from the first source that has one:
//   1. the kernel command line, picowire.token=<token>
//   2. QEMU fw_cfg, opt/picowire/token
//   3. `token` at the root of the FAT partition labelled PICOWIRE
//   4. /etc/picowire/token, baked into the image (recipe field `token`) or a PXE initrd
// With none given, the box makes one (once per boot: a respawned agent finds it in /run), prints it
// on the consoles and keeps it on the PICOWIRE partition when that is writable, so the next boot
// finds it there. A token that breaks the rules is refused with the reason, and no API is served:
// the user meant that token, and another would lock them out without telling them why.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TOKEN_ALLOWED, TOKEN_PATTERN } from '../../common/token.ts';
import { CONFIG_LABEL, FILES } from '../paths.ts';
import { findSetting } from '../settings.ts';
import { onConfigPartition, readText, type Context } from '../sources.ts';

/** The one file name of this setting: on the partition, under opt/picowire/ in fw_cfg and in /etc/picowire/. */
export const TOKEN_FILE = 'token';
const VALID = new RegExp(TOKEN_PATTERN);

export type TokenFound = { source: string; token: string } | { source: string; error: string };

/** The given token (or the one made earlier this boot), checked; undefined when there is none. */
export async function findToken(ctx: Context): Promise<TokenFound | undefined> {
  const given = await findSetting(ctx, TOKEN_FILE);
  if (given) return checkToken(given.source, given.text);
  const made = await readText(join(ctx.root, FILES.madeToken));
  return made === undefined ? undefined : checkToken('made by this box at boot', made);
}

/** A token as a source gave it (surrounding white space, as editors leave a newline, removed), or why it cannot be one. */
export function checkToken(source: string, text: string): TokenFound {
  const token = text.trim();
  if (VALID.test(token)) return { source, token };
  const shown = token.length > 24 ? `${JSON.stringify(token.slice(0, 24))}… (${token.length} characters)` : JSON.stringify(token);
  return { source, error: `${source}: token ${shown} is not allowed; allowed: ${TOKEN_ALLOWED}` };
}

/** Makes a token (256 random bits, base64url: 43 characters) and keeps it for this boot, and on the partition when it is writable; says where it went. */
export async function makeToken(ctx: Context): Promise<{ token: string; kept: string }> {
  const { randomBytes } = await import('node:crypto'); // loaded only when needed, after the agent is ready (see server.ts)
  const token = randomBytes(32).toString('base64url');
  const run = join(ctx.root, FILES.madeToken);
  await mkdir(dirname(run), { recursive: true });
  await writeFile(run, `${token}\n`, { mode: 0o600 });
  const saved = await onConfigPartition(ctx, 'rw', async (dir, device) => {
    await writeFile(join(dir, TOKEN_FILE), `${token}\n`);
    return device;
  }).catch((e: unknown) => {
    ctx.warn(`cannot write ${TOKEN_FILE} to the ${CONFIG_LABEL} partition: ${(e as Error).message}`);
    return undefined;
  });
  const kept = saved ? `saved as ${TOKEN_FILE} on the ${CONFIG_LABEL} partition (${saved})` : `not saved (no writable ${CONFIG_LABEL} partition): a new one is made at the next boot`;
  return { token, kept };
}

/** The token the API serves with: the given one, or one made now and printed; an error when the given one is refused. */
export async function apiToken(ctx: Context & { say: (line: string) => void }): Promise<{ token: string } | { error: string }> {
  const found = await findToken(ctx);
  if (found && 'error' in found) return { error: found.error };
  if (found) return { token: found.token };
  const { token, kept } = await makeToken(ctx);
  ctx.say(`API token (none was given, so this box made one; ${kept}): ${token}`);
  return { token };
}
