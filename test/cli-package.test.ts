// The picowire command exactly as the README tells a user to run it: `npx picowire` in a clone, and
// the package made by `npm pack` and installed with `npm install -g` (into a prefix of the test's
// own, so the machine's global packages are left alone). Compiled JavaScript, no tsx at run time.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { IMAGES, REPO, testNeeding } from './helpers/env.ts';

const version = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const work = await mkdtemp(join(tmpdir(), 'picowire-package-'));
const prefix = join(work, 'prefix');
const installed = join(prefix, 'bin/picowire');

// npm pack compiles the CLI (prepack); npm install -g takes the tarball and its dependencies only
test.before(async () => {
  await execa('npm', ['pack', '--pack-destination', work], { cwd: REPO });
  const tarball = join(work, `picowire-${version}.tgz`);
  await execa('npm', ['install', '-g', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: work, env: { npm_config_prefix: prefix } });
});

test.serial('npx picowire in the clone runs the command', async (t) => {
  const r = await execa('npx', ['picowire', '--version'], { cwd: REPO, reject: false, stdin: 'ignore' });
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout.trim(), version);
});

test.serial('the installed command is compiled JavaScript and its package carries no tsx', async (t) => {
  t.true(existsSync(installed));
  const pkg = join(prefix, 'lib/node_modules/picowire');
  t.true(existsSync(join(pkg, 'dist/picowire.js')));
  t.false(existsSync(join(pkg, 'node_modules/tsx')), 'tsx is a development dependency only');
  t.false(existsSync(join(prefix, 'lib/node_modules/tsx')));
});

test.serial('the installed command shows its help, converts ipfw commands and checks profiles, with the documented exit codes', async (t) => {
  const help = await execa(installed, ['--help'], { reject: false, cwd: work });
  t.is(help.exitCode, 0, help.stderr);
  t.regex(help.stdout, /^Usage: picowire /m);

  const ipfw = await execa(installed, ['ipfw', 'pipe 1 config bw 4Mbit/s delay 5ms'], { reject: false, cwd: work });
  t.is(ipfw.exitCode, 0, ipfw.stderr);
  t.deepEqual((JSON.parse(ipfw.stdout) as { pipes: unknown }).pipes, { '1': { bw: '4Mbit/s', delay: '5ms' } });

  const bad = join(work, 'bad.json');
  await writeFile(bad, JSON.stringify({ name: 'bad', pipes: { p: { bw: 'fast' } }, rules: [] }));
  const refused = await execa(installed, ['profile', 'check', bad], { reject: false, cwd: work });
  t.is(refused.exitCode, 1);
  t.regex(refused.stderr, /profile\.pipes\.p\.bw: "fast"/);

  const usage = await execa(installed, ['profile', 'frob'], { reject: false, cwd: work });
  t.is(usage.exitCode, 2);
});

testNeeding(['image'], 'the installed command builds the default image, byte for byte the one make built', async (t) => {
  // the epoch the images were built with (the last commit's time then, which a later commit moves)
  const epoch = String((JSON.parse(await readFile(join(IMAGES, 'default.manifest.json'), 'utf8')) as { sourceDateEpoch: number }).sourceDateEpoch);
  const out = join(work, 'images');
  const r = await execa(installed, ['build', '--out', out], { reject: false, cwd: work, env: { SOURCE_DATE_EPOCH: epoch } });
  t.is(r.exitCode, 0, r.stderr);
  const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');
  t.is(await sha256(join(out, 'default.iso')), await sha256(join(IMAGES, 'default.iso')));
});
