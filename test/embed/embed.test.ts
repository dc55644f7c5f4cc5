// `picowire embed`, run as a user runs it, on copies of the images `make` built: settings go into
// each output without root or mounts, refusals leave the image's bytes alone, and the same image and
// settings give the same bytes. test/vm/embed.test.ts boots the results.
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { picowire } from '../helpers/cli.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';
import { selfSigned } from '../helpers/tls.ts';
const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

const PROFILE = { name: 'embedded', pipes: { p: { delay: '30ms' } }, rules: [{ from: 'a', pipe: 'p' }] };
const TOKEN = 'tok-0123456789abcdefABCDEF';
// a well-formed ed25519 public key: the blob names its type, then 32 key bytes
const KEY = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]).toString('base64')} lab@laptop`;

let work = '';
const files: Record<string, string> = {};

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'picowire-embed-'));
  const write = async (name: string, text: string) => {
    files[name] = join(work, name);
    await writeFile(files[name], text);
  };
  await write('profile.json', JSON.stringify(PROFILE, null, 2) + '\n');
  await write('other.json', JSON.stringify({ ...PROFILE, name: 'other' }) + '\n');
  await write('bad.json', JSON.stringify({ name: 'bad', pipes: { p: { bw: 'fast', plr: 3 } }, rules: [{ from: 'c', pipe: 'p' }] }));
  await write('keys', `# lab keys\n${KEY}\n`);
  await write('private-key', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n');
  await write('token', TOKEN + '\n');
  await write('seed.ipfw', 'ipfw pipe 1 config bw 256Kbit/s delay 20ms\nipfw add 100 pipe 1 ip from any to any out\n');
  await write('huge.json', JSON.stringify({ ...PROFILE, description: 'x'.repeat(300 * 1024) }));
});

const OUTPUTS = [
  { kind: 'iso', image: 'default.iso' },
  { kind: 'img', image: 'default.img' },
  { kind: 'qcow2', image: 'default.qcow2' },
  { kind: 'pxe', image: 'default-pxe' },
] as const;

