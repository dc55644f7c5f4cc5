// The picowire command on the build machine: build images, refresh pins, check the host.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execaSync } from 'execa';
import { build } from './builder/build.ts';
import { updateLock } from './builder/fetch/index.ts';
import { ensureHostTools, type Toolset } from './builder/hosttools.ts';
import { loadRecipe } from './builder/load.ts';
import { log } from './builder/log.ts';
import { UserError } from './common/errors.ts';
import { plan } from './agent/plan.ts';
import { validateProfile } from './profile/validate.ts';
import { formatIpfw, parseIpfw } from './ipfw/index.ts';

const REPO = resolve(import.meta.dirname, '..');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

const USAGE = `usage: picowire <command> [options]
  build [RECIPE]            build the recipe's outputs into images/ (default: recipes/default.ts)
      --install-tools       install missing host tools with apt (as root)
  lock [RECIPE]             re-resolve the recipe's packages and rewrite its .lock.json
  host-tools [build|test]   check (and with --install, install) the host tools
  profile check FILE        check a profile: every error with its path, the bad value and what is allowed
  profile plan FILE         print the tc and nft commands the agent would run for it on a fresh box
  ipfw [FILE|-|CMD...]      ipfw/dummynet commands (a file, stdin, or one command as arguments) → a JSON profile
      --name NAME           the profile's name (default: ipfw)
  ipfw --from-json FILE     a JSON profile → ipfw commands
environment: SOURCE_DATE_EPOCH (default: the last commit's time), PICOWIRE_CACHE (default ~/.cache/picowire)`;

/** SOURCE_DATE_EPOCH, or the time of the last commit, so two builds of one checkout agree. */
function sourceDateEpoch(): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined) {
    if (!/^\d+$/.test(env)) throw new UserError(`SOURCE_DATE_EPOCH must be a whole number of seconds: ${JSON.stringify(env)}`);
    return Number(env);
  }
  try {
    return Number(execaSync('git', ['log', '-1', '--format=%ct'], { cwd: REPO }).stdout.trim());
  } catch {
    return 1_700_000_000; // not a git checkout: any fixed value keeps builds reproducible
  }
}

const cacheDir = () => process.env.PICOWIRE_CACHE ?? join(homedir(), '.cache', 'picowire');

/** `profile check|plan FILE`: the agent's own validation and planner, run on the build machine. */
function profileCommand(verb: string | undefined, file: string | undefined): void {
  if ((verb !== 'check' && verb !== 'plan') || !file) throw new UserError(`usage: picowire profile check|plan FILE`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: ${(e as Error).message}`);
  }
  const checked = validateProfile(value);
  if (!checked.ok) throw new UserError(`${file}: invalid profile:\n${checked.errors.map((e) => `  ${e}`).join('\n')}`);
  if (verb === 'check') {
    console.log(`${file}: profile ${checked.value.name} is valid`);
    return;
  }
  const p = plan(checked.value, { qdiscs: [] });
  console.log(['# tc -batch', ...p.tc, '# nft -f', p.nft.trimEnd(), ...(p.cleanup.length ? ['# tc -batch (after nft)', ...p.cleanup] : [])].join('\n'));
}

/** Reads a file, or stdin for "-". */
function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: ${(e as Error).message}`);
  }
}

/** `ipfw`: ipfw text → a checked JSON profile, or a JSON profile → ipfw text. */
function ipfwCommand(args: string[], opts: { name?: string; fromJson?: string }): void {
  if (opts.fromJson !== undefined) {
    const checked = validateProfile(JSON.parse(readInput(opts.fromJson)));
    if (!checked.ok) throw new UserError(`${opts.fromJson}: invalid profile:\n${checked.errors.map((e) => `  ${e}`).join('\n')}`);
    process.stdout.write(formatIpfw(checked.value));
    return;
  }
  // one argument that is a file or "-": read it; otherwise the arguments are one command
  const text = args.length === 0 || (args.length === 1 && (args[0] === '-' || existsSync(args[0]!))) ? readInput(args[0] ?? '-') : args.join(' ');
  const profile = parseIpfw(text, opts.name ?? 'ipfw');
  const checked = validateProfile(profile);
  if (!checked.ok) throw new UserError(`the ipfw commands make an invalid profile:\n${checked.errors.map((e) => `  ${e}`).join('\n')}`);
  console.log(JSON.stringify(profile, null, 2));
}

/** Runs one command line. */
async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'install-tools': { type: 'boolean' },
      install: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      name: { type: 'string' },
      'from-json': { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  const recipePath = rest[0] ?? join(REPO, 'recipes/default.ts');
  switch (command) {
    case 'build':
      await build(recipePath, {
        outDir: join(REPO, 'images'),
        cacheDir: cacheDir(),
        epoch: sourceDateEpoch(),
        repoDir: REPO,
        installTools: values['install-tools'] ?? false,
        version: VERSION,
      });
      return;
    case 'lock': {
      const { recipe, lockFile } = await loadRecipe(recipePath);
      await updateLock(recipe, { cacheDir: cacheDir(), lockFile, log });
      return;
    }
    case 'host-tools': {
      const sets = (rest.length ? rest : ['build', 'test']) as Toolset[];
      for (const s of sets) if (s !== 'build' && s !== 'test') throw new UserError(`host-tools: unknown set "${s}"; allowed: build, test`);
      await ensureHostTools(sets, { install: values.install ?? false, log: log.info });
      log.info(`host tools present: ${sets.join(', ')}`);
      return;
    }
    case 'profile':
      profileCommand(rest[0], rest[1]);
      return;
    case 'ipfw':
      ipfwCommand(rest, { ...(values.name !== undefined && { name: values.name }), ...(values['from-json'] !== undefined && { fromJson: values['from-json'] }) });
      return;
    default:
      if (!values.help) throw new UserError(command ? `unknown command "${command}"\n${USAGE}` : USAGE);
      console.log(USAGE);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UserError) {
    process.stderr.write(`picowire: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
});
