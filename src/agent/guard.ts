// The bridge ports reach nothing on the box itself: they carry no address, and the box must not
// answer from them for an address it has elsewhere (the management NIC's). Linux answers ARP for any
// of its addresses on any interface, and takes a packet for any of them on any interface, unless
// told otherwise: so ARP answers only for an address of the interface asked on (arp_ignore 1) and
// only where the answer would be routed out (arp_filter 1), and a bridge-family input chain drops
// every frame the bridge would hand up to the box (a host that guesses the bridge's MAC included).
// Bridged traffic takes the forward hook and is not touched.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { firstLines, type Batcher } from './exec.ts';
import { FILES } from './paths.ts';

export const NFT_GUARD_TABLE = 'bridge picowire_guard';

/** The nft script: one table of its own, left alone by the profiles' transactions; loading it again changes nothing. The counter shows what was stopped. */
export const GUARD_NFT = `table ${NFT_GUARD_TABLE} {\n\tchain input { type filter hook input priority 0; policy drop; }\n}\nflush chain ${NFT_GUARD_TABLE} input\nadd rule ${NFT_GUARD_TABLE} input counter drop\n`;

/** ARP settings for every interface (`all` counts with each interface's own: the larger arp_ignore, either arp_filter). */
const ARP_SYSCTLS: [string, string][] = [
  ['proc/sys/net/ipv4/conf/all/arp_ignore', '1'],
  ['proc/sys/net/ipv4/conf/all/arp_filter', '1'],
  // ARP requests the box sends name the sender address of the interface they leave on, never another's
  ['proc/sys/net/ipv4/conf/all/arp_announce', '2'],
];

/** Closes the box to its bridge ports; a string says what could not be done. */
export async function guardBridge(ctx: { root: string; batch: Batcher }): Promise<string | undefined> {
  const problems: string[] = [];
  for (const [path, value] of ARP_SYSCTLS) {
    // a root standing in for / (tests) has no /proc/sys: nothing there to set
    if (existsSync(join(ctx.root, 'proc/sys'))) await writeFile(join(ctx.root, path), value).catch((e: Error) => problems.push(`/${path}: ${e.message}`));
  }
  const file = join(ctx.root, FILES.run, 'guard.nft');
  try {
    await mkdir(join(ctx.root, FILES.run), { recursive: true });
    await writeFile(file, GUARD_NFT);
    const r = await ctx.batch('nft', file);
    if (r.code !== 0) problems.push(`nft: ${firstLines(r.stderr)}`);
  } catch (e) {
    problems.push(`${file}: ${(e as Error).message}`);
  }
  return problems.length ? problems.join('; ') : undefined;
}
