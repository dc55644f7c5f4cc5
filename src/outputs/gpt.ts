// GPT partition type GUIDs the outputs use, by what the partition is for.
export const GPT_TYPE = {
  /** GRUB's i386-pc core image, on GPT disks booted by BIOS */
  biosBoot: '21686148-6449-6e6f-744e-656564454649',
  /** EFI system partition: firmware boots \EFI\BOOT\BOOTX64.EFI from it */
  esp: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
  /** Microsoft basic data: Windows and macOS mount it, so the PICOWIRE config partition uses it */
  basicData: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7',
  /** Linux filesystem data: Windows leaves it alone (no drive letter, no offer to format it) */
  linuxData: '0fc63daf-8483-4772-8e79-3d69d8477de4',
} as const;
