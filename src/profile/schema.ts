// An emulation profile: dummynet's model in JSON. Pipes are emulated links (bandwidth, delay,
// jitter, loss, queue, ...); queues are weighted classes feeding a pipe's scheduler; masks make one
// pipe or queue instance per distinct masked key; numbered rules select traffic, first match wins,
// as in ipfw. This schema is the single source of the TypeScript types, the structural validation
// and the published JSON Schema (schema/profile-v1.json); what the schema cannot say (units,
// ranges, references between rules, queues and pipes) is checked in validate.ts.
//
// The skeleton's format ({pipes: {up: {bw, delay, plr, queue}}, rules: [{from, pipe}]}) is a subset
// of this one and keeps its meaning.
import { Type, type Static } from '@sinclair/typebox';
import { BANDWIDTH_UNITS, DURATION_UNITS, SIZE_UNITS } from './units.ts';
import { ACTIONS, AQMS, DISTRIBUTIONS, ENGINES, FAMILIES, PROTOCOLS, SCHEDULERS } from './words.ts';

export { ACTIONS, AQMS, DISTRIBUTIONS, FAMILIES, PROTOCOLS, SCHEDULERS };

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
const Size = Type.Union([Type.Integer({ minimum: 0 }), Type.String()], {
  description: `a size: a number of bytes, or text such as "32KB" (${SIZE_UNITS})`,
});
const Probability = (what: string) => Type.Number({ minimum: 0, maximum: 1, description: `${what}: a probability from 0 to 1, such as 0.01` });

/** Random extra delay on top of `delay`, as netem's jitter. */
const JitterSchema = Type.Object(
  {
    /** how far the delay varies: for uniform, ± this; for the others, the standard deviation */
    spread: Duration,
    distribution: Type.Optional(Type.Union(DISTRIBUTIONS.map((d) => Type.Literal(d)))),
    /** how much each packet's jitter follows the previous packet's (0: independent) */
    correlation: Type.Optional(Probability('correlation')),
  },
  { additionalProperties: false },
);

/** Dummynet's empirical delay profile (ipfw `profile`, seed section 2.4): extra delay drawn from a measured curve. */
const DelayProfileSchema = Type.Object(
  {
    /** points of the curve: with cumulative probability `prob` the extra delay is at most `delay`; between points it is interpolated */
    samples: Type.Array(Type.Object({ prob: Probability('cumulative probability'), delay: Duration }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: 1024,
    }),
    /** draws above this cumulative probability lose the packet (dummynet's loss-level; default 1: none) */
    lossLevel: Type.Optional(Probability('loss level')),
  },
  { additionalProperties: false },
);

/** Bursty loss: the two-state Gilbert-Elliott chain, as netem's `loss gemodel`. */
const LossSchema = Type.Object(
  {
    model: Type.Literal('gilbert-elliott'),
    /** probability of moving from the good to the bad state, per packet */
    p: Probability('good → bad'),
    /** probability of moving from the bad to the good state, per packet */
    r: Probability('bad → good'),
    /** loss probability in the bad state (default 1) */
    lossBad: Type.Optional(Probability('loss in the bad state')),
    /** loss probability in the good state (default 0) */
    lossGood: Type.Optional(Probability('loss in the good state')),
  },
  { additionalProperties: false },
);

