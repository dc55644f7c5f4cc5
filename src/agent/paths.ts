// Where the agent finds things in the image. Tools are always called by full path: busybox's own
// `ip` and `tc` applets shadow iproute2's in shells, and lack bridges and netem.
export const BIN = {
  ip: '/sbin/ip',
  tc: '/sbin/tc',
  nft: '/usr/sbin/nft',
  ethtool: '/sbin/ethtool',
  busybox: '/bin/busybox',
} as const;

/** Files the agent reads and writes, relative to the root it runs under ("/" in the image, a temp dir in tests). */
export const FILES = {
  cmdline: 'proc/cmdline',
  fwCfg: 'sys/firmware/qemu_fw_cfg/by_name/opt/picowire/profile.json/raw',
  /** QEMU's fw_cfg files opt/picowire/<name> (each setting has one name, alike here, on the PICOWIRE partition and under /etc/picowire) */
  fwCfgDir: 'sys/firmware/qemu_fw_cfg/by_name/opt/picowire',
  baked: 'etc/picowire/profile.json',
  /** settings baked into the image or a PXE initrd: /etc/picowire/<name> */
  settings: 'etc/picowire',
  /** the API token the agent made this boot when none was given (a respawned agent keeps it) */
  madeToken: 'run/picowire/token',
  pins: 'etc/picowire/ports.json',
  net: 'sys/class/net',
  ipv6Conf: 'proc/sys/net/ipv6/conf',
  run: 'run/picowire',
  configMount: 'run/picowire/config',
  current: 'run/picowire/current.json',
  /** the modules rcS loads at boot; where it exists, the agent waits for modulesReady before it looks for NICs and profiles */
  bootModules: 'etc/picowire/modules.boot',
  modulesReady: 'run/picowire/modules.ready',
  /** the bridge and its closed table, which rcS makes at boot beside node's start (from the two files
   * below, written by the build); `bridgeClosed` says it did, so the agent need not */
  bridgeIp: 'etc/picowire/bridge.ip',
  closedNft: 'etc/picowire/closed.nft',
  bridgeClosed: 'run/picowire/bridge.closed',
  /** where tc reads netem's delay distributions (iproute2's LIBDIR/tc); the agent adds the tables of delay profiles */
  tcDists: 'usr/lib/x86_64-linux-gnu/tc',
} as const;

/** The label of the FAT partition a user edits from any laptop. */
export const CONFIG_LABEL = 'PICOWIRE';
export const BRIDGE = 'br0';
/** What busybox udhcpc runs with a lease on a management NIC (overlays/rootfs). */
export const DHCP_SCRIPT = '/usr/share/udhcpc/default.script';

/** The agent's control socket, for `picowire apply`, `status` and `ipfw` on the appliance. */
export const CONTROL_SOCKET = 'run/picowire/control.sock';
