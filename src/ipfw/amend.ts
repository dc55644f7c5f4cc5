// ipfw commands that amend the profile in force, as `ipfw pipe 1 config ...` amends a FreeBSD box's
// configuration: the profile is written as ipfw text, the new commands follow it, and the whole is
// read back. Used by `picowire ipfw CMD` on the appliance and by the API's POST /api/v1/ipfw.
import type { Profile } from '../profile/schema.ts';
import { formatIpfw } from './format.ts';
import { parseIpfw, type ParseOptions } from './parse.ts';

/** The profile in force has settings ipfw has no words for: amending it in ipfw would lose them. */
export class Inexpressible extends Error {}

/** The profile `commands` make of the profile in force (none: they start from nothing, named "ipfw"); a parse error throws as parseIpfw's does. */
export function amendProfile(inForce: Profile | null, commands: string, opts: ParseOptions = {}): Profile {
  if (!inForce) return parseIpfw(`${commands}\n`, 'ipfw', opts);
  const base = formatIpfw(inForce);
  const lost = base.split('\n').filter((l) => l.includes('not expressible in ipfw'));
  if (lost.length) throw new Inexpressible(`the profile in force has settings ipfw cannot express (${lost.map((l) => l.replace(/^# picowire: /, '')).join('; ')}); change it with picowire apply`);
  return parseIpfw(`${base}\n${commands}\n`, inForce.name, opts);
}