const ReorderSchema = Type.Object(
  {
    /** probability that a packet is sent at once, ahead of those delayed before it */
    prob: Probability('reorder'),
    correlation: Type.Optional(Probability('correlation')),
    /** reorder only every gap-th packet (netem's `gap`) */
    gap: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

const MaskBits = Type.Union([Type.Integer({ minimum: 0 }), Type.String()], {
  description: 'a mask: a number, hex such as "0xffffff00", an IPv4 netmask such as "255.255.255.0", or a prefix length such as "/24"',
});

const Ip6MaskBits = Type.Union([Type.Integer({ minimum: 1, maximum: 128 }), Type.String()], {
  description: 'an IPv6 mask: a prefix length from 1 to 128, as a number or "/64", or a netmask such as "ffff:ffff:ffff:ffff::"',
});

/** Which packet fields tell instances apart (ipfw `mask`): one instance per distinct masked value. */
export const MaskSchema = Type.Object(
  {
    srcIp: Type.Optional(MaskBits),
    dstIp: Type.Optional(MaskBits),
    srcPort: Type.Optional(MaskBits),
    dstPort: Type.Optional(MaskBits),
    proto: Type.Optional(MaskBits),
    /** IPv6 packets (dummynet's src-ip6/dst-ip6): the leading bits of the address, as a prefix length */
    srcIp6: Type.Optional(Ip6MaskBits),
    dstIp6: Type.Optional(Ip6MaskBits),
    /** IPv6 packets: the 20-bit flow label (dummynet's flow-id) */
    flowId: Type.Optional(MaskBits),
  },
  { additionalProperties: false },
);

const Buckets = Type.Integer({ minimum: 1, maximum: 256, description: 'instances made ready for a mask, from 1 to 256: the first N distinct keys get one each, in the order they appear; later keys share them' });

/** One point of a schedule (links that change over time): from `at` on, the values it gives hold; `ramp` reaches them linearly from the previous point's. */
const ScheduleStepSchema = Type.Object(
  {
    /** when, from the start of the clock (or of each period) */
    at: Duration,
    bw: Type.Optional(Bandwidth),
    delay: Type.Optional(Duration),
    plr: Type.Optional(Probability('packet loss rate')),
    queue: Type.Optional(Queue),
    /** true: bw, delay and plr move linearly from the previous point's values to these, reaching them at `at` */
    ramp: Type.Optional(Type.Boolean({ description: 'true: reach these values linearly from the previous point' })),
    /** the link passes nothing for this long from `at` */
    outage: Type.Optional(Duration),
    /** during the outage, arriving packets are dropped (default: they wait in the queue, as behind a link that is down) */
    drop: Type.Optional(Type.Boolean({ description: 'true: packets arriving during the outage are dropped; absent or false: they wait' })),
  },
  { additionalProperties: false },
);

const ClockName = Type.String({ description: 'a clock name: pipes that name the same clock change together (up to 32 letters, digits, ".", "_" and "-")' });

/** A pipe's values over time: steps, ramps and outages, once or repeated. */
const ScheduleSchema = Type.Object(
  {
    /** pipes naming one clock share its start (an up and a down link that change together); default: the pipe's own */
    clock: Type.Optional(ClockName),
    /** repeat with this period; absent: run once, and the last point's values stay */
    every: Type.Optional(Duration),
    steps: Type.Array(ScheduleStepSchema, { minItems: 1, maxItems: 10000 }),
  },
  { additionalProperties: false },
);

/** A recorded link's capacity replayed as the pipe's bottleneck, in place of `bw`: Mahimahi's format, or rate samples. */
const TraceSchema = Type.Object(
  {
    /** a Mahimahi trace's text: one line per millisecond timestamp at which one 1500-byte packet may leave */
    mahimahi: Type.Optional(Type.String()),
    /** rate samples, one per line: a time and the rate from then on ("0ms 4Mbit/s", or "0 4000000": ms and bit/s) */
    rates: Type.Optional(Type.String()),
    /** a trace file on the PICOWIRE partition, or baked under /etc/picowire/traces/ */
    file: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'a file name: up to 64 letters, digits, ".", "_" and "-"' })),
    /** the format of `file` (default: mahimahi) */
    format: Type.Optional(Type.Union([Type.Literal('mahimahi'), Type.Literal('rates')])),
    /** start again at the end (default true); false: the last rate stays */
    loop: Type.Optional(Type.Boolean()),
    /** the rate is set once per window: the trace's packets in each window (default 20ms) */
    window: Type.Optional(Duration),
    clock: Type.Optional(ClockName),
  },
  { additionalProperties: false },
);

/**
 * Active queue management of a queue (ipfw's `droptail`, `red`/`gred`, `codel`, `pie`), as FreeBSD 14
 * documents it; each field belongs to the types named beside it. On a pipe whose scheduler is fq_codel
 * or fq_pie, the codel or pie parameters of each of the scheduler's flows. How each maps onto Linux,
 * and what differs: docs/profiles.md#aqm.
 */
