// The default appliance: a transparent bridge between the first two NICs, emulation by tc/nftables,
// bootable from CD, USB stick, disk image, VM image and PXE.
import { defineRecipe } from '../src/builder/recipe.ts';

export default defineRecipe({
  name: 'default',
  description: 'picowire bridge appliance (Debian bookworm kernel, busybox, iproute2, nftables, Node.js agent)',
  debian: { suite: 'bookworm' },
  kernel: 'linux-image-amd64',
  packages: ['busybox-static', 'iproute2', 'nftables', 'ethtool'],
  // the official Node.js binary links libstdc++ and libgcc_s
  libraries: ['libstdc++6', 'libgcc-s1'],
  node: { version: '22.x' },
  features: ['bridge', 'emulation', 'nftables', 'fwcfg', 'config-media', 'nics-vm', 'nics-pc'],
  // until a profile arrives from the command line, fw_cfg or the config partition: a plain wire
  profile: { name: 'passthrough', pipes: {}, rules: [] },
  outputs: ['iso', 'img', 'qcow2', 'pxe'],
  compression: 'zstd',
});