for (const { kind, image } of OUTPUTS) {
  testNeeding(['image'], `${kind}: every setting goes in, --show lists them with no secret, the image given is left alone, and embedding again gives the same bytes`, async (t) => {
    const source = join(IMAGES, image);
    const sourceFile = kind === 'pxe' ? join(source, 'initrd.img') : source;
    const before = await sha256(sourceFile);
    const out = join(work, `out-${image}`);
    const args = ['--profile', files['profile.json']!, '--authorized-keys', files.keys!, '--token-file', files.token!, '--profile-url', 'http://198.19.0.2/profiles/{mac}.json'];
    const r = await picowire(['embed', source, ...args, '-o', out]);
    t.is(r.exitCode, 0, r.stderr);
    t.is(await sha256(sourceFile), before, 'the image given keeps its bytes');

    const show = await picowire(['embed', '--show', out]);
    t.is(show.exitCode, 0, show.stderr);
    t.regex(show.stdout, /profile\.json: profile embedded \(1 pipes, 1 rules/);
    t.regex(show.stdout, /token: set \(26 characters; not shown\)/);
    t.regex(show.stdout, /authorized_keys: 1 key\n\s+ssh-ed25519 SHA256:\S+ lab@laptop/);
    t.regex(show.stdout, /profile_url: http:\/\/198\.19\.0\.2\/profiles\/\{mac\}\.json/);
    t.notRegex(show.stdout, new RegExp(TOKEN));

    const again = join(work, `again-${image}`);
    t.is((await picowire(['embed', source, ...args, '-o', again])).exitCode, 0);
    const outFile = (dir: string) => (kind === 'pxe' ? join(dir, 'initrd.img') : dir);
    t.is(await sha256(outFile(again)), await sha256(outFile(out)), 'same image, same settings: same bytes');
    // into the result again: the settings are replaced, not stacked
    t.is((await picowire(['embed', out, ...args])).exitCode, 0);
    t.is(await sha256(outFile(out)), await sha256(outFile(again)), 'embedding into an embedded image replaces what it carried');
  });
}

for (const image of ['default.iso', 'default.img', 'default.qcow2']) {
  testNeeding(['image'], `${image}: embedding the profile the partition already holds gives back the built image byte for byte`, async (t) => {
    const source = join(IMAGES, image);
    const shown = await picowire(['embed', '--show', source]);
    t.regex(shown.stdout, /profile\.json: profile passthrough/);
    // the recipe's default profile, as the build wrote it on the partition
    const baked = join(work, `baked-${image}.json`);
    await writeFile(baked, JSON.stringify({ name: 'passthrough', pipes: {}, rules: [] }, null, 2) + '\n');
    const out = join(work, `same-${image}`);
    const r = await picowire(['embed', source, '--profile', baked, '-o', out]);
    t.is(r.exitCode, 0, r.stderr);
    t.is(await sha256(out), await sha256(source));
  });
}

testNeeding(['image'], 'pxe: a later embedding replaces the appended settings; the initrd before them is recorded and kept', async (t) => {
  const dir = join(work, 'pxe-replace');
  t.is((await picowire(['embed', join(IMAGES, 'default-pxe'), '--profile', files['profile.json']!, '--token', TOKEN, '-o', dir])).exitCode, 0);
  t.is((await picowire(['embed', dir, '--profile', files['other.json']!])).exitCode, 0);
  const show = await picowire(['embed', '--show', dir]);
  t.regex(show.stdout, /profile other/);
  t.regex(show.stdout, /token: set/, 'a setting not given again is kept');
  const built = (await stat(join(IMAGES, 'default-pxe/initrd.img'))).size;
  t.true((await stat(join(dir, 'initrd.img'))).size - built < 4096, 'one small archive appended, not two');
  const initrd = await readFile(join(dir, 'initrd.img'));
  t.is(initrd.indexOf('etc/picowire/embedded.json'), initrd.lastIndexOf('etc/picowire/embedded.json'), 'one record of an embedding');
  t.is(initrd.indexOf('etc/picowire/profile.json'), initrd.lastIndexOf('etc/picowire/profile.json'), 'one embedded profile');
  // the other boot files came along
  t.deepEqual(await readFile(join(dir, 'vmlinuz')), await readFile(join(IMAGES, 'default-pxe/vmlinuz')));
});

testNeeding(['image'], 'a bad profile, a private key and a short token are refused together, each named, and the image keeps its bytes', async (t) => {
  const image = join(work, 'refuse.iso');
  await cp(join(IMAGES, 'default.iso'), image);
  const before = await sha256(image);
  const r = await picowire(['embed', image, '--profile', files['bad.json']!, '--authorized-keys', files['private-key']!, '--token', 'short']);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /nothing was embedded/);
  t.regex(r.stderr, /profile\.pipes\.p\.bw: "fast"/);
  t.regex(r.stderr, /profile\.pipes\.p\.plr: 3 must be <= 1/);
  t.regex(r.stderr, /profile\.rules\[0\]\.from: "c" is not allowed/);
  t.regex(r.stderr, /private-key: line 1 is part of a private key; give the public key/);
  t.regex(r.stderr, /token \(--token\): a value of 5 characters is not a token; allowed: 16 to 256 characters/);
  t.notRegex(r.stderr, /short/, 'the token itself is not printed');
  t.is(await sha256(image), before);
});

testNeeding(['image'], 'a profile too big for the PICOWIRE partition says how much is missing, and the image keeps its bytes', async (t) => {
  const image = join(work, 'full.img');
  await cp(join(IMAGES, 'default.img'), image);
  const before = await sha256(image);
  const r = await picowire(['embed', image, '--profile', files['huge.json']!]);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /do not fit the PICOWIRE partition: they take [\d.]+ KiB and it holds 238 KiB; [\d.]+ KiB missing/);
  t.is(await sha256(image), before);
  // what it says is the room there is: a profile that leaves README.txt its cluster fits
  const fits = join(work, 'fits.json');
  await writeFile(fits, JSON.stringify({ ...PROFILE, description: 'x'.repeat(235 * 1024) }));
  const ok = await picowire(['embed', image, '--profile', fits]);
  t.is(ok.exitCode, 0, ok.stderr);
});

