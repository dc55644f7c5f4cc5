// Generators (fast-check arbitraries) of profiles for the fuzz tests: every part of a profile in
// its valid ranges and units, and whole profiles whose references point at pipes and queues that
// exist. Not a test file itself; see profile.test.ts.
import fc from 'fast-check';
import { DISTRIBUTIONS, PROTOCOLS, SCHEDULERS } from '../../src/profile/schema.ts';

// ---- the parts of a profile ---------------------------------------------------------------------

const probability = fc.oneof(fc.constantFrom(0, 0.01, 0.1, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true }));

const bandwidth = fc.oneof(
  fc.constantFrom('10Mbit/s', '256Kbit/s', '4 Mbit/s', '1Gbit/s', '512KByte/s', '100Mbps', '1.5Mbit/s', '8bit/s', '100Gbit/s', 12000),
  fc.integer({ min: 8, max: 2 ** 31 - 1 }),
  fc.double({ min: 8, max: 100e9, noNaN: true }),
  fc
    .tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom('', ' ', '\t'), fc.constantFrom('bit/s', 'Kbit/s', 'Mbit/s', 'Gbit/s', 'Byte/s', 'KByte/s', 'MByte/s', 'Kbps', 'Mbps', 'bps', 'kbit', 'b', 'B', 'Bps', 'bits/sec'))
    .map(([n, space, unit]) => `${n}${space}${unit}`),
);

const duration = fc.oneof(
  fc.constantFrom('20ms', '5ms', '1.5s', '500us', '0ms', '10s', '250µs', 1.5, 0, 20),
  fc.double({ min: 0, max: 10_000, noNaN: true }),
  fc.integer({ min: 0, max: 10_000 }),
  fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.constantFrom('ms', ' ms', 'us', 'usec', 'msec', 's', '')).map(([n, unit]) => (unit === 's' ? `${n % 10}${unit}` : `${n}${unit}`)),
);

const queue = fc.oneof(
  fc.integer({ min: 1, max: 100_000 }),
  fc.constantFrom(50, '64KB', '1MB', '50 packets', '20 slots', '100', '1514B', '2KiB'),
  fc.integer({ min: 2, max: 1024 }).map((n) => `${n}KB`),
);

const size = fc.oneof(fc.integer({ min: 1514, max: 2 ** 30 }), fc.constantFrom('32KB', '64KB', '1MB', '1514B', '1GB'), fc.integer({ min: 2, max: 1024 }).map((n) => `${n}KB`));

const jitter = fc.oneof(
  duration,
  fc.record({ spread: duration, distribution: fc.constantFrom(...DISTRIBUTIONS), correlation: probability }, { requiredKeys: ['spread'] }),
);

/** A rising curve: probabilities and delays sorted separately. */
const delayProfile = fc
  .record(
    {
      samples: fc.array(fc.tuple(probability, fc.integer({ min: 0, max: 10_000 })), { minLength: 1, maxLength: 30 }),
      lossLevel: fc.oneof(probability, fc.constant(1)),
      unit: fc.boolean(),
    },
    { requiredKeys: ['samples', 'unit'] },
  )
  .map(({ samples, lossLevel, unit }) => {
    const probs = samples.map(([p]) => p).sort((x, y) => x - y);
    const delays = samples.map(([, d]) => d).sort((x, y) => x - y);
    return {
      samples: probs.map((prob, i) => ({ prob, delay: unit ? `${delays[i]}ms` : delays[i]! })),
      ...(lossLevel !== undefined && { lossLevel }),
    };
  });

const loss = fc.record(
  { model: fc.constant('gilbert-elliott'), p: probability, r: probability, lossBad: probability, lossGood: probability },
  { requiredKeys: ['model', 'p', 'r'] },
);

const reorder = fc.oneof(
  probability,
  fc.record({ prob: probability, correlation: probability, gap: fc.integer({ min: 1, max: 1_000_000 }) }, { requiredKeys: ['prob'] }),
);

