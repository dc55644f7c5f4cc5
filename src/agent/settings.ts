// The settings that travel with a box (token, authorized_keys, profile_url), each read from the
// first place that has it, as profiles are: the kernel command line (picowire.<name>=...), QEMU's
// fw_cfg (opt/picowire/<name>), the file <name> at the root of the PICOWIRE partition, and
// /etc/picowire/<name> (baked in by a recipe, or appended to a PXE initrd by `picowire embed`).
import { join } from 'node:path';
import { CONFIG_LABEL, FILES } from './paths.ts';
import { readConfigFile, readText, type Context } from './sources.ts';

/** A setting's text and where it came from, for messages. */
export interface SettingFound {
  source: string;
  text: string;
}

/** The first source's text of the setting `name`; undefined when none has it. */
export async function findSetting(ctx: Context, name: string): Promise<SettingFound | undefined> {
  const arg = `picowire.${name}=`;
  // words as the kernel splits them: white space inside double quotes stays (an SSH key's "ssh-ed25519 AAAA... me")
  const word = (await readText(join(ctx.root, FILES.cmdline)))?.match(/(?:[^\s"]+|"[^"]*")+/g)?.find((w) => w.startsWith(arg));
  if (word !== undefined) return { source: `kernel command line (${arg})`, text: word.slice(arg.length).replace(/^"|"$/g, '') };
  const fwCfg = await readText(join(ctx.root, FILES.fwCfgDir, name, 'raw'));
  if (fwCfg !== undefined) return { source: `QEMU fw_cfg opt/picowire/${name}`, text: fwCfg };
  const partition = await readConfigFile(ctx, name);
  if (partition) return { source: `${name} on the ${CONFIG_LABEL} partition (${partition.device})`, text: partition.text };
  const baked = await readText(join(ctx.root, FILES.settings, name));
  if (baked !== undefined) return { source: `/${FILES.settings}/${name}`, text: baked };
  return undefined;
}
