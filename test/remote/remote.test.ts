// `picowire remote`, run as a user runs it, against the box's HTTP API served on 127.0.0.1 over a
// stand-in agent (the real agent's API is tested in the VM): the box's own output and exit status.
import type { Server } from 'node:http';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { createApi } from '../../src/agent/api/server.ts';
import { freeLoopbackPort } from '../../src/lab/lab.ts';
import { picowire } from '../helpers/cli.ts';
import { fakeBox } from '../helpers/fake-box.ts';

const TOKEN = 'remote-test-token-0123456789';

/** The API on a free port of 127.0.0.1 over a fake box; closed when the test ends. */
async function serve(t: ExecutionContext) {
  const fake = fakeBox();
  const api = await createApi(fake.box, TOKEN, {});
  const server: Server = api.server();
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  t.teardown(() => {
    api.close();
    server.close();
    server.closeAllConnections();
  });
  return { ...fake, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

const remote = (url: string, args: string[], token: string | null = TOKEN) => picowire(['remote', url, ...args, ...(token === null ? [] : ['--token', token])]);

async function file(name: string, text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'picowire-remote-')), name);
  await writeFile(path, text);
  return path;
}

test('status prints the counters table the box prints, or its JSON', async (t) => {
  const box = await serve(t);
  const r = await remote(box.url, ['status']);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^profile wan$/m);
  t.regex(r.stdout, /pipe \(instance\) -> port/);
  const j = await remote(box.url, ['status', '--json']);
  t.is((JSON.parse(j.stdout) as { profile: string }).profile, 'wan');
});

test('apply puts a profile in force and says so; a bad one is refused with every error, exit 1, the previous kept', async (t) => {
  const box = await serve(t);
  const good = await file('good.json', JSON.stringify({ name: 'good', pipes: { p: { delay: '5ms' } }, rules: [{ from: 'a', pipe: 'p' }] }));
  const r = await remote(box.url, ['apply', good]);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^applied profile good \(\d+ ms\)$/m);
  const bad = await file('bad.json', JSON.stringify({ name: 'bad', pipes: { p: { bw: 'fast' } }, rules: [{ from: 'c', pipe: 'p' }] }));
  const b = await remote(box.url, ['apply', bad]);
  t.is(b.exitCode, 1);
  t.regex(b.stderr, /^rejected picowire apply .*bad\.json:$/m);
  t.regex(b.stderr, /^ {2}profile\.pipes\.p\.bw: "fast" is not a bandwidth/m);
  t.regex(b.stderr, /profile\.rules\[0\]\.from: "c"/);
  t.is(box.box.inForce()?.name, 'good');
});

test('ipfw -f replaces the profile in force, a command amends it, list prints it as ipfw commands', async (t) => {
  const box = await serve(t);
  const conf = await file('seed.ipfw', 'ipfw pipe 1 config bw 256Kbit/s delay 20ms\nipfw add 100 pipe 1 ip from any to any out\n');
  const f = await remote(box.url, ['ipfw', '-f', conf]);
  t.is(f.exitCode, 0, f.stderr);
  t.deepEqual(box.box.inForce()?.pipes, { '1': { bw: '256Kbit/s', delay: '20ms' } });
  const r = await remote(box.url, ['ipfw', 'pipe', '1', 'config', 'bw', '2Mbit/s', 'delay', '10ms']);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^applied profile \S+ \(\d+ ms\)$/m);
  t.deepEqual(box.box.inForce()?.pipes['1'], { bw: '2Mbit/s', delay: '10ms' });
  t.is(box.box.inForce()?.rules.length, 1, 'the rule stays: one command amends');
  const show = await remote(box.url, ['ipfw', 'list']);
  t.regex(show.stdout, /^ipfw pipe 1 config bw 2Mbit\/s delay 10ms$/m);
  // FreeBSD's listings, from the box's counters (the stand-in box's: pipe "up" is not this profile's, so no instance lines)
  const rules = await remote(box.url, ['ipfw', 'show']);
  t.is(rules.stdout, '00100 12 1200 pipe 1 ip from any to any out\n65535  0    0 allow ip from any to any');
  const pipes = await remote(box.url, ['dnctl', 'pipe', '1', 'show']);
  t.is(pipes.stdout.split('\n')[0], '00001:   2.000 Mbit/s   10 ms burst 0');
  const dn = await remote(box.url, ['dnctl', 'pipe', '1', 'config', 'bw', '30Byte/s']);
  t.is(dn.exitCode, 0, dn.stderr);
  t.deepEqual(box.box.inForce()?.pipes['1'], { bw: '30Byte/s' }, 'dnctl, as FreeBSD 13.1 on writes it');
  const bad = await remote(box.url, ['ipfw', 'pipe', '1', 'config', 'bw', 'fast']);
  t.is(bad.exitCode, 1);
  t.regex(bad.stderr, /"fast" is not a bandwidth/);
});

test('watch prints the counters as they come and stops after --count', async (t) => {
  const box = await serve(t);
  const r = await remote(box.url, ['watch', '--count', '2']);
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout.match(/^profile wan$/gm)?.length, 2);
});

test('a wrong or missing token, an unreachable box and an unknown command exit 2, each saying which', async (t) => {
  const box = await serve(t);
  const wrong = await remote(box.url, ['status'], 'not-the-token-0123456789');
  t.is(wrong.exitCode, 2);
  t.regex(wrong.stderr, /refused the token \(401\)/);
  const none = await picowire(['remote', box.url, 'status'], { env: { PICOWIRE_TOKEN: '' } });
  t.is(none.exitCode, 2);
  t.regex(none.stderr, /no token: give --token or set PICOWIRE_TOKEN/);
  const env = await picowire(['remote', box.url, 'status'], { env: { PICOWIRE_TOKEN: TOKEN } });
  t.is(env.exitCode, 0, 'the token from PICOWIRE_TOKEN');
  const port = await freeLoopbackPort();
  const down = await remote(`http://127.0.0.1:${port}`, ['status']);
  t.is(down.exitCode, 2);
  t.regex(down.stderr, new RegExp(`cannot reach the box at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  const unknown = await remote(box.url, ['reboot']);
  t.is(unknown.exitCode, 2);
  t.regex(unknown.stderr, /unknown remote command "reboot"; allowed: status, apply, ipfw, dnctl, watch/);
});