const mask32 = fc.oneof(
  fc.constantFrom('0xffffff00', '0xffffffff', '/24', '/16', '/32', '/1', '255.255.255.0', '0xfffffff', 1),
  fc.integer({ min: 1, max: 32 }).map((n) => `/${n}`),
  fc.integer({ min: 1, max: 2 ** 31 - 1 }),
);
const mask16 = fc.oneof(fc.constantFrom('0xffff', '0xff00', 65535, '/8', '/16', '255'), fc.integer({ min: 1, max: 65535 }));
const mask8 = fc.oneof(fc.constantFrom('0xff', '0x0f', 255, '/8', '1'), fc.integer({ min: 1, max: 255 }));
const mask128 = fc.oneof(fc.constantFrom(128, 64, '/64', '/48', 'ffff:ffff:ffff:ffff::', 1), fc.integer({ min: 1, max: 128 }));
const mask20 = fc.oneof(fc.constantFrom('0xfffff', '0xff', 1048575, '/20'), fc.integer({ min: 1, max: 0xfffff }));
// IPv6 fields less often: a mask with them is keyed per family (one map each, hashed when the key is long)
const mask = fc.record(
  { srcIp: mask32, dstIp: mask32, srcPort: mask16, dstPort: mask16, proto: mask8, srcIp6: fc.option(mask128, { nil: undefined, freq: 3 }), dstIp6: fc.option(mask128, { nil: undefined, freq: 3 }), flowId: fc.option(mask20, { nil: undefined, freq: 4 }) },
  { requiredKeys: [] },
).map((m) => Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)));
/** Mostly small, sometimes the most a mask may make (pipe buckets × queue buckets is the size of the plan). */
const buckets = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 8 }), weight: 16 },
  { arbitrary: fc.constantFrom(64, 256), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 256 }), weight: 1 },
);

/** AQM times: above 0 (a zero target or interval is refused), mostly as written in ipfw's manual. */
const aqmTime = fc.oneof(fc.constantFrom('5ms', '100ms', '15ms', '8ms', 160, '500us', '1s'), fc.integer({ min: 1, max: 10_000 }));
/** Queue management: every type with its own fields, mostly in what the tc engine takes. */
const aqmArb = fc.oneof(
  fc.constant({ type: 'droptail' }),
  fc
    .record({ type: fc.constantFrom('red', 'gred'), wq: fc.oneof(fc.constantFrom(0.002, 0.5, 1, 1e-9), probability), minTh: fc.integer({ min: 0, max: 60 }), span: fc.integer({ min: 0, max: 60 }), maxP: probability, ecn: fc.boolean() }, { requiredKeys: ['type', 'wq', 'minTh', 'span', 'maxP'] })
    .map(({ span, minTh, ...r }) => ({ ...r, minTh, maxTh: minTh + span })),
  fc.record({ type: fc.constant('codel'), target: aqmTime, interval: aqmTime, ecn: fc.boolean() }, { requiredKeys: ['type'] }),
  fc.record(
    {
      type: fc.constant('pie'),
      target: aqmTime,
      tupdate: aqmTime,
      alpha: fc.oneof(fc.constantFrom(0, 0.125, 2, 7), fc.double({ min: 0, max: 2, noNaN: true })),
      beta: fc.oneof(fc.constantFrom(0, 1.25, 2, 7), fc.double({ min: 0, max: 2, noNaN: true })),
      maxBurst: fc.constantFrom('150ms', 150, '100ms'),
      maxEcnth: fc.constantFrom(0.1, 0.25, 0.123),
      capdrop: fc.boolean(),
      derand: fc.boolean(),
      onoff: fc.boolean(),
      estimator: fc.constantFrom('dre', 'ts'),
      ecn: fc.boolean(),
    },
    { requiredKeys: ['type'] },
  ),
);
/** What the tc engine takes (docs/profiles.md#aqm): the refusals are left to the raw profiles. */
function repairAqm(a: Record<string, unknown>, fqPie: boolean): Record<string, unknown> {
  const r = { ...a };
  if (r.type === 'gred') r.type = 'red';
  if (r.type === 'red') {
    r.minTh = Math.max(1, r.minTh as number);
    r.maxTh = Math.max((r.minTh as number) + 1, r.maxTh as number);
    r.wq = Math.max(r.wq as number, 1e-3);
  }
  if (r.type === 'pie') {
    for (const k of ['capdrop', 'derand', 'onoff', 'maxBurst']) delete r[k];
    if (!fqPie || r.maxEcnth === 0.123) delete r.maxEcnth;
    for (const k of ['alpha', 'beta']) if ((r[k] as number) > 2) delete r[k];
  }
  return r;
}

const fqArb = fc.record({ quantum: fc.integer({ min: 1, max: 9000 }), limit: fc.integer({ min: 1, max: 20480 }), flows: fc.integer({ min: 1, max: 65536 }) }, { requiredKeys: [] });

