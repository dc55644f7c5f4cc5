// What each recipe feature needs from the kernel. The module closure (modules.dep + softdeps) is
// computed from these names by src/builder/kmods.ts; nothing else lists modules by hand.
export const FEATURES = {
  /** the transparent bridge between ports a and b */
  bridge: ['bridge', 'llc', 'stp'],
  /** netem and the shaping and scheduling qdiscs profiles map onto (sch_plug: a timed pipe's queue and outages, src/agent/plan.ts), and the queue management (red, codel, pie, fq_pie) of pipes and queues */
  emulation: ['sch_netem', 'sch_tbf', 'sch_htb', 'sch_plug', 'sch_drr', 'sch_prio', 'sch_qfq', 'sch_fq_codel', 'sch_red', 'sch_codel', 'sch_pie', 'sch_fq_pie', 'sch_ingress', 'ifb', 'act_mirred', 'cls_matchall', 'cls_u32', 'cls_fw', 'act_skbedit'],
  /**
   * traffic selection in the bridge family, which marks packets with their tc class. No nft_ct or
   * nft_limit: no plan has a ct or limit expression, and nft_ct brought nf_conntrack and both
   * defrag modules along (README: what the default ISO leaves out)
   */
  nftables: ['nf_tables', 'nft_meta_bridge', 'nft_numgen', 'nft_hash', 'nft_objref', 'nft_dup_netdev'],
  /** reading a profile from QEMU's fw_cfg */
  fwcfg: ['qemu_fw_cfg'],
  /** reading profile.json from the PICOWIRE partition on a USB stick, disk or CD */
  'config-media': ['vfat', 'nls_cp437', 'nls_iso8859_1', 'nls_utf8', 'isofs', 'sr_mod', 'cdrom', 'sd_mod', 'usb_storage', 'uas'],
  /** the controllers such media hang off */
  storage: ['xhci_pci', 'ehci_pci', 'ohci_pci', 'uhci_hcd', 'ahci', 'ata_piix', 'virtio_blk', 'virtio_scsi', 'nvme'],
  /**
   * a hardware random number generator, loaded before anything else: node's start waits in
   * getrandom() until the kernel's random pool is ready, and a CPU without RDRAND (QEMU's default
   * CPU model) gives it nothing; with the virtio-rng QEMU offers (the virtio bus, then its driver)
   * the pool is ready ~0.25 s into rcS instead of after the other modules (~4 s of uptime under TCG)
   */
  entropy: ['virtio_pci', 'virtio_rng'],
  /** NICs of virtual machines */
  'nics-vm': ['virtio_net', 'virtio_pci', 'e1000', 'e1000e', 'vmxnet3'],
  /** NICs of real lab PCs: Intel 1/2.5/10G, Realtek, Broadcom tg3, Aquantia, Marvell, Atheros, nVidia, USB adapters */
  'nics-pc': ['igb', 'igc', 'ixgbe', 'r8169', 'tg3', 'atlantic', 'sky2', 'alx', 'forcedeth', 'usbnet', 'r8152', 'ax88179_178a', 'cdc_ether'],
  /**
   * netmap (Rizzo's fast packet I/O), built by the builder from the recipe's pinned `sources.netmap`
   * against the kernel's own headers (src/builder/netmap.ts); its module loads at boot, and its
   * apps pkt-gen and bridge go to /usr/local/bin
   */
  netmap: ['netmap'],
  /**
   * the dummynet engine: FreeBSD's ipfw and dummynet in userspace on netmap (netmap-ipfw's kipfw) and
   * the ipfw command that configures it, built from the recipe's pinned `sources['netmap-ipfw']`
   * (src/builder/dummynet.ts) into /usr/local/bin; it runs on netmap, so it needs that feature
   */
  dummynet: [],
  /** NICs mostly found in servers (Intel X710/XL710, Broadcom NetXtreme II, Emulex): 1.7 MB of modules the default ISO leaves out */
  'nics-server': ['i40e', 'bnx2', 'be2net'],
  /**
   * netmap's native drivers: the kernel's virtio_net, e1000e, igb, ixgbe and i40e patched by netmap
   * (src/builder/netmap.ts), from Debian's linux-source package, which the lock then pins; they
   * replace the kernel's modules of those names. Not in the default recipe: under QEMU the native
   * virtio_net loses transmit completions under load (README, the netmap bullet under Design)
   */
  'netmap-drivers': [],
} as const satisfies Record<string, readonly string[]>;

export type Feature = keyof typeof FEATURES;

/** Features that build kernel modules from upstream source, and the recipe source each builds from:
 * their modules are not in the kernel package, and the kernel's headers are pinned for them. */
export const BUILT_FROM_SOURCE: Partial<Record<Feature, string>> = { netmap: 'netmap', dummynet: 'netmap-ipfw' };
export const BUILDS_MODULES: ReadonlySet<Feature> = new Set(['netmap']);
/** Features that work only on top of another. */
const NEEDS: Partial<Record<Feature, Feature>> = { dummynet: 'netmap', 'netmap-drivers': 'netmap' };

/** Errors for features whose source the recipe does not pin, or without the feature they run on, each naming what is missing. */
export function missingSources(features: readonly string[], sources: Record<string, unknown>): string[] {
  return features.flatMap((f) => {
    const source = BUILT_FROM_SOURCE[f as Feature];
    return source && !(source in sources)
      ? [`recipe.features: "${f}" builds from recipe.sources.${source}, which is missing; add sources: { ${source}: { repo: 'https://github.com/<owner>/<repo>', commit: '<40 hex digits>' } }`]
      : [];
  }).concat(
    features.flatMap((f) => {
      const needed = NEEDS[f as Feature];
      return needed && !features.includes(needed) ? [`recipe.features: "${f}" needs "${needed}" too; add "${needed}" to recipe.features`] : [];
    }),
  );
}

/** Features whose modules drive hardware: at boot only those matching a present device load (by modalias). */
export const HARDWARE_FEATURES: ReadonlySet<Feature> = new Set(['nics-vm', 'nics-pc', 'nics-server', 'storage']);
