// Shared pieces of the fuzz tests (test/fuzz/*.test.ts): the time guard, the checks every
// accepted profile must pass, and the mutation of a JSON tree. Not a test file itself.
import type { ExecutionContext } from 'ava';
import fc from 'fast-check';
import { plan } from '../../src/agent/plan.ts';
import { UserError } from '../../src/common/errors.ts';
import { formatIpfw, parseIpfw } from '../../src/ipfw/index.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { resolve, validateProfile } from '../../src/profile/validate.ts';

/** How much CPU time one call of a validator, parser, formatter or planner may take before it counts as a hang (ReDoS, quadratic loop). */
export const CALL_LIMIT_MS = 1000;

/** How long one property may run, shrinking included, before fast-check stops it (a found failure is still reported, shrunk as far as it got). */
export const PROPERTY_LIMIT_MS = 10_000;

/**
 * Runs a property with a fixed seed and reports to ava: a failure with fast-check's report (seed,
 * path, counterexample); a run cut short by PROPERTY_LIMIT_MS without failure is logged, not failed,
 * so a slow machine runs fewer cases rather than failing.
 */
export function runProperty<Ts extends [unknown, ...unknown[]]>(t: ExecutionContext, label: string, property: fc.IProperty<Ts>, params: { seed: number; numRuns: number; path?: string }): void {
  const start = performance.now();
  const details = fc.check(property, { ...params, interruptAfterTimeLimit: PROPERTY_LIMIT_MS });
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  if (details.failed) {
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    t.fail(`${label}: ${error}\n${fc.defaultReportMessage(details) ?? 'failed'}`);
    return;
  }
  t.log(`${label}: ${details.numRuns} runs (seed ${params.seed}) in ${seconds} s${details.interrupted ? `, interrupted after ${PROPERTY_LIMIT_MS} ms of the ${params.numRuns} asked for` : ''}`);
}

/** A short, printable form of an input for failure messages. */
export function brief(value: unknown, max = 400): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value));
  } catch {
    text = String(value);
  }
  const length = text.length;
  text = text.replace(/ {20,}/g, (run) => `<${run.length} spaces>`);
  return text.length > max ? `${text.slice(0, max)}... (${length} characters)` : text;
}

/** The CPU time this process has used, in ms: unlike the wall clock, it does not grow when other processes load the machine. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Runs f and fails if it takes more than CALL_LIMIT_MS of CPU time, whether it returns or throws (a synchronous call cannot be interrupted, so a true hang shows as ava's timeout). */
export function timed<T>(label: string, input: unknown, f: () => T): T {
  const start = cpuMs();
  try {
    return f();
  } finally {
    // also when f throws: a slow refusal is as much a hang as a slow answer
    const ms = cpuMs() - start;
    // eslint-disable-next-line no-unsafe-finally
    if (ms > CALL_LIMIT_MS) throw new Error(`${label} took ${ms.toFixed(0)} ms of CPU time (limit ${CALL_LIMIT_MS} ms) on ${brief(input)}`);
  }
}

/** Fails unless e is a UserError with a non-empty message (parseIpfw's only way to refuse), and returns the message. */
export function expectUserError(e: unknown, label: string, input: unknown): string {
  if (!(e instanceof UserError)) {
    throw new Error(`${label} threw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : brief(e)} (not a UserError) on ${brief(input)}`, { cause: e });
  }
  if (typeof e.message !== 'string' || e.message.trim() === '') throw new Error(`${label} threw a UserError without a message on ${brief(input)}`);
  return e.message;
}

/** validateProfile's answer, checked: a rejection lists one or more messages, each a non-empty line naming a path under "profile". */
export function checkedValidate(value: unknown): ReturnType<typeof validateProfile> {
  const r = timed('validateProfile', value, () => validateProfile(value));
  if (r.ok) return r;
  if (!Array.isArray(r.errors) || r.errors.length === 0) throw new Error(`validateProfile rejected without a message: ${brief(value)}`);
  for (const e of r.errors) {
    if (typeof e !== 'string' || e.trim() === '') throw new Error(`validateProfile gave an empty message ${brief(e)} for ${brief(value)}`);
    if (!e.startsWith('profile')) throw new Error(`validateProfile's message does not start with a path ("profile..."): ${brief(e)} for ${brief(value)}`);
  }
  return r;
}

