// Reading a built disk or ISO image back without mounting it: its partition table and FAT files.
import { execa } from 'execa';

export interface Partition {
  start: number;
  size: number;
  type: string;
  uuid: string;
  name?: string;
}

/** The image's partition table as sfdisk reads it. */
export async function partitions(image: string): Promise<{ id: string; label: string; partitions: Partition[] }> {
  const { stdout } = await execa('sfdisk', ['--json', image]);
  return (JSON.parse(stdout) as { partitiontable: { id: string; label: string; partitions: Partition[] } }).partitiontable;
}

/** Runs an mtools command on the FAT filesystem that starts at a sector of the image. */
export async function mtools(tool: string, image: string, sector: number, ...args: string[]): Promise<string> {
  const { stdout } = await execa(tool, ['-i', `${image}@@${sector * 512}`, ...args], { env: { MTOOLS_SKIP_CHECK: '1' } });
  return stdout;
}
