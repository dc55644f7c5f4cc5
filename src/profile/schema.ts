// An emulation profile: pipes (dummynet's emulated links: bandwidth, delay, loss, queue) and rules
// that send traffic through them. This schema is the single source of the TypeScript type, the
// structural validation and (later) the JSON Schema file editors use; the meaning of the values
// (units, ranges, references between rules and pipes) is checked in validate.ts.
import { Type, type Static } from '@sinclair/typebox';
import { BANDWIDTH_UNITS, DURATION_UNITS, SIZE_UNITS } from './units.ts';

export const PROFILE_SCHEMA_ID = 'https://picowire.dev/schema/profile-v1.json';

const Bandwidth = Type.Union([Type.Number(), Type.String()], {
  description: `a bandwidth: a number of bit/s, or text such as "4Mbit/s" (${BANDWIDTH_UNITS})`,
});
const Duration = Type.Union([Type.Number(), Type.String()], {
  description: `a duration: a number of milliseconds, or text such as "20ms" (${DURATION_UNITS})`,
});
const Queue = Type.Union([Type.Integer(), Type.String()], {
  description: `a queue: a number of packets, or a size such as "64KB" (${SIZE_UNITS})`,
});

/** One emulated link, as `ipfw pipe N config bw B delay D plr P queue Q`. */
export const PipeSchema = Type.Object(
  {
    /** the bottleneck's bandwidth; without it the pipe only delays and drops */
    bw: Type.Optional(Bandwidth),
    /** propagation delay, added after the queue and the transmission time */
    delay: Type.Optional(Duration),
    /** probability that a packet is dropped on entry, independently of congestion */
    plr: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'a probability from 0 to 1, such as 0.01' })),
    /** the bottleneck's queue; when full, arriving packets are dropped (default: from bandwidth × delay) */
    queue: Type.Optional(Queue),
  },
  { additionalProperties: false },
);

/** Sends traffic to a pipe; rules are tried in order and the first that matches wins, as in ipfw. */
export const RuleSchema = Type.Object(
  {
    /** the bridge port the traffic enters on (it leaves on the other one) */
    from: Type.Union([Type.Literal('a'), Type.Literal('b')]),
    /** a key of `pipes` */
    pipe: Type.String(),
  },
  { additionalProperties: false },
);

export const ProfileSchema = Type.Object(
  {
    /** for editors: the URL of this schema */
    $schema: Type.Optional(Type.String()),
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'up to 64 letters, digits, ".", "_" and "-"' }),
    description: Type.Optional(Type.String()),
    pipes: Type.Record(Type.String(), PipeSchema, { default: {} }),
    rules: Type.Array(RuleSchema, { default: [] }),
  },
  { $id: PROFILE_SCHEMA_ID, additionalProperties: false },
);

export type Profile = Static<typeof ProfileSchema>;
export type Pipe = Static<typeof PipeSchema>;
export type Rule = Static<typeof RuleSchema>;
export type Port = Rule['from'];
