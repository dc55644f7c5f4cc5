// Turning JSON Schema errors into one line each. Kept apart from ajv itself so the agent, whose
// validator is compiled ahead of time, can describe errors without loading ajv at boot.
import type { ErrorObject } from 'ajv';
import type { TSchema } from '@sinclair/typebox';

export type Checked<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** Turns ajv's errors into one line each: `root.path: what is wrong (got value; allowed: ...)`. */
export function describeErrors(errors: ErrorObject[], data: unknown, root: string): string[] {
  // anyOf/oneOf report each branch and then themselves; the summary line is the useful one
  const branchPaths = new Set(errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.schemaPath));
  const lines = errors
    .filter((e) => ![...branchPaths].some((p) => e.schemaPath.startsWith(p + '/') ))
    .map((e) => describeError(e, data, root));
  return [...new Set(lines)];
}

function describeError(e: ErrorObject, data: unknown, root: string): string {
  const path = root + pointerToPath(e.instancePath);
  const value = valueAt(data, e.instancePath);
  const hint = typeof e.parentSchema?.description === 'string' ? `; allowed: ${e.parentSchema.description}` : '';
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((e.parentSchema?.properties as object | undefined) ?? {}).join(', ');
      return `${path}: unknown key "${key}"; allowed keys: ${allowed}`;
    }
    case 'required':
      return `${path}: missing required key "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'enum':
      return `${path}: ${show(value)} is not allowed; allowed: ${(e.params as { allowedValues: unknown[] }).allowedValues.map(show).join(', ')}`;
    case 'const':
      return `${path}: ${show(value)} is not allowed; allowed: ${show((e.params as { allowedValue: unknown }).allowedValue)}`;
    case 'anyOf':
    case 'oneOf':
      return `${path}: ${show(value)} is not allowed; allowed: ${describeBranches(e.schema as TSchema[], e.parentSchema)}`;
    default:
      return `${path}: ${show(value)} ${e.message ?? 'is invalid'}${hint}`;
  }
}

/** What a union accepts: its description if it has one, else each branch's constant or type. */
function describeBranches(branches: TSchema[], parent: unknown): string {
  const description = (parent as { description?: unknown } | undefined)?.description;
  if (typeof description === 'string') return description;
  return branches
    .map((b) => ('const' in b ? show(b.const) : typeof b.description === 'string' ? b.description : (b.type as string) ?? 'a value'))
    .join(', ');
}

/** "/pipes/up/bw" → ".pipes.up.bw", "/rules/0" → ".rules[0]" */
export function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .split('/')
    .slice(1)
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((k) => (/^\d+$/.test(k) ? `[${k}]` : /^[A-Za-z_$][\w$-]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`))
    .join('');
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** A value as the user would have written it, kept short. */
export function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = typeof value === 'bigint' ? `${value}n` : String(value); // not JSON: a BigInt, a cycle
  }
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}
