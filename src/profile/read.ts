// Reading a profile the user named on a command line: a JSON file (or stdin), validated whole.
import { readFileSync } from 'node:fs';
import { UserError } from '../common/errors.ts';
import type { Profile } from './schema.ts';
import { validateProfile } from './validate.ts';

/** A file's text, or stdin's for "-"; a UserError naming the file when it cannot be read. */
export function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: ${(e as Error).message}`);
  }
}

/** A JSON profile file, validated: every error with its path, the bad value and what is allowed. */
export function readProfile(file: string): Profile {
  let value: unknown;
  try {
    value = JSON.parse(readInput(file));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  const checked = validateProfile(value);
  if (!checked.ok) throw new UserError(`${file}: invalid profile:\n${checked.errors.map((e) => `  ${e}`).join('\n')}`);
  return checked.value;
}