export const AqmSchema = Type.Object(
  {
    type: Type.Union(AQMS.map((a) => Type.Literal(a))),
    /** red, gred: the weight of the newest queue length in the average (0 to 1) */
    wq: Type.Optional(Probability('w_q')),
    /** red, gred: below this average queue nothing is dropped early (packets, or bytes when the queue is in bytes) */
    minTh: Type.Optional(Type.Integer({ minimum: 0, description: 'a threshold: packets, or bytes when the queue is given in bytes' })),
    /** red, gred: above this average queue everything is dropped (red) or the probability rises to 1 at twice it (gred) */
    maxTh: Type.Optional(Type.Integer({ minimum: 1, description: 'a threshold: packets, or bytes when the queue is given in bytes' })),
    /** red, gred: the drop probability at maxTh */
    maxP: Type.Optional(Probability('max_p')),
    /** codel, pie: the queueing delay aimed at (codel 5ms, pie 15ms) */
    target: Type.Optional(Duration),
    /** codel: how long the delay may stay above target before codel drops (100ms) */
    interval: Type.Optional(Duration),
    /** pie: how often the drop probability is computed again (15ms) */
    tupdate: Type.Optional(Duration),
    /** pie: the weight of the delay's distance from target (0.125) */
    alpha: Type.Optional(Type.Number({ minimum: 0, maximum: 7, description: 'a number from 0 to 7 (Linux takes up to 2, in steps of 1/16)' })),
    /** pie: the weight of the delay's trend (1.25) */
    beta: Type.Optional(Type.Number({ minimum: 0, maximum: 7, description: 'a number from 0 to 7 (Linux takes up to 2, in steps of 1/16)' })),
    /** pie: how long a new queue is let grow before pie drops (150ms) */
    maxBurst: Type.Optional(Duration),
    /** pie: above this drop probability, ECN packets are dropped, not marked (0.1) */
    maxEcnth: Type.Optional(Probability('max_ecnth')),
    /** pie: cap drop adjustment (default true) */
    capdrop: Type.Optional(Type.Boolean()),
    /** pie: drop de-randomisation (default true) */
    derand: Type.Optional(Type.Boolean()),
    /** pie: on only once a third of the queue is full (default false) */
    onoff: Type.Optional(Type.Boolean()),
    /** pie: how the queueing delay is estimated: from the departure rate (dre, pie's default) or from timestamps (ts, fq_pie's) */
    estimator: Type.Optional(Type.Union([Type.Literal('dre'), Type.Literal('ts')])),
    /** red, gred, codel, pie: mark ECN-capable packets (CE) instead of dropping them (default false; true for fq_codel) */
    ecn: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** The parameters of an fq_codel or fq_pie scheduler besides its flows' AQM (ipfw `quantum`, `limit`, `flows`). */
export const FlowQueueSchema = Type.Object(
  {
    /** bytes a flow's queue sends at each turn (1514) */
    quantum: Type.Optional(Type.Integer({ minimum: 1, maximum: 9000, description: 'bytes from 1 to 9000' })),
    /** packets held by all flows together (default: the pipe's queue) */
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 20480, description: 'packets from 1 to 20480' })),
    /** flow queues (1024) */
    flows: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536, description: 'a number from 1 to 65536' })),
  },
  { additionalProperties: false },
);

