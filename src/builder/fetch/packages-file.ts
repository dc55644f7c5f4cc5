// Reads a Debian "Packages" index (deb822 stanzas) into the few fields the builder needs, and
// indexes it by name and by what each package Provides.
import { compareDebianVersions } from './debian-version.ts';

/** One binary package as the archive describes it. */
export interface DebPackage {
  name: string;
  version: string;
  /** pool path relative to the mirror, e.g. pool/main/i/iproute2/iproute2_6.1.0-3_amd64.deb */
  filename: string;
  /** hex SHA-256 of the .deb, vouched for by the signed index */
  sha256: string;
  size: number;
  section: string;
  /** Depends and Pre-Depends: each inner list is one dependency's alternatives, in order (versions dropped) */
  depends: string[][];
  /** virtual package names this package stands in for */
  provides: string[];
}

/** A parsed Packages index: real packages by name, providers by virtual name, and a label for messages. */
export interface PackageIndex {
  /** e.g. "Debian bookworm main (amd64)" */
  label: string;
  packages: Map<string, DebPackage>;
  /** virtual name → names of the packages providing it, sorted */
  providers: Map<string, string[]>;
}

const WANTED = new Set(['Package', 'Version', 'Filename', 'SHA256', 'Size', 'Section', 'Depends', 'Pre-Depends', 'Provides']);

/** Parses the text of a Packages file; stanzas without a name, file or SHA256 (none in practice) are skipped. */
export function parsePackages(text: string): DebPackage[] {
  const out: DebPackage[] = [];
  let fields = new Map<string, string>();
  let pos = 0;
  while (pos <= text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end);
    pos = end + 1;
    if (line.trim() === '') {
      if (fields.size > 0) pushStanza(fields, out);
      fields = new Map();
      continue;
    }
    // continuation lines (leading space) only occur in fields we do not read, such as Description
    if (line[0] === ' ' || line[0] === '\t') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    if (WANTED.has(key)) fields.set(key, line.slice(colon + 1).trim());
  }
  if (fields.size > 0) pushStanza(fields, out);
  return out;
}

/** Turns one stanza's fields into a DebPackage, if it names a downloadable file. */
function pushStanza(f: Map<string, string>, out: DebPackage[]): void {
  const name = f.get('Package');
  const filename = f.get('Filename');
  const sha256 = f.get('SHA256');
  if (!name || !filename || !sha256) return;
  out.push({
    name,
    version: f.get('Version') ?? '',
    filename,
    sha256: sha256.toLowerCase(),
    size: Number(f.get('Size') ?? 0),
    section: f.get('Section') ?? '',
    depends: [...parseRelations(f.get('Pre-Depends') ?? ''), ...parseRelations(f.get('Depends') ?? '')],
    provides: parseRelations(f.get('Provides') ?? '').map((alternatives) => alternatives[0]!),
  });
}

/** Parses "a (>= 1) | b:any, c [amd64]" into [["a", "b"], ["c"]]: names only, arch qualifiers and versions dropped. */
export function parseRelations(field: string): string[][] {
  if (field.trim() === '') return [];
  return field.split(',').map((group) =>
    group
      .split('|')
      .map((alt) => alt.trim().split(/[\s(\[<]/, 1)[0]!.replace(/:[a-z0-9-]+$/, ''))
      .filter((name) => name !== ''),
  ).filter((group) => group.length > 0);
}

/** Indexes packages by name (the newest version wins where a name appears twice) and by what they provide. */
export function buildIndex(packages: DebPackage[], label: string): PackageIndex {
  const byName = new Map<string, DebPackage>();
  for (const p of packages) {
    const seen = byName.get(p.name);
    if (!seen || compareDebianVersions(p.version, seen.version) > 0) byName.set(p.name, p);
  }
  const providers = new Map<string, string[]>();
  for (const p of byName.values()) {
    for (const virtual of p.provides) {
      const list = providers.get(virtual) ?? [];
      if (!list.includes(p.name)) list.push(p.name);
      providers.set(virtual, list);
    }
  }
  for (const list of providers.values()) list.sort();
  return { label, packages: byName, providers };
}