testNeeding(['image'], 'ipfw commands are embedded as the profile they make', async (t) => {
  const out = join(work, 'ipfw.img');
  const r = await picowire(['embed', join(IMAGES, 'default.img'), '--ipfw', files['seed.ipfw']!, '-o', out]);
  t.is(r.exitCode, 0, r.stderr);
  t.regex((await picowire(['embed', '--show', out])).stdout, /profile\.json: profile ipfw \(1 pipes, 1 rules/);
});

testNeeding(['image'], 'a qcow2 overlay is refused rather than flattened, naming its backing file', async (t) => {
  const overlay = join(work, 'overlay.qcow2');
  await execa('qemu-img', ['create', '-f', 'qcow2', '-F', 'qcow2', '-b', join(IMAGES, 'default.qcow2'), overlay]);
  const r = await picowire(['embed', overlay, '--token', TOKEN]);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /is an overlay on .*default\.qcow2; embed into the image it is based on/);
});

testNeeding(['image'], 'embedding in a build\'s output folder updates SHA256SUMS and notes the settings in the manifest (no token hash)', async (t) => {
  const dir = join(work, 'images');
  await cp(IMAGES, dir, { recursive: true });
  t.is((await picowire(['embed', join(dir, 'default.iso'), '--profile', files['profile.json']!, '--token', TOKEN, '-o', join(dir, 'lab1.iso')])).exitCode, 0);
  const check = await execa('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: dir, reject: false });
  t.is(check.exitCode, 0, check.stdout + check.stderr);
  t.regex(await readFile(join(dir, 'SHA256SUMS'), 'utf8'), /  lab1\.iso\n/);
  const manifest = JSON.parse(await readFile(join(dir, 'default.manifest.json'), 'utf8')) as { embedded: { file: string; from: string; settings: { name: string; sha256?: string }[] }[] };
  t.like(manifest.embedded[0], { file: 'lab1.iso', from: 'default.iso' });
  t.deepEqual(manifest.embedded[0]!.settings.map((s) => [s.name, s.sha256 === undefined]), [['profile.json', false], ['token', true]]);
});

test('embed with nothing to embed, or --show with settings, is a usage error', async (t) => {
  const r = await picowire(['embed', 'x.iso']);
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /nothing to embed/);
  const s = await picowire(['embed', '--show', 'x.iso', '--token', TOKEN]);
  t.is(s.exitCode, 2);
  const both = await picowire(['embed', 'x.iso', '--token', TOKEN, '--token-file', 'f']);
  t.is(both.exitCode, 2);
});

test('a file that is not a picowire image is refused by name', async (t) => {
  const file = join(work, 'notes.txt');
  await writeFile(file, 'hello');
  const r = await picowire(['embed', file, '--token', TOKEN]);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /notes\.txt is not a picowire image; allowed: an \.iso, a raw disk/);
});

testNeeding(['image'], 'a TLS certificate and its key go in together (the key never shown or hashed); a key of another certificate is refused', async (t) => {
  const { cert, key, otherKey } = await selfSigned();
  const write = async (name: string, text: string) => {
    const path = join(work, name);
    await writeFile(path, text);
    return path;
  };
  const [certFile, keyFile, otherFile] = await Promise.all([write('cert.pem', cert), write('key.pem', key), write('other.pem', otherKey)]);
  const out = join(work, 'tls.img');
  const r = await picowire(['embed', join(IMAGES, 'default.img'), '--tls-cert', certFile, '--tls-key', keyFile, '-o', out]);
  t.is(r.exitCode, 0, r.stderr);
  const show = await picowire(['embed', '--show', out]);
  t.regex(show.stdout, /tls_cert: CN=picowire-test, valid until /);
  t.regex(show.stdout, /tls_key: set \(not shown\)/);
  t.notRegex(show.stdout, /PRIVATE KEY/);
  const wrong = await picowire(['embed', join(IMAGES, 'default.img'), '--tls-cert', certFile, '--tls-key', otherFile, '-o', join(work, 'wrong.img')]);
  t.is(wrong.exitCode, 1);
  t.regex(wrong.stderr, /tls_key is not the key of tls_cert/);
  const half = await picowire(['embed', join(IMAGES, 'default.img'), '--tls-cert', certFile, '-o', join(work, 'half.img')]);
  t.regex(half.stderr, /--tls-key is missing: HTTPS needs the certificate and its key/);
});