const pipe = fc.record(
  {
    bw: bandwidth,
    delay: duration,
    jitter,
    delayProfile,
    plr: probability,
    loss,
    duplicate: probability,
    corrupt: probability,
    reorder,
    queue,
    overhead: fc.integer({ min: -64, max: 1024 }),
    burst: size,
    scheduler: fc.constantFrom(...SCHEDULERS),
    mask,
    buckets,
    aqm: aqmArb,
    fq: fqArb,
  },
  { requiredKeys: [] },
);

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
export const objectName = fc.oneof(
  fc.constantFrom('up', 'down', 'p1', 'wan', '1', '10', '65535', 'a.b_c-d', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'),
  fc.stringMatching(NAME_RE),
);

const address = fc.oneof(
  fc.constantFrom('198.18.0.1', '198.18.0.0/24', '10.0.0.0/8', '2001:db8::/32', '2001:db8::1', 'any', '198.18.0.1, 198.18.0.2', '0.0.0.0/0', '::ffff:192.0.2.1'),
  fc.ipV4(),
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`),
  // IPv6 with an embedded IPv4 address (::ffff:1.2.3.4) is refused by the validator: mostly left out, so profiles validate
  fc.ipV6().filter((a) => !a.includes('.')),
  fc.array(fc.ipV4(), { minLength: 1, maxLength: 4 }),
  fc.tuple(fc.ipV6().filter((a) => !a.includes('.')), fc.integer({ min: 0, max: 128 })).map(([a, n]) => `${a}/${n}`),
  fc.constantFrom('2001:2::/48', '2001:2::1', '2001:2:0:1::/64', 'fe80::/10', '2001:2::1, 2001:2::2'),
);
const addressMatch = fc.oneof(address, address.filter((a) => a !== 'any').map((a) => ({ not: a })));

const port = fc.integer({ min: 0, max: 65535 });
const portRange = fc.tuple(port, port).map(([x, y]) => `${Math.min(x, y)}-${Math.max(x, y)}`);
const portMatch = fc.oneof(port, portRange, fc.constantFrom('22,53', 'any', '80'), fc.array(fc.oneof(port, portRange), { minLength: 1, maxLength: 5 }));
const protoOne = fc.oneof(fc.constantFrom(...PROTOCOLS), fc.integer({ min: 0, max: 255 }));
const proto = fc.oneof(protoOne, fc.array(protoOne, { minLength: 1, maxLength: 4 }));

const mac = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }), fc.option(fc.integer({ min: 1, max: 48 }), { nil: undefined }))
  .map(([bytes, bits]) => `${bytes.map((b) => b.toString(16).padStart(2, '0')).join(':')}${bits === undefined ? '' : `/${bits}`}`);

const PORT_PROTOS: unknown[] = ['tcp', 'udp', 'sctp', 'udplite', 6, 17, 132, 136];

/** A profile built to validate most of the time: references point at pipes and queues that exist, and the usual conflicts are repaired unless `raw`. */
export const profileArb = fc
  .record({
    name: fc.oneof(fc.constantFrom('wan-asym', 'x', 'seed-2-3'), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)),
    description: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    pipes: fc.array(fc.tuple(objectName, pipe), { maxLength: 5 }),
    queues: fc.array(fc.record({ name: objectName, pipe: fc.nat(), weight: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }), queue: fc.option(queue, { nil: undefined }), mask: fc.option(mask, { nil: undefined }), buckets: fc.option(buckets, { nil: undefined }), aqm: fc.option(aqmArb, { nil: undefined }) }), { maxLength: 4 }),
    rules: fc.array(
      fc.record(
        {
          number: fc.integer({ min: 1, max: 65535 }),
          target: fc.tuple(fc.constantFrom('pipe', 'queue', 'allow', 'deny'), fc.nat(), fc.boolean()),
          from: fc.constantFrom('a', 'b'),
          proto,
          src: addressMatch,
          dst: addressMatch,
          srcPort: portMatch,
          dstPort: portMatch,
          prob: probability,
          family: fc.constantFrom('ip4', 'ip6'),
          l2: fc.boolean(),
          dstMac: fc.oneof(fc.constantFrom('02:70:77:00:00:02', '02:70:77:00:00:00/24', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:00/25'), mac),
          srcMac: fc.oneof(fc.constantFrom('02:70:77:00:00:01', '02:70:77:00:00:00/40'), mac),
          macType: fc.oneof(fc.constantFrom('arp', 'ip', 'ipv6', 'vlan', '0x0806', '0x0800-0x86dd', 2054), fc.array(fc.constantFrom('arp', 'rarp', 34525, '0x8100-0x8101'), { minLength: 1, maxLength: 3 })),
        },
        { requiredKeys: ['target'] },
      ),
      { maxLength: 6 },
    ),
    default: fc.option(fc.constantFrom('allow', 'deny'), { nil: undefined }),
    raw: fc.oneof({ arbitrary: fc.constant(true), weight: 1 }, { arbitrary: fc.constant(false), weight: 4 }), // 1 in 5: conflicts (queue without bw, plr with loss, ...) left in
  })
  .map(({ name, description, pipes, queues, rules, default: dflt, raw }) => {
    const pipeObj: Record<string, Record<string, unknown>> = {};
    for (const [n, p] of pipes) {
      const q: Record<string, unknown> = { ...p };
      if (!raw) {
        if (q.bw === undefined && (q.queue !== undefined || q.burst !== undefined || q.overhead !== undefined || q.scheduler !== undefined)) q.bw = '10Mbit/s';
        if (q.loss !== undefined) delete q.plr;
        if (q.jitter !== undefined) delete q.delayProfile;
        const dp = q.delayProfile as { lossLevel?: number } | undefined;
        if (dp?.lossLevel === 0) delete dp.lossLevel;
        if (q.reorder !== undefined) q.delay = '10ms';
        if (q.mask === undefined) delete q.buckets;
        if (q.mask !== undefined && Object.keys(q.mask as object).length === 0) delete q.mask, delete q.buckets;
        if (q.aqm !== undefined || q.fq !== undefined) q.bw ??= '10Mbit/s';
        const fqType = q.scheduler === 'fq_codel' ? 'codel' : q.scheduler === 'fq_pie' ? 'pie' : undefined;
        if (!fqType) delete q.fq;
        else if ((q.aqm as { type: string } | undefined)?.type !== fqType) delete q.aqm;
        if (q.aqm !== undefined) q.aqm = repairAqm(q.aqm as Record<string, unknown>, q.scheduler === 'fq_pie');
        if ((q.aqm as { type?: string } | undefined)?.type === 'red') delete q.queue; // thresholds beyond a small queue
      }
      Object.defineProperty(pipeObj, n, { value: q, enumerable: true, writable: true, configurable: true });
    }
    const pipeNames = Object.keys(pipeObj);
    const queueObj: Record<string, Record<string, unknown>> = {};
    for (const { name: n, pipe: i, ...rest } of queues) {
      if (pipeNames.length === 0 && !raw) continue;
      const target = pipeNames.length ? pipeNames[i % pipeNames.length]! : 'nowhere';
      const q: Record<string, unknown> = { pipe: target };
      for (const [k, v] of Object.entries(rest)) if (v !== undefined) q[k] = v;
      if (!raw) {
        pipeObj[target]!.bw ??= '4Mbit/s';
        if (q.mask === undefined || Object.keys(q.mask as object).length === 0) delete q.mask, delete q.buckets;
      }
      Object.defineProperty(queueObj, n, { value: q, enumerable: true, writable: true, configurable: true });
    }
    const queueNames = Object.keys(queueObj);
    const ruleList = rules.map(({ target: [action, i, explicit], ...rest }) => {
      const r: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(rest)) if (v !== undefined) r[k] = v;
      const pool = action === 'pipe' ? pipeNames : action === 'queue' ? queueNames : [];
      if (action === 'pipe' || action === 'queue') {
        if (pool.length === 0 && !raw) r.action = 'allow';
        else {
          if (explicit) r.action = action;
          r[action] = pool.length ? pool[i % pool.length] : 'missing';
        }
      } else r.action = action;
      if (!raw && r.family !== undefined) {
        // a family takes that family's addresses: a side with none of them is left out
        for (const side of ['src', 'dst'] as const) {
          const value = r[side] as string | string[] | { not: string | string[] } | undefined;
          const inner = typeof value === 'object' && !Array.isArray(value) ? undefined : value;
          const text = Array.isArray(inner) ? inner.join(',') : inner;
          if (text !== undefined && text !== 'any' && text.includes(':') !== (r.family === 'ip6')) delete r[side];
        }
        const list = Array.isArray(r.proto) ? r.proto : r.proto === undefined ? [] : [r.proto];
        if (list.length && list.every((p) => ['icmp', 1, 'ipv6-icmp', 'icmp6', 58].includes(p as string | number))) delete r.proto;
      }
      if (!raw && (r.dstMac !== undefined || r.srcMac !== undefined || r.macType !== undefined)) {
        // frame conditions: a frame rule, and an Ethernet type only where no IP condition says it
        r.l2 = true;
        // (half the time the Ethernet type stays and the IP conditions go: by the rule number's parity)
        const ip = ['proto', 'src', 'dst', 'srcPort', 'dstPort', 'family'];
        if (r.macType !== undefined && (r.number as number) % 2 === 0) for (const k of ip) delete r[k];
        if (ip.some((k) => r[k] !== undefined)) delete r.macType;
      }
      if (!raw && (r.srcPort !== undefined || r.dstPort !== undefined)) {
        const list = Array.isArray(r.proto) ? r.proto : r.proto === undefined ? [] : [r.proto];
        if (list.some((p) => !PORT_PROTOS.includes(p))) r.proto = 'tcp';
      }
      return r;
    });
    return {
      name,
      ...(description !== undefined && { description }),
      pipes: pipeObj,
      ...(queueNames.length > 0 && { queues: queueObj }),
      rules: ruleList,
      ...(dflt !== undefined && { default: dflt }),
    };
  });

