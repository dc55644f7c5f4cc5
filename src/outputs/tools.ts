// Runs the host tools the output formats are made with (xorriso, mtools, mkfs.fat, sfdisk,
// grub-mkimage, qemu-img) in a pinned environment, so what they write depends only on their inputs
// and the build's epoch: never on the clock, the time zone, the locale or the user's mtools config.
import { execa, ExecaError } from 'execa';
import { packageOf } from '../builder/hosttools.ts';
import { UserError } from '../common/errors.ts';

/** Runs `tool args` for the named output with SOURCE_DATE_EPOCH set; returns stdout. */
export async function runTool(tool: string, args: string[], opts: { epoch: number; output: string; input?: string }): Promise<string> {
  try {
    const result = await execa(tool, args, {
      input: opts.input,
      stdin: opts.input === undefined ? 'ignore' : undefined,
      env: { SOURCE_DATE_EPOCH: String(opts.epoch), TZ: 'UTC', LC_ALL: 'C', MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null' },
      extendEnv: true,
    });
    return result.stdout;
  } catch (error) {
    if (error instanceof ExecaError && error.code === 'ENOENT') {
      const pkg = packageOf(tool);
      throw new UserError(`${tool} is needed to write the ${opts.output} output but is not installed; install the Debian package ${pkg} (apt-get install -y ${pkg})`);
    }
    if (error instanceof ExecaError) {
      const stderr = String(error.stderr ?? '').trim();
      throw new Error(`${tool} failed while writing the ${opts.output} output (exit ${error.exitCode ?? error.signal}): ${tool} ${args.join(' ')}\n${stderr || error.shortMessage}`);
    }
    throw error;
  }
}