/** What must hold for every profile validateProfile accepts: the planner plans it, and the ipfw formatter writes it in a form parseIpfw reads or refuses cleanly. */
export function checkAccepted(profile: Profile): void {
  const start = cpuMs();
  const p = plan(profile, { qdiscs: [] });
  const ms = cpuMs() - start;
  for (const line of p.tc) {
    if (!/^(qdisc|class|filter) /.test(line)) throw new Error(`plan gave the tc line ${brief(line)} for ${brief(profile)}`);
    // tc handles and class ids are two 16-bit numbers, major:minor, in hex
    const ids = [...line.matchAll(/\b(?:parent|classid) ([0-9a-f]+):([0-9a-f]*)/g), ...(line.startsWith('qdisc ') ? line.matchAll(/\bhandle ([0-9a-f]+):()/g) : [])];
    for (const [id, major, minor] of ids) {
      if (parseInt(major!, 16) > 0xffff || (minor !== '' && parseInt(minor!, 16) > 0xffff)) {
        throw new Error(`plan gave a tc handle beyond 16 bits (${id}) in ${brief(line)} (line ${p.tc.indexOf(line) + 1} of ${p.tc.length}) for ${brief(profile)}`);
      }
    }
  }
  if (typeof p.nft !== 'string' || !p.nft.includes('table bridge picowire')) throw new Error(`plan's nft script lacks the bridge table for ${brief(profile)}`);
  // checked after the lines, so a wrong plan is reported as wrong rather than as slow
  if (ms > CALL_LIMIT_MS) throw new Error(`plan took ${ms.toFixed(0)} ms of CPU time (limit ${CALL_LIMIT_MS} ms) and gave ${p.tc.length} tc lines on ${brief(profile)}`);
  const text = timed('formatIpfw', profile, () => formatIpfw(profile));
  if (typeof text !== 'string') throw new Error(`formatIpfw returned ${brief(text)} for ${brief(profile)}`);
  let back: Profile | undefined;
  try {
    back = timed('parseIpfw(formatIpfw(p))', text, () => parseIpfw(text, profile.name));
  } catch (e) {
    expectUserError(e, `parseIpfw(formatIpfw(p)) of ${brief(text)}`, profile);
  }
  if (back !== undefined) {
    const again = checkedValidate(back);
    if (again.ok) {
      timed('plan', again.value, () => plan(again.value, { qdiscs: [] }));
      sameQueueManagement(profile, again.value, text);
    }
  }
}

/** ipfw → JSON → ipfw keeps the meaning of queue management: each pipe's and queue's aqm, fq and scheduler resolve alike. */
function sameQueueManagement(before: Profile, after: Profile, text: string): void {
  const [a, b] = [resolve(before), resolve(after)];
  const pick = (x: { aqm?: unknown; fq?: unknown; scheduler?: unknown }) => JSON.stringify({ aqm: x.aqm, fq: x.fq, scheduler: x.scheduler });
  for (const kind of ['pipes', 'queues'] as const) {
    for (const [name, x] of Object.entries(a[kind])) {
      const y = (b[kind] as Record<string, typeof x>)[name];
      if (y !== undefined && pick(x) !== pick(y)) throw new Error(`${kind} ${name}'s queue management changed through ipfw: ${pick(x)} became ${pick(y)} (text ${brief(text)})`);
    }
  }
}

// ---- mutation of a JSON tree ----------------------------------------------------------------------

type Path = (string | number)[];

/** Every path in a tree of plain objects and arrays, the root ([]) first. */
export function pathsOf(value: unknown, max = 2000): Path[] {
  const out: Path[] = [];
  const walk = (v: unknown, path: Path) => {
    if (out.length >= max) return;
    out.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(value, []);
  return out;
}

function getAt(root: unknown, path: Path): unknown {
  let cur = root;
  for (const k of path) cur = (cur as Record<string | number, unknown>)[k];
  return cur;
}

/** Sets (or with `remove`, deletes) the value at path; the root itself is replaced by returning the new root. */
function setAt(root: unknown, path: Path, value: unknown, remove = false): unknown {
  if (path.length === 0) return remove ? undefined : value;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown> | unknown[];
  const key = path.at(-1)!;
  if (Array.isArray(parent) && typeof key === 'number') {
    if (remove) parent.splice(key, 1);
    else parent[key] = value;
  } else if (remove) delete (parent as Record<string, unknown>)[key];
  else Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true }); // also for "__proto__"
  return root;
}

