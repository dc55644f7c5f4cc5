// dummynet's empirical delay profile files (ipfw(8), EMPIRICAL DELAY PROFILE) read into the JSON
// profile's delayProfile, directly and through `pipe N config profile FILE`.
import test from 'ava';
import { parseDelayProfile } from '../../src/ipfw/delay-profile.ts';
import { parseIpfw } from '../../src/ipfw/index.ts';
import { validateProfile } from '../../src/profile/validate.ts';

// the layout ipfw(8) describes: keywords, then a "prob delay" line and the points (delays in ms)
const WIFI = `# a lossy wireless hop
name      wifi-hop
samples   100
bw        10Mbit/s
loss-level 0.95
prob delay
0.0   2
0.5   4.5
0.9   12
1.0   40
`;

test('a profile file gives the points (sorted), the loss level and the link bandwidth it names', (t) => {
  t.deepEqual(parseDelayProfile(WIFI, 'wifi.prof'), {
    name: 'wifi-hop',
    bw: '10Mbit/s',
    delayProfile: { samples: [{ prob: 0, delay: 2 }, { prob: 0.5, delay: 4.5 }, { prob: 0.9, delay: 12 }, { prob: 1, delay: 40 }], lossLevel: 0.95 },
  });
  // "delay prob" puts the delay first; points in any order; no loss-level is none
  t.deepEqual(parseDelayProfile('delay prob\n30 1\n5 0.2\n', 'x'), { delayProfile: { samples: [{ prob: 0.2, delay: 5 }, { prob: 1, delay: 30 }] } });
});

test('mistakes name the file, the line and what is allowed', (t) => {
  const e = (text: string) => t.throws(() => parseDelayProfile(text, 'p.prof'))?.message;
  t.is(e('prob delay\n0 1\n'), 'p.prof: 1 points; a delay profile needs at least 2 (after a "prob delay" line, a probability and a delay in ms a line)');
  t.is(e('prob delay\n1.5 3\n0 1\n'), 'p.prof, line 2: 1.5 3: the probability 1.5 is above 1; allowed: from 0 to 1');
  t.is(e('speed 3\n'), 'p.prof, line 1: speed 3: "speed" is not a keyword of a delay profile; allowed: name, samples, bw, loss-level, "prob delay" or "delay prob" and then the points');
  t.is(e('bw fast\n'), 'p.prof, line 1: bw fast: "fast" is not a bandwidth; allowed: a number and a unit such as 4Mbit/s (bit/s, Kbit/s, Mbit/s, Gbit/s, Byte/s, KByte/s, MByte/s, GByte/s; also bps, Kbps, Mbps, Gbps; B is a byte, b a bit)');
});

test('pipe N config profile FILE reads the file where picowire ipfw runs; its bw yields to one the command gives; without a reader it is refused saying why', (t) => {
  const files = { readFile: (path: string) => (path === '/tmp/wifi.prof' ? WIFI : (() => { throw new Error(`ENOENT: no such file, open '${path}'`); })()) };
  const p = parseIpfw('pipe 1 config delay 10ms profile /tmp/wifi.prof\nipfw add 100 pipe 1 ip from any to any out', 'wifi', files);
  t.deepEqual(p.pipes['1'], { bw: '10Mbit/s', delay: '10ms', delayProfile: { samples: [{ prob: 0, delay: 2 }, { prob: 0.5, delay: 4.5 }, { prob: 0.9, delay: 12 }, { prob: 1, delay: 40 }], lossLevel: 0.95 } });
  t.true(validateProfile(p).ok, JSON.stringify(validateProfile(p)));
  t.is(parseIpfw('pipe 1 config bw 2Mbit/s profile /tmp/wifi.prof', 'x', files).pipes['1']!.bw, '2Mbit/s');
  t.is(t.throws(() => parseIpfw('pipe 1 config profile /nope', 'x', files))?.message, 'line 1: pipe 1 config profile /nope: "/nope" cannot be read: ENOENT: no such file, open \'/nope\'');
  t.regex(t.throws(() => parseIpfw('pipe 1 config profile /tmp/wifi.prof'))?.message ?? '', /the file is not where this text is read .* write the curve as "delayProfile" of the pipe in a JSON profile/);
});