/** One emulated link, as `ipfw pipe N config bw B delay D plr P queue Q ...`. */
export const PipeSchema = Type.Object(
  {
    /** the bottleneck's bandwidth; without it the pipe only delays and drops */
    bw: Type.Optional(Bandwidth),
    /** propagation delay, added after the queue and the transmission time */
    delay: Type.Optional(Duration),
    /** random variation of the delay */
    jitter: Type.Optional(Type.Union([Duration, JitterSchema], { description: 'a duration (uniform ± that much), or {spread, distribution, correlation}' })),
    /** dummynet's empirical delay profile */
    delayProfile: Type.Optional(DelayProfileSchema),
    /** probability that a packet is dropped on entry, independently of congestion */
    plr: Type.Optional(Probability('packet loss rate')),
    /** bursty random loss (instead of plr) */
    loss: Type.Optional(LossSchema),
    duplicate: Type.Optional(Probability('duplication')),
    corrupt: Type.Optional(Probability('corruption (one bit flipped)')),
    reorder: Type.Optional(Type.Union([Probability('reorder'), ReorderSchema], { description: 'a probability, or {prob, correlation, gap}' })),
    /** the bottleneck's queue; when full, arriving packets are dropped (default: from bandwidth × delay) */
    queue: Type.Optional(Queue),
    /** link-layer bytes added to every packet when computing its transmission time (may be negative) */
    overhead: Type.Optional(Type.Integer({ minimum: -64, maximum: 1024, description: 'bytes from -64 to 1024' })),
    /** after an idle period, this much data passes at line rate before `bw` applies (ipfw `burst`) */
    burst: Type.Optional(Size),
    /** the scheduler serving this pipe's queues (default wf2q+ when queues feed the pipe) */
    scheduler: Type.Optional(Type.Union(SCHEDULERS.map((s) => Type.Literal(s)))),
    /** one pipe instance per distinct masked key */
    mask: Type.Optional(MaskSchema),
    buckets: Type.Optional(Buckets),
    /** bw, delay, plr and queue over time: steps, ramps, outages (docs/schedules.md) */
    schedule: Type.Optional(ScheduleSchema),
    /** a recorded link's capacity, in place of bw (docs/schedules.md) */
    trace: Type.Optional(TraceSchema),
    /** the queue's management (default droptail); with scheduler fq_codel or fq_pie, each flow's codel or pie */
    aqm: Type.Optional(AqmSchema),
    /** scheduler fq_codel or fq_pie: quantum, limit, flows */
    fq: Type.Optional(FlowQueueSchema),
  },
  { additionalProperties: false },
);

/** A weighted class (dummynet's "queue") feeding a pipe's scheduler, as `ipfw queue N config pipe P weight W`. */
export const QueueSchema = Type.Object(
  {
    /** the pipe whose scheduler serves this queue */
    pipe: Type.String(),
    /** share of the pipe's bandwidth relative to its sibling queues (dummynet: 1 to 100); for prio, the priority (higher first) */
    weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'a whole number from 1 to 100' })),
    /** this queue's size: packets or bytes (default 50 packets, as dummynet) */
    queue: Type.Optional(Queue),
    /** one queue instance per distinct masked key */
    mask: Type.Optional(MaskSchema),
    buckets: Type.Optional(Buckets),
    /** this queue's management (default droptail) */
    aqm: Type.Optional(AqmSchema),
  },
  { additionalProperties: false },
);

const AddressList = Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], {
  description: 'an address ("198.18.0.1", "198.18.0.0/24", "2001:db8::/32", "any") or a list of them',
});
const AddressMatch = Type.Union([AddressList, Type.Object({ not: AddressList }, { additionalProperties: false })], {
  description: 'an address, "any", a list, or {"not": address or list}',
});
const PortItem = Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.String()]);
const PortMatch = Type.Union([PortItem, Type.Array(PortItem, { minItems: 1 })], {
  description: 'a port (80), a range ("2000-3000"), a list ("22,53" or [22, 53, "1000-2000"]) or "any"',
});
const ProtocolName = Type.Union([...PROTOCOLS.map((p) => Type.Literal(p)), Type.Integer({ minimum: 0, maximum: 255 })], {
  description: `${PROTOCOLS.join(', ')} or an IP protocol number 0-255`,
});

