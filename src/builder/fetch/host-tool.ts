// Runs a host tool the fetch stage needs (gpgv, xz, dpkg-deb); a missing tool is a UserError that
// names the Debian package to install, a failing one shows the tool's own complaint.
import { execa, ExecaError } from 'execa';
import { UserError } from '../../common/errors.ts';

/** Runs `command args`, returns its stdout as bytes; `debianPackage` is what provides the command. */
export async function runTool(command: string, args: string[], debianPackage: string, what: string): Promise<Buffer> {
  try {
    // the bytes as the tool wrote them: execa would strip a final newline byte from binary output too
    const result = await execa(command, args, { encoding: 'buffer', maxBuffer: 1 << 30, stdin: 'ignore', stripFinalNewline: false });
    return Buffer.from(result.stdout);
  } catch (error) {
    if (error instanceof ExecaError && error.code === 'ENOENT') {
      throw new UserError(`${command} is needed to ${what} but is not installed; install the Debian package ${debianPackage} (apt-get install ${debianPackage})`);
    }
    if (error instanceof ExecaError) {
      const stderr = Buffer.from(error.stderr ?? '').toString('utf8').trim();
      throw new UserError(`${command} failed to ${what} (exit ${error.exitCode ?? error.signal}): ${stderr || error.shortMessage}`);
    }
    throw error;
  }
}
