// Which boot modes each output of a recipe claims: the boot tests prove every pair, the benchmark times it.
import type { BootMode } from './qemu.ts';

/** [file under images/, the modes it boots in] for a recipe's outputs. */
export function bootClaims(name: string): [file: string, modes: BootMode[]][] {
  return [
    [`${name}.iso`, ['bios-cd', 'bios-usb', 'bios-disk', 'uefi-cd', 'uefi-usb', 'uefi-disk']],
    [`${name}.img`, ['bios-disk', 'bios-usb', 'uefi-disk', 'uefi-usb']],
    [`${name}.qcow2`, ['bios-disk', 'uefi-disk']],
    [`${name}-pxe`, ['pxe', 'direct']],
  ];
}
