// The picowire command on a user's machine: build images, check and convert profiles, refresh pins,
// check the host. Run from a clone (`npx picowire`, after `make`) or installed from the package
// (`npm install -g picowire-*.tgz`); both run this file compiled to dist/picowire.js.
//
// Exit status, the same as the appliance's own picowire command: 0 done; 1 refused or failed (an
// invalid profile, recipe or ipfw command, a missing tool, a failed step: the message says which);
// 2 usage (an unknown command or option, a missing argument).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { execaSync } from 'execa';
import type { Toolset } from './builder/hosttools.ts';
import { log } from './builder/log.ts';
import { envEpoch } from './common/epoch.ts';
import { UserError } from './common/errors.ts';
import { PACKAGE_ROOT, VERSION } from './common/root.ts';
import { plan } from './agent/plan.ts';
import { readInput, readProfile } from './profile/read.ts';
import { validateProfile } from './profile/validate.ts';
import { formatIpfw, parseIpfw } from './ipfw/index.ts';
import { carried, embed } from './embed/index.ts';
import { settingsFrom, type Wanted } from './embed/settings.ts';
import { showCarried } from './embed/show.ts';
import { flash } from './flash/index.ts';

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** The command was called wrongly (or, for remote, could not reach the box): exit 2, like commander's own usage errors. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly hint = true,
  ) {
    super(message);
  }
}

const DEFAULT_RECIPE = join(PACKAGE_ROOT, 'recipes/default.ts');

/** SOURCE_DATE_EPOCH, or the time of the last commit, so two builds of one checkout agree. */
function sourceDateEpoch(): number {
  const env = envEpoch();
  if (env !== undefined) return env;
  try {
    return Number(execaSync('git', ['log', '-1', '--format=%ct'], { cwd: PACKAGE_ROOT }).stdout.trim());
  } catch {
    return 1_700_000_000; // not a git checkout (an installed package): any fixed value keeps builds reproducible
  }
}

const cacheDir = () => process.env.PICOWIRE_CACHE ?? join(homedir(), '.cache', 'picowire');

/** `ipfw`: ipfw text (a file, stdin, or one command as arguments) → a checked JSON profile. */
function ipfwToProfile(args: string[], name: string): void {
  // one argument that is a file or "-": read it; otherwise the arguments are one command
  const text = args.length === 0 || (args.length === 1 && (args[0] === '-' || existsSync(args[0]!))) ? readInput(args[0] ?? '-') : args.join(' ');
  const profile = parseIpfw(text, name);
  const checked = validateProfile(profile);
  if (!checked.ok) throw new UserError(`the ipfw commands make an invalid profile:\n${checked.errors.map((e) => `  ${e}`).join('\n')}`);
  console.log(JSON.stringify(profile, null, 2));
}

