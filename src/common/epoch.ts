// SOURCE_DATE_EPOCH, the one time every file a build or an embedding writes carries.
import { UserError } from './errors.ts';

/** SOURCE_DATE_EPOCH as a number of seconds; undefined when it is not set, a UserError when it is not a whole number. */
export function envEpoch(): number | undefined {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env === undefined) return undefined;
  if (!/^\d+$/.test(env)) throw new UserError(`SOURCE_DATE_EPOCH must be a whole number of seconds: ${JSON.stringify(env)}`);
  return Number(env);
}
