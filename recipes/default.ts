// The default appliance: a transparent bridge between the first two NICs, emulation by tc/nftables,
// bootable from CD, USB stick, disk image, VM image and PXE.
import { defineRecipe } from '../src/builder/recipe.ts';

export default defineRecipe({
  name: 'default',
  description: 'picowire bridge appliance (Debian bookworm kernel, busybox, iproute2, nftables, Node.js agent)',
  debian: { suite: 'bookworm' },
  kernel: 'linux-image-amd64',
  packages: ['busybox-static', 'iproute2', 'nftables', 'ethtool', 'dropbear-bin'],
  // of iproute2, the tools the agent runs and the netem delay distributions (ss, arpd, rdma... are left out);
  // of dropbear-bin, the server alone (the agent makes its host key: src/agent/ssh-key.ts)
  only: { 'dropbear-bin': ['/usr/sbin/dropbear'], iproute2: ['/bin/ip', '/sbin/ip', '/sbin/tc', '/sbin/bridge', '/usr/lib/x86_64-linux-gnu/tc', '/etc/iproute2'] },
  // the official Node.js binary links libstdc++ and libgcc_s
  libraries: ['libstdc++6', 'libgcc-s1'],
  // the agent uses no Intl: ICU's data is trimmed to English, 8 MB less image (src/builder/squashfs.ts);
  // and runs no TypeScript: amaro, node's type stripper, is blanked, 0.95 MB less (src/builder/node-typescript.ts)
  node: { version: '22.x', icu: 'en', typescript: false },
  // upstream sources, pinned by commit (the lock adds their sha256): netmap for the netmap feature,
  // netmap-ipfw (userspace ipfw + dummynet on netmap) for the dummynet engine that follows it
  sources: {
    netmap: { repo: 'https://github.com/luigirizzo/netmap', commit: '89607e1406c1fa5ac2106bd2ff33417f090c0d60' },
    'netmap-ipfw': { repo: 'https://github.com/luigirizzo/netmap-ipfw', commit: '94a0f7e68c485bcc928894c9369e80d746cca41d' },
  },
  features: ['entropy', 'bridge', 'emulation', 'nftables', 'fwcfg', 'config-media', 'storage', 'nics-vm', 'nics-pc', 'netmap', 'dummynet'],
  // until a profile arrives from the command line, fw_cfg or the config partition: a plain wire
  profile: { name: 'passthrough', pipes: {}, rules: [] },
  outputs: ['iso', 'img', 'qcow2', 'pxe'],
  // zstd over xz: 5 MB more ISO, about 5 s less boot under TCG (bench/results.json, the compression table)
  compression: 'zstd',
});
