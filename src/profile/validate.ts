// Checks a profile completely: its structure against the schema (validator compiled ahead of
// time, see compile.ts), then what the schema cannot say (resolve.ts). Every problem is reported,
// one line each, as `profile.path: what is wrong; allowed: ...`, so a user fixes a profile in one round.
import type { ErrorObject } from 'ajv';
import { describeErrors, type Checked } from '../common/describe.ts';
import type { Profile } from './schema.ts';
import { engineProblems } from './engines.ts';
import { resolveProfile, ROOT, type ResolvedProfile } from './resolve.ts';
import validateSchema from './profile-validator.gen.ts';

/** What checker(ProfileSchema) from src/common/schema.ts does, with the validator compiled ahead of time (see compile.ts). */
function checkStructure(value: unknown): Checked<Profile> {
  let copy: unknown;
  try {
    copy = structuredClone(value); // defaults are filled in; the caller's object stays as it was
  } catch (e) {
    return { ok: false, errors: [`${ROOT}: not JSON data (${(e as Error).message}); allowed: what JSON.parse gives`] };
  }
  if (validateSchema(copy)) return { ok: true, value: copy as Profile };
  return { ok: false, errors: describeErrors((validateSchema as { errors?: ErrorObject[] }).errors ?? [], copy, ROOT) };
}

/** Checks any value as a profile and returns it with defaults filled in, or every error found. */
export function validateProfile(value: unknown): Checked<Profile> {
  const structural = checkStructure(value);
  const resolved = resolveProfile(value);
  // what the profile's engine cannot carry out, once the profile itself is sound
  const unhonoured = resolved.errors.length === 0 ? engineProblems(resolved.profile) : [];
  const errors = [...(structural.ok ? [] : structural.errors), ...resolved.errors, ...unhonoured];
  if (errors.length > 0 || !structural.ok) return { ok: false, errors: [...new Set(errors)] };
  return structural;
}

/** A validated profile's values as numbers; throws only if given a profile that did not validate. */
export function resolve(profile: Profile): ResolvedProfile {
  const { profile: resolved, errors } = resolveProfile(profile);
  if (errors.length) throw new Error(`resolve: the profile was not validated: ${errors.join('; ')}`);
  return resolved;
}
