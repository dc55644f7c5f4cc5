// The `picowire` command on the appliance: a client of the agent's control socket (control.ts).
//   picowire apply FILE...      put each profile in force, in order (`-` reads stdin)
//   picowire status [--json]    the profile in force and its counters
//   picowire ipfw CMD...        one ipfw command, amending the profile in force (as on FreeBSD)
//   picowire ipfw -f FILE|-     a whole ipfw configuration, replacing the profile in force
//   picowire ipfw list          the profile in force, written as ipfw commands
//   picowire ipfw show          the rules' counters, as FreeBSD's ipfw show prints them
//   picowire ipfw|dnctl pipe|queue|sched show [N...]   dummynet's own listing, as FreeBSD prints it
//   picowire dnctl CMD...       dummynet's own command (FreeBSD 13.1 on), as ipfw pipe|queue|sched
// Exit status: 0 done, 1 a profile was rejected, 2 usage or the agent is not reachable.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { amendProfile, formatIpfw, Inexpressible, parseIpfw } from '../ipfw/index.ts';
import type { Profile } from '../profile/schema.ts';
import type { Request, Response } from './control.ts';
import { CONTROL_SOCKET } from './paths.ts';
import { formatStatus } from './status.ts';
import { formatShow, showCommand } from '../ipfw/show.ts';

const USAGE = `usage: picowire apply FILE...      put each profile in force, in order ("-" reads stdin)
       picowire status [--json]     the profile in force, per pipe and queue: packets, bytes, drops, queue
       picowire ipfw COMMAND...     one ipfw command amending the profile in force, e.g.
                                    picowire ipfw pipe 1 config bw 2Mbit/s delay 10ms
       picowire ipfw -f FILE|-      a whole ipfw configuration, replacing the profile in force
       picowire ipfw list           the profile in force as ipfw commands
       picowire ipfw show           each rule's packets and bytes, as FreeBSD's ipfw show
       picowire ipfw pipe show      each pipe and its instances, as FreeBSD prints them (also
                                    queue show, sched show; dnctl pipe|queue|sched show)
       picowire dnctl COMMAND...    dummynet's own command (FreeBSD 13.1 on): pipe, queue, sched, flush`;

class Usage extends Error {}

/** One request to the agent. */
export function ask(req: Request, root = process.env.PICOWIRE_ROOT ?? '/'): Promise<Response> {
  const path = join(root, CONTROL_SOCKET);
  return new Promise((done, fail) => {
    const socket = connect(path);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('end', () => {
      try {
        done(JSON.parse(text) as Response);
      } catch {
        fail(new Usage(`the agent closed ${path} without an answer`));
      }
    });
    socket.on('error', (e) => fail(new Usage(`cannot reach the agent at ${path}: ${e.message} (is picowire-agent running? see the console)`)));
    socket.end(JSON.stringify(req) + '\n');
  });
}

const readInput = (file: string) => (file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8'));

/** Sends one profile; prints what became of it; returns whether it is in force. */
async function apply(profile: unknown, source: string): Promise<boolean> {
  const res = await ask({ op: 'apply', profile, source });
  if (res.op === 'apply' && res.ok) {
    console.log(`applied profile ${res.name} (${res.ms.toFixed(0)} ms)`);
    return true;
  }
  const errors = res.ok ? [] : res.errors;
  console.error(`rejected ${source}:\n${errors.map((e) => `  ${e}`).join('\n')}`);
  return false;
}

async function current(): Promise<Profile | null> {
  const res = await ask({ op: 'current' });
  if (res.op !== 'current') throw new Usage(res.ok ? 'unexpected answer' : res.errors.join('; '));
  return res.profile;
}

/** Runs one command line; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'apply': {
      if (rest.length === 0) throw new Usage('apply: name at least one profile file');
      let ok = true;
      for (const file of rest) {
        let value: unknown;
        try {
          value = JSON.parse(readInput(file));
        } catch (e) {
          console.error(`${file}: ${(e as Error).message}`);
          ok = false;
          continue;
        }
        ok = (await apply(value, `picowire apply ${file}`)) && ok;
      }
      return ok ? 0 : 1;
    }
    case 'status': {
      const res = await ask({ op: 'status' });
      if (res.op !== 'status') throw new Usage(res.ok ? 'unexpected answer' : res.errors.join('; '));
      console.log(rest.includes('--json') ? JSON.stringify(res.status, null, 2) : formatStatus(res.status));
      return 0;
    }
    case 'ipfw':
    case 'dnctl': {
      if (rest.length === 0) throw new Usage(`${command}: give an ${command} command, -f FILE, list, or show`);
      const show = showCommand(command, rest);
      if (show) {
        const res = await ask({ op: 'status' });
        if (res.op !== 'status') throw new Usage(res.ok ? 'unexpected answer' : res.errors.join('; '));
        const text = formatShow(show.what, await current(), res.status, show.numbers);
        if (text) console.log(text.trimEnd());
        return 0;
      }
      if (rest[0] === 'list' && rest.length === 1) {
        const profile = await current();
        console.log(profile ? formatIpfw(profile).trimEnd() : '# no profile in force');
        return 0;
      }
      let profile: Profile;
      try {
        // -f: a whole configuration; otherwise one command amending what is in force
        // a file a command names (pipe N config profile FILE) is read here, on the box
        const files = { readFile: (path: string) => readFileSync(path, 'utf8') };
        profile = rest[0] === '-f' && rest.length === 2 ? parseIpfw(readInput(rest[1]!), 'ipfw', files) : amendProfile(await current(), `${command} ${rest.join(' ')}`, files);
      } catch (e) {
        if (e instanceof Inexpressible) throw new Usage(`ipfw: ${e.message}`);
        console.error(`ipfw: ${(e as Error).message}`);
        return 1;
      }
      return (await apply(profile, 'picowire ipfw')) ? 0 : 1;
    }
    default:
      throw new Usage(command === undefined || command === 'help' || command === '--help' ? USAGE : `unknown command "${command}"\n${USAGE}`);
  }
}

/** For the bundle's entry: run, print usage problems, exit. */
export function runCli(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`picowire: ${(e as Error).message}\n`);
      process.exit(e instanceof Usage ? 2 : 1);
    },
  );
}