/** Values that sit at the edges of what the validator accepts, or just outside. */
const EDGE_NUMBERS = [-1, 0, -0, 1, 1.5, 0.5, 2, 7, 8, 255, 256, 1513, 1514, 65535, 65536, 100_000, 100_001, 1e308, -1e308, 2 ** 31, 2 ** 53, 1e-320, Number.MAX_VALUE, Number.MIN_VALUE, 100e9, 100e9 + 1, 10_000, 10_001, NaN, Infinity, -Infinity];
const NANISH_STRINGS = [
  '', ' ', 'NaN', 'Infinity', '-Infinity', 'undefined', 'null', '1e999Mbit/s', '1e-999ms', '1e999', '0x10', '0x', '-5ms', '+5ms', '.ms', '5..5ms',
  '1e5e5', '∞', '١٢٣ms', '10Mbit/s\u0000', '10 Mbit / s', '10Mbit/sec', '10mbit', '1.Mbit/s', '.5s', 'e5', '1 e5', '10\tms', '\u00a010ms', '1_000bit/s',
  '4 furlongs', '/33', '/0', '/-1', '256.0.0.0', '0xffffffffff', '0xg', '65536', '1-0', '0-65536', '22,,53', ',', 'any,22', '2000 - 3000', 'not', '::', ':::',
  '1::2::3', '2001:db8::/129', '198.18.0.1/33', '198.18.0.0/24,2001:db8::1', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x'.repeat(300),
];

/** A change to a JSON tree, at the path chosen by `at` (an index into pathsOf, modulo their number). */
export type Mutation =
  | { op: 'delete'; at: number }
  | { op: 'replace'; at: number; value: unknown }
  | { op: 'addKey'; at: number; key: string; value: unknown }
  | { op: 'swapType'; at: number }
  | { op: 'edgeNumber'; at: number; value: number }
  | { op: 'nanishString'; at: number; value: string }
  | { op: 'hugeArray'; at: number; length: number }
  | { op: 'duplicateInArray'; at: number; times: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.anything({ maxDepth: 2 })) }),
  fc.record({
    op: fc.constant('addKey' as const),
    at: fc.nat(),
    key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'extra', 'bw', 'pipe', 'not', '0', '')),
    value: fc.jsonValue({ maxDepth: 2 }),
  }),
  fc.record({ op: fc.constant('swapType' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('edgeNumber' as const), at: fc.nat(), value: fc.constantFrom(...EDGE_NUMBERS) }),
  fc.record({ op: fc.constant('nanishString' as const), at: fc.nat(), value: fc.constantFrom(...NANISH_STRINGS) }),
  fc.record({ op: fc.constant('hugeArray' as const), at: fc.nat(), length: fc.integer({ min: 0, max: 300 }) }), // 1000-element lists: see the long-input tests
  fc.record({ op: fc.constant('duplicateInArray' as const), at: fc.nat(), times: fc.integer({ min: 1, max: 300 }) }),
);

/** The same value as another type: a number as text, text as a number, an object as an array, and so on. */
function swapType(v: unknown): unknown {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v.length % 3 === 0 ? Number(v) : v.length % 3 === 1 ? [v] : { value: v };
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === null) return {};
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), x]));
  if (typeof v === 'object') return Object.values(v as object);
  return null;
}

/** Applies the mutations in order to a deep copy of value. */
export function mutate(value: unknown, mutations: Mutation[]): unknown {
  let root: unknown = structuredClone(value);
  for (const m of mutations) {
    const paths = pathsOf(root);
    const path = paths[m.at % paths.length]!;
    const here = getAt(root, path);
    switch (m.op) {
      case 'delete':
        root = path.length === 0 ? {} : setAt(root, path, undefined, true);
        break;
      case 'replace':
        root = setAt(root, path, m.value);
        break;
      case 'addKey':
        if (here !== null && typeof here === 'object' && !Array.isArray(here)) setAt(root, [...path, m.key], m.value);
        else if (Array.isArray(here)) here.push(m.value);
        else root = setAt(root, path, { [m.key]: m.value });
        break;
      case 'swapType':
        root = setAt(root, path, swapType(here));
        break;
      case 'edgeNumber':
        root = setAt(root, path, m.value);
        break;
      case 'nanishString':
        root = setAt(root, path, m.value);
        break;
      case 'hugeArray':
        root = setAt(root, path, Array.from({ length: m.length }, (_, i) => (here !== null && typeof here === 'object' ? structuredClone(here) : i % 2 ? here : i)));
        break;
      case 'duplicateInArray':
        if (Array.isArray(here) && here.length > 0) {
          const first = here[0];
          for (let i = 0; i < m.times && here.length < 300; i++) here.push(structuredClone(first));
        }
        break;
    }
  }
  return root;
}