/** The settings options `embed` and `flash` share, as commander gives them. */
interface SettingsOptions {
  profile?: string;
  ipfw?: string;
  authorizedKeys?: string;
  token?: string;
  tokenFile?: string;
  profileUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** Adds the options that name settings to embed. */
function settingsOptions(command: Command): Command {
  return command
    .option('--profile <file>', 'a JSON profile, the one the box applies at boot')
    .option('--ipfw <file>', 'ipfw/dummynet commands, turned into that profile')
    .option('--authorized-keys <file>', "SSH public keys, one a line, for the box's SSH server")
    .addOption(new Option('--token <token>', 'the API token (other users see it in the process list: prefer --token-file)').conflicts('tokenFile'))
    .option('--token-file <file>', 'a file holding the API token')
    .option('--profile-url <url>', 'where the box fetches its profile ({mac}, {serial}, {hostname} are filled in; "URL every 30s" polls)')
    .option('--tls-cert <file>', "a PEM certificate: the box serves its API over HTTPS (with --tls-key)")
    .option('--tls-key <file>', 'the certificate\'s PEM private key, without a passphrase');
}

/** Whether any setting was named. */
const givenSettings = (o: SettingsOptions) => [o.profile, o.ipfw, o.authorizedKeys, o.token, o.tokenFile, o.profileUrl, o.tlsCert, o.tlsKey].some((v) => v !== undefined);

/** The settings named on the command line, files read. */
function wanted(o: SettingsOptions): Wanted {
  const read = (file: string) => ({ file, text: readInput(file) });
  return {
    ...(o.profile !== undefined && { profile: read(o.profile) }),
    ...(o.ipfw !== undefined && { ipfw: read(o.ipfw) }),
    ...(o.authorizedKeys !== undefined && { authorizedKeys: read(o.authorizedKeys) }),
    ...(o.token !== undefined && { token: { from: '--token', text: o.token } }),
    ...(o.tokenFile !== undefined && { token: { from: o.tokenFile, text: readInput(o.tokenFile) } }),
    ...(o.profileUrl !== undefined && { profileUrl: o.profileUrl }),
    ...((o.tlsCert !== undefined || o.tlsKey !== undefined) && { tls: { ...(o.tlsCert !== undefined && { cert: read(o.tlsCert) }), ...(o.tlsKey !== undefined && { key: read(o.tlsKey) }) } }),
  };
}

/** The command tree: each command's arguments, options and help in one place. */
function program(): Command {
  const cli = new Command('picowire')
    .exitOverride() // throw instead of exiting, for one exit path (subcommands inherit it)
    .description('Build picowire network-emulator appliances, and check and convert their emulation profiles.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
Exit status: 0 done, 1 refused or failed (the message says why), 2 usage.
Environment: SOURCE_DATE_EPOCH (default: the last commit's time), PICOWIRE_CACHE (default ~/.cache/picowire).
Documentation: README.md and docs/profiles.md in the package.`);

  cli
    .command('build')
    .description('build the recipe\'s outputs (iso, img, qcow2, pxe) and their manifest')
    .argument('[recipe]', 'a recipe file', DEFAULT_RECIPE)
    .option('-o, --out <dir>', 'where the images go', 'images')
    .option('--install-tools', 'install missing host tools with apt (as root)')
    .action(async (recipe: string, opts: { out: string; installTools?: boolean }) => {
      // the builder (ajv, esbuild, the fetchers) loads only for the commands that use it: embed and
      // ipfw start in half the time without it
      const { build } = await import('./builder/build.ts');
      await build(recipe, { outDir: resolve(opts.out), cacheDir: cacheDir(), epoch: sourceDateEpoch(), repoDir: PACKAGE_ROOT, installTools: opts.installTools ?? false, version: VERSION });
    });

  cli
    .command('lock')
    .description('re-resolve the recipe\'s packages and runtime and rewrite its .lock.json')
    .argument('[recipe]', 'a recipe file', DEFAULT_RECIPE)
    .action(async (recipePath: string) => {
      const { loadRecipe } = await import('./builder/load.ts');
      const { updateLock } = await import('./builder/fetch/index.ts');
      const { recipe, lockFile } = await loadRecipe(recipePath);
      await updateLock(recipe, { cacheDir: cacheDir(), lockFile, log });
    });

  cli
    .command('host-tools')
    .description('check that the host tools a build or the tests need are installed')
    .argument('[set...]', 'build, test or both', ['build', 'test'])
    .option('--install', 'install the missing ones with apt (as root)')
    .action(async (sets: string[], opts: { install?: boolean }) => {
      for (const s of sets) if (s !== 'build' && s !== 'test') throw new UsageError(`unknown set "${s}"; allowed: build, test`);
      const { ensureHostTools } = await import('./builder/hosttools.ts');
      await ensureHostTools(sets as Toolset[], { install: opts.install ?? false, log: log.info });
      log.info(`host tools present: ${sets.join(', ')}`);
    });

  const profile = cli.command('profile').description('check a JSON emulation profile, or show what the appliance would run for it');
  profile
    .command('check')
    .description('check a profile: every error with its path, the bad value and what is allowed (exit 1 when invalid)')
    .argument('<file>', 'a JSON profile ("-" reads stdin)')
    .action((file: string) => {
      console.log(`${file}: profile ${readProfile(file).name} is valid`);
    });
  profile
    .command('plan')
    .description('print the tc and nft commands the agent would run for a profile on a fresh box')
    .argument('<file>', 'a JSON profile ("-" reads stdin)')
    .action((file: string) => {
      const p = plan(readProfile(file), { qdiscs: [] });
      console.log(['# tc -batch', ...p.tc, '# nft -f', p.nft.trimEnd(), ...(p.cleanup.length ? ['# tc -batch (after nft)', ...p.cleanup] : [])].join('\n'));
    });

  cli
    .command('ipfw')
    .description('ipfw/dummynet commands → a JSON profile; with --from-json, a JSON profile → ipfw commands')
    .argument('[input...]', 'a file of commands, "-" for stdin (the default), or one command as arguments')
    .option('--name <name>', 'the profile\'s name', 'ipfw')
    .addOption(new Option('--from-json <file>', 'write this JSON profile as ipfw commands instead').conflicts('name'))
    .action((input: string[], opts: { name: string; fromJson?: string }) => {
      if (opts.fromJson !== undefined) {
        if (input.length) throw new UsageError(`--from-json takes no other input: ${input.join(' ')}`);
        process.stdout.write(formatIpfw(readProfile(opts.fromJson)));
      } else ipfwToProfile(input, opts.name);
    });

  settingsOptions(
    cli
      .command('embed')
      .description('put a profile, SSH keys, an API token or a profile URL into a built image (.iso, .img, .qcow2, PXE directory or initrd), in place or into a copy')
      .argument('<image>', 'the image: an .iso, .img, .qcow2, a PXE directory or its initrd.img'),
  )
    .option('-o, --out <path>', 'write the result here and leave the image as it is')
    .option('--show', 'print what the image carries and change nothing')
    .addHelpText('after', `
Everything given is checked before the image is touched: a bad profile, key or token is refused with
every error, and the image keeps its bytes. The same image and the same files give the same bytes.
An ISO carries them on its PICOWIRE partition, which the box reads from a stick, a disk or a CD alike.`)
    .action(async (image: string, opts: SettingsOptions & { out?: string; show?: boolean }) => {
      if (opts.show) {
        if (givenSettings(opts) || opts.out) throw new UsageError('--show prints what an image carries; it takes no settings and no --out');
        console.log(showCarried(image, await carried(image)));
        return;
      }
      if (!givenSettings(opts)) throw new UsageError('nothing to embed: give --profile, --ipfw, --authorized-keys, --token, --token-file, --profile-url or --tls-cert with --tls-key (or --show)');
      const started = performance.now();
      await embed(image, await settingsFrom(wanted(opts)), { ...(opts.out !== undefined && { out: opts.out }), log: (line) => log.info(line) });
      log.info(`done in ${((performance.now() - started) / 1000).toFixed(2)} s`);
    });

  settingsOptions(
    cli
      .command('flash')
      .description('write an .iso or .img to a USB stick or SD card, read it back and compare (Linux; as root)')
      .argument('<image>', 'the .iso or .img')
      .argument('<device>', 'the whole stick, e.g. /dev/sdb (see `lsblk -d -o NAME,SIZE,MODEL,TRAN,RM`)'),
  )
    .option('-y, --yes', 'write without asking (scripts)')
    .addHelpText('after', `
Refused: anything but a whole removable disk (or a file-backed loop device), a disk that is mounted,
in use or holds the running system, a read-only one, and one smaller than the image. The settings
options embed into a copy of the image first; the image itself is left as it is.`)
    .action(async (image: string, device: string, opts: SettingsOptions & { yes?: boolean }) => {
      const settings = givenSettings(opts) ? await settingsFrom(wanted(opts)) : [];
      await flash(image, device, { yes: opts.yes ?? false, settings, log: (line) => log.info(line) });
    });

  cli
    .command('remote')
    .description("drive a box over its HTTP API as at its console: status, apply, ipfw and watch, with the box's own output and exit status")
    .argument('<url>', "the box's API, e.g. http://198.19.0.15 or http://127.0.0.1:8080")
    .argument('<command>', 'status [--json] | apply FILE... | ipfw CMD... | ipfw -f FILE | ipfw list | ipfw show | ipfw pipe|queue|sched show | dnctl CMD... | watch [--count N]')
    .argument('[args...]', "the command's arguments")
    .option('--token <token>', 'the API token (default: $PICOWIRE_TOKEN)')
    .option('--json', 'status and watch: the JSON the API gives')
    .option('--count <n>', 'watch: stop after this many seconds of counters', (v) => {
      if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError(`${JSON.stringify(v)} is not a whole number above 0`);
      return Number(v);
    })
    .allowUnknownOption() // `ipfw -f FILE` and the like belong to the box's command
    .addHelpText('after', `
Exit status, as at the box's console: 0 done, 1 a profile was refused (the previous stays in force),
2 usage, the box not reachable, or the token refused.`)
    .action(async (url: string, command: string, args: string[], opts: { token?: string; json?: boolean; count?: number }) => {
      const { remote, RemoteUsage } = await import('./remote/index.ts');
      try {
        process.exitCode = await remote(url, command, args, { token: opts.token ?? process.env.PICOWIRE_TOKEN, ...(opts.json && { json: true }), ...(opts.count !== undefined && { count: opts.count }) });
      } catch (e) {
        if (e instanceof RemoteUsage) throw new UsageError(e.message, false);
        throw e;
      }
    });

  return cli;
}

/** Runs one command line; returns the exit status. Messages for the user go to stderr without a stack. */
async function run(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage; // commander printed the message
    if (err instanceof UsageError) {
      process.stderr.write(`picowire: ${err.message}\n${err.hint ? '(run with --help for usage)\n' : ''}`);
      return EXIT.usage;
    }
    if (err instanceof UserError) {
      process.stderr.write(`picowire: ${err.message}\n`);
      return EXIT.failed;
    }
    throw err;
  }
}

run(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    // a bug, not the user's mistake: the stack helps whoever reports it
    process.stderr.write(`picowire: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT.failed;
  },
);
