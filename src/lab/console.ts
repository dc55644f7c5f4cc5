// Commands typed on an appliance's serial console (its root shell) and their output read back: for
// tests that look inside the VM (tc counters, nft state) while traffic runs through it.
import type { Vm } from './qemu.ts';

let commandsRun = 0;

/**
 * Types `command` on the serial console and resolves with what it printed (carriage returns
 * removed), between two markers the shell computes (`$((n+1))`), so neither the echo of the typed
 * line nor earlier output can match them. Kernel messages that reach the console meanwhile are
 * part of the text; quiet them first (`dmesg -n 1`) when the output is parsed.
 */
export async function runOnConsole(vm: Vm, command: string, timeoutMs: number): Promise<string> {
  const n = 1000 + ++commandsRun * 7;
  const begin = `BEGIN-${n + 1}`;
  const end = `END-${n + 1}`;
  vm.send(`\necho ${begin.replace(/\d+$/, `$((${n}+1))`)}; ${command}; echo ${end.replace(/\d+$/, `$((${n}+1))`)}\n`);
  const { match } = await vm.waitFor(new RegExp(`${begin}\\r?\\n([\\s\\S]*?)${end}\\r?\\n`), timeoutMs);
  return match[1]!.replace(/\r/g, '');
}
