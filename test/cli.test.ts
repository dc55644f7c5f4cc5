// The picowire command on the build machine, run as a user would run it: the compiled CLI that
// `npx picowire` and the installed package run (bin/picowire.js → dist/picowire.js).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { picowire } from './helpers/cli.ts';

async function profileFile(value: unknown): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'picowire-cli-')), 'p.json');
  await writeFile(file, JSON.stringify(value));
  return file;
}

test('profile check lists every error of a bad profile and exits 1 without a stack', async (t) => {
  const file = await profileFile({ name: 'x', pipes: { u: { bw: '9 parsecs', plr: 3 } }, rules: [{ from: 'c', pipe: 'v' }] });
  const r = await picowire(['profile', 'check', file]);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /profile\.pipes\.u\.bw: "9 parsecs": unknown bandwidth unit "parsecs"/);
  t.regex(r.stderr, /profile\.pipes\.u\.plr: 3 must be <= 1/);
  t.regex(r.stderr, /profile\.rules\[0\]\.from: "c" is not allowed; allowed: "a", "b"/);
  t.regex(r.stderr, /profile\.rules\[0\]\.pipe: "v" is not a pipe of this profile/);
  t.notRegex(r.stderr, /at .*\.ts:\d+/);
});

test('profile plan prints the tc batch and the nft transaction the agent would run', async (t) => {
  const file = await profileFile({ name: 'asym', pipes: { up: { bw: '256Kbit/s', delay: '20ms' } }, rules: [{ from: 'a', pipe: 'up' }] });
  const r = await picowire(['profile', 'plan', file]);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /qdisc replace dev b parent 1:10 handle 10: netem rate 256000bit/);
  t.regex(r.stdout, /qdisc replace dev b parent 10:1 handle 4000: netem delay 20000us/);
  t.regex(r.stdout, /iifname "a" meta protocol \{ ip, ip6 \} counter name "rule100_0" meta priority set 1:10 accept/);
});

test('an unknown command or option names itself, points at --help and exits 2', async (t) => {
  const r = await picowire(['frobnicate']);
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /unknown command 'frobnicate'/);
  t.regex(r.stderr, /run with --help for usage/);
  const o = await picowire(['profile', 'check', '--frob', 'x.json']);
  t.is(o.exitCode, 2);
  t.regex(o.stderr, /unknown option '--frob'/);
  const missing = await picowire(['profile', 'check']);
  t.is(missing.exitCode, 2);
  t.regex(missing.stderr, /missing required argument 'file'/);
});

test('every command has --help, which says what it takes and exits 0', async (t) => {
  const top = await picowire(['--help']);
  t.is(top.exitCode, 0);
  const commands = [...top.stdout.matchAll(/^  ([a-z-]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  t.deepEqual(commands, ['build', 'lock', 'host-tools', 'profile', 'ipfw', 'embed', 'flash', 'remote']);
  t.regex(top.stdout, /Exit status: 0 done, 1 refused or failed .*, 2 usage/);
  for (const command of [...commands, 'profile check', 'profile plan']) {
    const r = await picowire([...command.split(' '), '--help']);
    t.is(r.exitCode, 0, command);
    t.regex(r.stdout, new RegExp(`^Usage: picowire ${command} `, 'm'), command);
  }
});

test('a file that cannot be read is named, with exit 1', async (t) => {
  const r = await picowire(['profile', 'check', '/nonexistent/p.json']);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /^picowire: \/nonexistent\/p\.json: ENOENT/);
});

test('ipfw turns the seed\'s asymmetric link, read from stdin, into a JSON profile, and back', async (t) => {
  const seed = 'ipfw pipe 10 config bw 256 Kbit/s delay 20ms\nipfw pipe 11 config bw 4 Mbit/s delay 5ms\nipfw add 100 pipe 10 out dst-port 2000-3000 ipfw add 200 pipe 11 in src-port 2000-3000\nipfw add 300 allow ip from any to any\n';
  const r = await picowire(['ipfw', '-', '--name', 'asym'], { input: seed });
  t.is(r.exitCode, 0, r.stderr);
  const profile = JSON.parse(r.stdout) as { name: string; pipes: Record<string, unknown>; rules: unknown[] };
  t.is(profile.name, 'asym');
  t.deepEqual(profile.pipes, { '10': { bw: '256Kbit/s', delay: '20ms' }, '11': { bw: '4Mbit/s', delay: '5ms' } });
  t.deepEqual(profile.rules[0], { number: 100, action: 'pipe', pipe: '10', from: 'a', dstPort: '2000-3000' });
  const back = await picowire(['ipfw', '--from-json', await profileFile(profile)]);
  t.is(back.exitCode, 0, back.stderr);
  t.regex(back.stdout, /^ipfw pipe 10 config bw 256Kbit\/s delay 20ms$/m);
  t.regex(back.stdout, /^ipfw add 200 pipe 11 ip from any to any src-port 2000-3000 in$/m);
});

test('ipfw with a bad command names the line, the word and what is allowed, and exits 1', async (t) => {
  const r = await picowire(['ipfw', 'pipe', '1', 'config', 'bw', 'fast']);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /line 1: pipe 1 config bw fast: "fast" is not a bandwidth; allowed: /);
});
