// Debian's modules carry an appended signature that the kernel checks at every load, enforcement
// or not. Under QEMU TCG that check was most of the boot's module loading: in the guest,
// `modprobe -a` of the boot set took 1.57 s signed and 0.83 s with the signatures cut off, and the
// drivers by modalias 0.71 against 0.55 s. The image's GRUB is unsigned, so no machine that
// enforces module signatures (Secure Boot lockdown) boots it anyway; the kernel loads an unsigned
// module, notes "module verification failed" once and marks itself tainted (E), as netmap's
// out-of-tree module already does.
//
// The layout (the kernel's scripts/sign-file, include/linux/module_signature.h): the module's ELF
// bytes, the signature (PKCS#7), a 12-byte struct module_signature whose last field is the
// signature's length (big-endian), then the magic string.

const MAGIC = Buffer.from('~Module signature appended~\n');
const INFO_BYTES = 12;

/** The module's bytes without its appended signature (the same buffer when it has none). */
export function withoutSignature(ko: Buffer, name = 'module'): Buffer {
  if (ko.length < MAGIC.length || !ko.subarray(ko.length - MAGIC.length).equals(MAGIC)) return ko;
  const info = ko.length - MAGIC.length - INFO_BYTES;
  if (info < 0) throw new Error(`${name}: ends in the module signature's magic but is too short to hold its header (${ko.length} bytes)`);
  const end = info - ko.readUInt32BE(info + 8);
  if (end < 4 || ko.readUInt32BE(0) !== 0x7f454c46) {
    throw new Error(`${name}: its signature header gives a signature length of ${ko.readUInt32BE(info + 8)} bytes, which leaves no ELF module before it`);
  }
  return ko.subarray(0, end);
}
