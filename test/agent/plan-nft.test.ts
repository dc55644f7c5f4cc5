// A profile that `picowire profile check` accepts must apply: every nft script the planner writes
// is run through nft in check mode (-c: parsed, linearized and validated by the kernel, nothing
// committed), in a network namespace of the test's own with ports a and b. The host's nft is the
// image's Debian package (bookworm's 1.0.6): it aborted with an assertion on five-field mask keys
// (issue 19), which no unit test of the plan's text could see. Generated profiles (the fuzzer's),
// the seed's examples and FreeBSD's weighted-queue example.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import fc from 'fast-check';
import { plan } from '../../src/agent/plan.ts';
import { parseIpfw } from '../../src/ipfw/index.ts';
import { validateProfile } from '../../src/profile/validate.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { profileArb } from '../fuzz/profile-arbs.ts';
import { REPO, testNeeding } from '../helpers/env.ts';
import { SEED_2_2, SEED_2_3 } from '../helpers/seed.ts';

const NFT = '/usr/sbin/nft';
const NETNS = `pwnftcheck-${process.pid}`;
/** Generated profiles checked: each nft -c takes about 20 ms. */
const GENERATED = 400;

const WEIGHTED = `ipfw pipe 1 config bw 1MByte/s
ipfw sched 1 config type wf2q+
ipfw queue 100 config sched 1 weight 99 mask all
ipfw queue 200 config sched 1 weight 1 mask all
ipfw add 100 queue 100 tcp from 198.18.0.1 to any out
ipfw add 200 queue 200 icmp from 198.18.0.1 to any out`;

/** nft -c on one script in the test's namespace; the error text when nft refuses or aborts. */
async function nftRefuses(script: string): Promise<string | undefined> {
  const r = await execa('ip', ['netns', 'exec', NETNS, NFT, '-c', '-f', '-'], { input: script, reject: false });
  return r.exitCode === 0 ? undefined : `exit ${r.exitCode ?? r.signal}: ${r.stderr.trim()}`;
}

/** The profiles to check: the named examples, then generated ones that validate. */
function profiles(): [string, Profile][] {
  const named: [string, Profile][] = [
    ['seed 2.2', parseIpfw(SEED_2_2, 'seed-2-2')],
    ['seed 2.3', parseIpfw(SEED_2_3, 'seed-2-3')],
    ["FreeBSD's weighted queues with mask all", parseIpfw(WEIGHTED, 'weighted')],
  ];
  const generated = fc.sample(profileArb, { seed: 20261207, numRuns: GENERATED * 3 }).flatMap((value, i) => {
    const checked = validateProfile(value);
    return checked.ok ? [[`generated #${i}`, checked.value] as [string, Profile]] : [];
  });
  return [...named, ...generated.slice(0, GENERATED)];
}

const unmetNft = existsSync(NFT) ? undefined : `${NFT} is not installed (apt-get install nftables; make host-tools does)`;

testNeeding(['root'], "every plan's nft script passes the image's nft in check mode: generated profiles, the seed's examples and FreeBSD's weighted queues", async (t) => {
  if (unmetNft) return t.fail(unmetNft);
  const lock = JSON.parse(await readFile(join(REPO, 'recipes/default.lock.json'), 'utf8')) as { packages?: { name: string; version: string }[] };
  const pinned = lock.packages?.find((p) => p.name === 'nftables')?.version;
  const host = (await execa('dpkg-query', ['-W', '-f', '${Version}', 'nftables'], { reject: false })).stdout;
  t.log(`nft on this host: ${host || 'unknown'}; in the image: ${pinned ?? 'unknown'}${host === pinned ? ' (the same)' : ' (they differ: the check is only as good as the host\'s)'}`);
  await execa('ip', ['netns', 'add', NETNS]);
  t.teardown(() => execa('ip', ['netns', 'del', NETNS], { reject: false }).then(() => undefined));
  // the netdev table's chains hook ports a and b: they must exist (a veth pair: this kernel has no dummy)
  await execa('ip', ['netns', 'exec', NETNS, 'ip', 'link', 'add', 'name', 'a', 'type', 'veth', 'peer', 'name', 'b']);

  const all = profiles();
  t.true(all.length > GENERATED / 2, `${all.length} profiles to check`);
  const refused: string[] = [];
  for (const [name, profile] of all) {
    const why = await nftRefuses(plan(profile, { qdiscs: [] }).nft);
    if (why) refused.push(`${name} (${JSON.stringify(profile).slice(0, 300)}): ${why.slice(0, 400)}`);
  }
  t.log(`${all.length} plans checked`);
  t.deepEqual(refused, []);
});
