import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { parseBandwidth, parseDuration, parseQueue, parseSize } from '../../src/profile/units.ts';

const bandwidths: [string | number, number][] = [
  [4_000_000, 4_000_000],
  ['256Kbit/s', 256_000],
  ['256 Kbit/s', 256_000],
  ['4Mbit/s', 4_000_000],
  ['4 Mbit/s', 4_000_000],
  ['4mbit/s', 4_000_000],
  ['4MBIT/S', 4_000_000],
  ['4Mbps', 4_000_000],
  ['4 mbps', 4_000_000],
  ['4Mbit', 4_000_000],
  ['4M', 4_000_000],
  ['1.5Gbit/s', 1_500_000_000],
  ['100bit/s', 100],
  ['100 bits/s', 100],
  ['100', 100],
  ['1e6bit/s', 1_000_000],
  ['10Byte/s', 80],
  ['10 bytes/s', 80],
  ['512KByte/s', 4_096_000],
  ['1MByte/s', 8_000_000],
  ['1MB/s', 8_000_000],
  ['1MBps', 8_000_000],
  ['1Mb/s', 1_000_000],
  ['2GByte/s', 16_000_000_000],
  ['3 Kbit/sec', 3_000],
];
for (const [text, bits] of bandwidths) {
  test(`the bandwidth ${JSON.stringify(text)} is ${bits} bit/s`, (t) => {
    t.is(parseBandwidth(text), bits);
  });
}

const badBandwidths: [string, RegExp][] = [
  ['4 furlongs', /^"4 furlongs": unknown bandwidth unit "furlongs"; allowed: bit\/s, Kbit\/s, Mbit\/s, Gbit\/s, Byte\/s, KByte\/s, MByte\/s/],
  ['4Tbit/s', /unknown bandwidth unit "Tbit\/s"/],
  ['4Mbps/s', /unknown bandwidth unit "Mbps\/s"/],
  ['fast', /^"fast" is not a bandwidth: write a number and a unit/],
  ['', /is not a bandwidth/],
  ['-4Mbit/s', /is not a bandwidth/],
];
for (const [text, message] of badBandwidths) {
  test(`the bandwidth ${JSON.stringify(text)} is refused, naming the unit and what is allowed`, (t) => {
    const e = t.throws(() => parseBandwidth(text), { instanceOf: UserError });
    t.regex(e!.message, message);
  });
}

const durations: [string | number, number][] = [
  [20, 20_000],
  [0.5, 500],
  ['20ms', 20_000],
  ['20 ms', 20_000],
  ['20MS', 20_000],
  ['20', 20_000],
  ['1.5s', 1_500_000],
  ['2 sec', 2_000_000],
  ['500us', 500],
  ['500µs', 500],
  ['500 usec', 500],
  ['0', 0],
];
for (const [text, us] of durations) {
  test(`the duration ${JSON.stringify(text)} is ${us} µs`, (t) => {
    t.is(parseDuration(text), us);
  });
}

test('a duration with an unknown unit names the unit and lists the allowed ones', (t) => {
  const e = t.throws(() => parseDuration('3 fortnights'), { instanceOf: UserError });
  t.is(e!.message, '"3 fortnights": unknown duration unit "fortnights"; allowed: us, ms, s; a bare number is milliseconds');
});

const sizes: [string, number][] = [
  ['64KB', 65_536],
  ['64 KB', 65_536],
  ['64kb', 65_536],
  ['64KiB', 65_536],
  ['64K', 65_536],
  ['1MB', 1_048_576],
  ['1.5MB', 1_572_864],
  ['1GB', 1_073_741_824],
  ['1514B', 1514],
  ['1514 bytes', 1514],
];
for (const [text, bytes] of sizes) {
  test(`the size ${JSON.stringify(text)} is ${bytes} bytes`, (t) => {
    t.is(parseSize(text), bytes);
  });
}

test('a size needs a unit, so that it is never taken for a count', (t) => {
  const e = t.throws(() => parseSize('65536'), { instanceOf: UserError });
  t.regex(e!.message, /unknown size unit ""; allowed: B, KB, MB, GB/);
});

test('a size in bits is refused: queues are in bytes or packets', (t) => {
  t.throws(() => parseSize('64Kbit'), { instanceOf: UserError, message: /unknown size unit "Kbit"/ });
});

const queues: [string | number, { packets: number } | { bytes: number }][] = [
  [50, { packets: 50 }],
  ['50', { packets: 50 }],
  ['50 packets', { packets: 50 }],
  ['50slots', { packets: 50 }],
  ['64KB', { bytes: 65_536 }],
];
for (const [text, queue] of queues) {
  test(`the queue ${JSON.stringify(text)} is ${JSON.stringify(queue)}, as ipfw reads it`, (t) => {
    t.deepEqual(parseQueue(text), queue);
  });
}

test('a queue that is neither a count nor a size says both are allowed', (t) => {
  t.throws(() => parseQueue('lots'), { instanceOf: UserError, message: /is not a size: .*, or a number of packets$/ });
});
