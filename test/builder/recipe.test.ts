// A bad recipe is refused before any work, with every error: the field, the bad value, what is allowed.
import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { checkRecipeValue } from '../../src/builder/load.ts';
import defaultRecipe from '../../recipes/default.ts';

const base = { ...defaultRecipe } as Record<string, unknown>;
const errorsOf = (recipe: Record<string, unknown>): string[] => {
  try {
    checkRecipeValue(recipe, 'r.ts');
    return [];
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return e.message.split('\n').slice(1).map((l) => l.trim());
  }
};

test('the default recipe is valid and gets its defaults filled in', (t) => {
  const recipe = checkRecipeValue(base, 'default.ts');
  t.is(recipe.debian.mirror, 'https://deb.debian.org/debian');
  t.deepEqual(recipe.modules, []);
  t.is(recipe.cmdline, '');
});

const BAD: [what: string, change: Record<string, unknown>, expected: string[]][] = [
  ['an unknown key', { colour: 'blue' }, ['recipe: unknown key "colour"; allowed keys: name, description, debian, kernel, packages, only, libraries, node, sources, features, modules, ports, profile, outputs, compression, cmdline, token, authorized_keys']],
  ['a name with capitals', { name: 'My Box' }, ['recipe.name: "My Box" must match pattern "^[a-z0-9][a-z0-9-]{0,31}$"; allowed: up to 32 lowercase letters, digits and "-"']],
  ['an output format that does not exist', { outputs: ['iso', 'dvd'] }, ['recipe.outputs[1]: "dvd" is not allowed; allowed: "iso", "img", "qcow2", "pxe"']],
  ['a feature that does not exist', { features: ['bridge', 'wifi'] }, ['recipe.features[1]: "wifi" is not allowed; allowed: "bridge", "emulation", "nftables", "fwcfg", "config-media", "storage", "entropy", "nics-vm", "nics-pc", "netmap", "dummynet", "nics-server", "netmap-drivers"']],
  ['a compression the kernel cannot unpack', { compression: 'bzip3' }, ['recipe.compression: "bzip3" is not allowed; allowed: "zstd", "xz", "gzip"']],
  ['an API token too short to be safe', { token: 'secret' }, ['recipe.token: "secret" must match pattern "^[A-Za-z0-9._~+/=-]{16,256}$"; allowed: 16 to 256 characters of A-Z a-z 0-9 . _ ~ + / = -']],
  ['a bad MAC for a port', { ports: { a: '52:54:00' } }, ['recipe.ports.a: "52:54:00" must match pattern "^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$"; allowed: a MAC address such as 52:54:00:12:34:56']],
  [
    'a source pinned by a branch, not a commit, from outside GitHub',
    { sources: { netmap: { repo: 'https://example.org/netmap', commit: 'master' } } },
    [
      'recipe.sources.netmap.repo: "https://example.org/netmap" must match pattern "^https://github\\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"; allowed: a GitHub repository URL such as https://github.com/luigirizzo/netmap',
      'recipe.sources.netmap.commit: "master" must match pattern "^[0-9a-f]{40}$"; allowed: a full commit id (40 lowercase hex digits)',
    ],
  ],
  [
    'the netmap feature but no netmap source',
    { features: ['bridge', 'netmap'], sources: {} },
    ["recipe.features: \"netmap\" builds from recipe.sources.netmap, which is missing; add sources: { netmap: { repo: 'https://github.com/<owner>/<repo>', commit: '<40 hex digits>' } }"],
  ],
  [
    'the dummynet feature without netmap',
    { features: ['bridge', 'dummynet'], sources: { 'netmap-ipfw': { repo: 'https://github.com/luigirizzo/netmap-ipfw', commit: '94a0f7e68c485bcc928894c9369e80d746cca41d' } } },
    ['recipe.features: "dummynet" needs "netmap" too; add "netmap" to recipe.features'],
  ],
  ['the netmap-drivers feature without netmap', { features: ['bridge', 'netmap-drivers'] }, ['recipe.features: "netmap-drivers" needs "netmap" too; add "netmap" to recipe.features']],
  ['a missing kernel', { kernel: undefined }, ['recipe: missing required key "kernel"']],
  [
    'several mistakes at once, every one listed',
    { name: 'x y', outputs: [], node: { version: 'latest' } },
    [
      'recipe.name: "x y" must match pattern "^[a-z0-9][a-z0-9-]{0,31}$"; allowed: up to 32 lowercase letters, digits and "-"',
      'recipe.node.version: "latest" must match pattern "^\\d+(\\.(\\d+|x)){0,2}$"; allowed: a version or range such as 22 or 22.x or 22.11.0',
      'recipe.outputs: [] must NOT have fewer than 1 items',
    ],
  ],
];

for (const [what, change, expected] of BAD) {
  test(`a recipe with ${what} is refused with exactly these messages`, (t) => {
    t.deepEqual(errorsOf({ ...base, ...change }).sort(), [...expected].sort());
  });
}

test('the authorized_keys of a recipe are checked as embed checks them: a private key or a damaged line is refused by line', (t) => {
  const good = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me';
  t.deepEqual(errorsOf({ ...base, authorized_keys: `# the lab\n${good}\n` }), []);
  t.deepEqual(errorsOf({ ...base, authorized_keys: `${good}\n-----BEGIN OPENSSH PRIVATE KEY-----` }), ['recipe.authorized_keys: line 2 is part of a private key; give the public key (the .pub file)']);
  t.deepEqual(errorsOf({ ...base, authorized_keys: 'ssh-ed25519 AAAA!damaged me' }), ['recipe.authorized_keys: line 1 has a ssh-ed25519 key whose base64 is damaged or incomplete']);
});

test('a recipe whose baked-in profile is bad is refused, naming the profile path', (t) => {
  const errors = errorsOf({ ...base, profile: { name: 'p', pipes: { up: { bw: 'fast' } }, rules: [] } });
  t.true(errors.length >= 1);
  t.true(errors.every((e) => e.startsWith('recipe.profile')), errors.join('\n'));
  t.regex(errors.join('\n'), /bw/);
});
