// One way to check data against a JSON Schema and say what is wrong with it, shared by recipes
// (builder) and profiles (agent): every error, each naming the path, the bad value and what is allowed.
import { Ajv, type ValidateFunction } from 'ajv';
import { describeErrors } from './describe.ts';
import type { Static, TSchema } from '@sinclair/typebox';

export type { Checked } from './describe.ts';
import type { Checked } from './describe.ts';

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, verbose: true });

/** Compiles a schema once; the returned function checks a value and lists every error under `root`. */
export function checker<S extends TSchema>(schema: S, root: string): (value: unknown) => Checked<Static<S>> {
  const validate: ValidateFunction = ajv.compile(schema);
  return (value) => {
    const copy = structuredClone(value); // defaults are filled in; the caller's object stays as it was
    if (validate(copy)) return { ok: true, value: copy as Static<S> };
    return { ok: false, errors: describeErrors(validate.errors ?? [], copy, root) };
  };
}

