// Checks a profile completely: its structure against the schema, then what the schema cannot say
// (units, ranges, names, rules naming pipes that exist). Every problem is reported, one line each,
// as `profile.path: what is wrong; allowed: ...`, so a user fixes a profile in one round.
import type { ErrorObject } from 'ajv';
import { describeErrors, pointerToPath, show, type Checked } from '../common/describe.ts';
import type { Pipe, Profile } from './schema.ts';
import validateSchema from './profile-validator.gen.ts';
import { parseBandwidth, parseDuration, parseQueue } from './units.ts';

const ROOT = 'profile';

/** The ranges a pipe's values must be in; outside them the kernel would refuse or misbehave. */
export const LIMITS = {
  /** netem's rate is whole bytes per second; the HTB classes around a pipe run at 100 Gbit/s */
  bw: { min: 8, max: 100e9 },
  /** µs */
  delay: { min: 0, max: 10e6 },
  queuePackets: { min: 1, max: 100_000 },
  /** at least one full-size Ethernet frame (netem counts queues in frames, see plan) */
  queueBytes: { min: 1514, max: 1024 ** 3 },
  /** tc handles give each pipe a class 1:10.. and qdiscs 10:.. and 1010:.. (see src/agent/plan.ts) */
  pipes: 4000,
} as const;

export const PIPE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/** A pipe's values as numbers the planner uses. */
export interface ResolvedPipe {
  /** bit/s; absent: no bottleneck, the pipe only delays and drops */
  bw?: number;
  /** µs */
  delay: number;
  /** 0..1 */
  plr: number;
  /** the bottleneck's queue as written; absent: sized from bw × delay by the planner */
  queue?: { packets: number } | { bytes: number };
}

/** What checker(ProfileSchema) from src/common/schema.ts does, with the validator compiled ahead of time (see compile.ts). */
function checkStructure(value: unknown): Checked<Profile> {
  const copy = structuredClone(value); // defaults are filled in; the caller's object stays as it was
  if (validateSchema(copy)) return { ok: true, value: copy as Profile };
  return { ok: false, errors: describeErrors((validateSchema as { errors?: ErrorObject[] }).errors ?? [], copy, ROOT) };
}

/** Checks any value as a profile and returns it with defaults filled in, or every error found. */
export function validateProfile(value: unknown): Checked<Profile> {
  const structural = checkStructure(value);
  const errors = [...(structural.ok ? [] : structural.errors), ...semanticErrors(value)];
  if (errors.length > 0 || !structural.ok) return { ok: false, errors: [...new Set(errors)] };
  return structural;
}

/** A validated pipe's values as numbers; throws only if given a pipe that did not validate. */
export function resolvePipe(pipe: Pipe): ResolvedPipe {
  return {
    ...(pipe.bw !== undefined && { bw: Math.round(parseBandwidth(pipe.bw)) }),
    delay: pipe.delay === undefined ? 0 : parseDuration(pipe.delay),
    plr: pipe.plr ?? 0,
    ...(pipe.queue !== undefined && { queue: parseQueue(pipe.queue) }),
  };
}

/** Everything the schema cannot check, looked at only where the value has the type the schema wants. */
function semanticErrors(value: unknown): string[] {
  if (!isObject(value)) return [];
  const errors: string[] = [];
  const pipes = isObject(value.pipes) ? value.pipes : {};
  const names = Object.keys(pipes);
  if (names.length > LIMITS.pipes) errors.push(`${ROOT}.pipes: ${names.length} pipes; allowed: at most ${LIMITS.pipes}`);
  for (const name of names) {
    const at = `${ROOT}${pointerToPath('/pipes/' + name.replace(/~/g, '~0').replace(/\//g, '~1'))}`;
    if (!PIPE_NAME.test(name)) errors.push(`${at}: ${show(name)} is not a pipe name; allowed: up to 32 letters, digits, ".", "_" and "-", starting with a letter or digit`);
    const pipe = pipes[name];
    if (isObject(pipe)) errors.push(...pipeErrors(pipe, at));
  }
  if (Array.isArray(value.rules)) {
    value.rules.forEach((rule, i) => {
      if (!isObject(rule) || typeof rule.pipe !== 'string' || Object.hasOwn(pipes, rule.pipe)) return;
      const known = names.length ? names.join(', ') : 'none (add it under "pipes")';
      errors.push(`${ROOT}.rules[${i}].pipe: ${show(rule.pipe)} is not a pipe of this profile; pipes: ${known}`);
    });
  }
  return errors;
}

/** Units and ranges of one pipe's values. */
function pipeErrors(pipe: Record<string, unknown>, at: string): string[] {
  const errors: string[] = [];
  // each quantity: parse it (a unit error names the unit), then check its range
  const field = <T>(key: string, parse: (v: string | number) => T, range: (v: T) => string | undefined) => {
    const raw = pipe[key];
    if (typeof raw !== 'string' && typeof raw !== 'number') return;
    try {
      const problem = range(parse(raw));
      if (problem) errors.push(`${at}.${key}: ${show(raw)} ${problem}`);
    } catch (e) {
      errors.push(`${at}.${key}: ${(e as Error).message}`);
    }
  };
  field('bw', parseBandwidth, (bits) => outside(bits, LIMITS.bw, 'bit/s', 'from 8 bit/s (1 Byte/s) to 100 Gbit/s; leave bw out for an unlimited pipe'));
  field('delay', parseDuration, (us) => outside(us, LIMITS.delay, 'µs', 'from 0 to 10 s'));
  field('queue', parseQueue, (q) =>
    'packets' in q
      ? Number.isInteger(q.packets) // the schema already says a count must be whole
        ? outside(q.packets, LIMITS.queuePackets, 'packets', 'from 1 to 100000 packets')
        : undefined
      : outside(q.bytes, LIMITS.queueBytes, 'bytes', 'from 1514 bytes (one full-size frame) to 1GB'),
  );
  if (pipe.queue !== undefined && pipe.bw === undefined) {
    errors.push(`${at}.queue: a queue needs a bottleneck: add "bw" to this pipe, or remove "queue" (without bw nothing waits in a queue)`);
  }
  return errors;
}

/** A range problem as text, or undefined when the value is inside. */
function outside(v: number, range: { min: number; max: number }, unit: string, allowed: string): string | undefined {
  if (!Number.isFinite(v)) return `is not a finite number; allowed: ${allowed}`;
  if (v < range.min) return `is too small (${v} ${unit}); allowed: ${allowed}`;
  if (v > range.max) return `is too large (${v} ${unit}); allowed: ${allowed}`;
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