/** What a rule does with the traffic it matches; rules are tried in order of number, the first that matches wins, as in ipfw. */
export const RuleSchema = Type.Object(
  {
    /** ipfw's rule number, 1 to 65535; rules run in ascending order (a rule without one gets the previous one's plus 100, or the same number from 65435 on, as `ipfw add`) */
    number: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'a rule number from 1 to 65535' })),
    /** default: "pipe" when the rule names a pipe, "queue" when it names a queue */
    action: Type.Optional(Type.Union(ACTIONS.map((a) => Type.Literal(a)))),
    /** a key of `pipes` (action pipe) */
    pipe: Type.Optional(Type.String()),
    /** a key of `queues` (action queue) */
    queue: Type.Optional(Type.String()),
    /** the bridge port the traffic enters on (it leaves on the other one); absent: both directions */
    from: Type.Optional(Type.Union([Type.Literal('a'), Type.Literal('b')])),
    proto: Type.Optional(Type.Union([ProtocolName, Type.Array(ProtocolName, { minItems: 1 })], { description: `a protocol (${PROTOCOLS.join(', ')} or 0-255) or a list` })),
    src: Type.Optional(AddressMatch),
    dst: Type.Optional(AddressMatch),
    srcPort: Type.Optional(PortMatch),
    dstPort: Type.Optional(PortMatch),
    /** IPv4 packets only ("ip4") or IPv6 packets only ("ip6"), as ipfw's ip4 and ip6; absent: both */
    family: Type.Optional(Type.Union(FAMILIES.map((f) => Type.Literal(f)), { description: 'ip4: IPv4 packets only; ip6: IPv6 packets only (ipfw ip4/ip6); absent: both' })),
    /** Ethernet addresses (ipfw `mac DST SRC`), "02:70:77:00:00:01" or with a prefix length "02:70:77:00:00:00/24"; a frame rule: needs `l2` */
    dstMac: Type.Optional(Type.String({ description: 'an Ethernet address such as "02:70:77:00:00:02", optionally /bits ("02:70:77:00:00:00/24"); needs "l2": true' })),
    srcMac: Type.Optional(Type.String({ description: 'an Ethernet address such as "02:70:77:00:00:01", optionally /bits; needs "l2": true' })),
    /** Ethernet types (ipfw `mac-type`): numbers, names, ranges; a frame rule: needs `l2` */
    macType: Type.Optional(Type.Union([PortItem, Type.Array(PortItem, { minItems: 1 })], { description: 'Ethernet types: a number (0x0806), a name (arp, ip, ipv6, vlan, ...), a range ("0x0800-0x86dd") or a list; needs "l2": true' })),
    /** the rule matches only this fraction of the packets it would match (ipfw `prob`) */
    prob: Type.Optional(Probability('match probability')),
    /**
     * true: the rule takes every frame its other conditions allow, ARP and other non-IP frames too,
     * as a cable carries them (ipfw `layer2`). Without it a rule takes IPv4 and IPv6 packets only,
     * as ipfw's rules do, and a frame that is not IP and that no rule takes crosses unshaped
     * whatever `default` says (a dummynet bridge passes ARP by ipfw).
     */
    l2: Type.Optional(Type.Boolean({ description: 'true: every frame, ARP and other non-IP frames too, as a cable (ipfw layer2); absent: IPv4 and IPv6 packets only' })),
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
    queues: Type.Optional(Type.Record(Type.String(), QueueSchema)),
    rules: Type.Array(RuleSchema, { default: [] }),
    /** what happens to traffic no rule matches (default allow: it crosses unshaped) */
    default: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny')])),
    /** which data plane carries the profile: "tc" (Linux bridge, nftables and qdiscs: the default) or "dummynet" (FreeBSD's ipfw and dummynet in userspace on netmap) */
    engine: Type.Optional(Type.Union(ENGINES.map((e) => Type.Literal(e)), { description: 'the data plane: "tc" (default) or "dummynet" (FreeBSD\'s ipfw + dummynet on netmap)' })),
  },
  { $id: PROFILE_SCHEMA_ID, additionalProperties: false },
);

export type Profile = Static<typeof ProfileSchema>;
export type Pipe = Static<typeof PipeSchema>;
export type QueueSpec = Static<typeof QueueSchema>;
export type Rule = Static<typeof RuleSchema>;
export type Mask = Static<typeof MaskSchema>;
export type Schedule = Static<typeof ScheduleSchema>;
export type Trace = Static<typeof TraceSchema>;
export type Aqm = Static<typeof AqmSchema>;
export type FlowQueue = Static<typeof FlowQueueSchema>;
export type Port = 'a' | 'b';
export type Protocol = (typeof PROTOCOLS)[number] | number;
export type Scheduler = (typeof SCHEDULERS)[number];
export type Family = (typeof FAMILIES)[number];
export type Distribution = (typeof DISTRIBUTIONS)[number];
export type Engine = (typeof ENGINES)[number];
