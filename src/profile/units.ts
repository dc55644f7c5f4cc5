// The quantities a profile writes as text, parsed the way ipfw/dummynet reads them: bandwidths
// ("4Mbit/s", "4 Mbit/s", "4Mbps", "512KByte/s"), durations ("20ms", "1.5s", "500us") and sizes
// ("64KB", "1MB"). Bandwidths are decimal (K = 1000, as in ipfw and tc), sizes are binary
// (K = 1024, as in ipfw's `queue 64KB`). Every parser throws a UserError naming the text, the unit
// and the units it accepts.
import { UserError } from '../common/errors.ts';

/** What a bandwidth may say, for error messages and the schema's description. */
export const BANDWIDTH_UNITS = 'bit/s, Kbit/s, Mbit/s, Gbit/s, Byte/s, KByte/s, MByte/s, GByte/s; also bps, Kbps, Mbps, Gbps; B is a byte, b a bit';
/** What a duration may say. */
export const DURATION_UNITS = 'us, ms, s; a bare number is milliseconds';
/** What a size may say. */
export const SIZE_UNITS = 'B, KB, MB, GB with K = 1024; also KiB, MiB, GiB, bytes';

const DECIMAL_PREFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 };
const BINARY_PREFIX: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Splits "4 Mbit/s" into the number and what follows it; rejects text that does not start with a number. */
function split(text: string, what: string, allowed: string): { value: number; unit: string } {
  // trimmed first, and no two adjacent patterns that both take spaces: linear on any input (fuzzed)
  const m = /^(\d+(?:\.\d*)?|\.\d+)(?:e([+-]?\d+))?\s*([\s\S]*)$/i.exec(text.trim());
  if (!m) throw new UserError(`${JSON.stringify(text)} is not a ${what}: write a number and a unit (${allowed})`);
  return { value: Number(m[1]) * 10 ** Number(m[2] ?? 0), unit: m[3]! };
}

/** A bandwidth in bit/s: a number is already bit/s; text is "<number> <unit>" in any of BANDWIDTH_UNITS. */
export function parseBandwidth(input: string | number): number {
  if (typeof input === 'number') return input;
  const { value, unit } = split(input, 'bandwidth', BANDWIDTH_UNITS);
  // "/s" is optional (ipfw writes it, tc does not); then a decimal prefix and the unit word
  const compact = unit.replace(/\s+/g, '');
  const perSecond = /\/s(ec)?$/i.exec(compact);
  const [, prefix, word] = /^([kmg]?)(.*)$/i.exec(perSecond ? compact.slice(0, perSecond.index) : compact)!;
  const bits = word === '' || word === 'b' || /^bits?$/i.test(word!) || (!perSecond && word === 'bps');
  const bytes = word === 'B' || /^bytes?$/i.test(word!) || (!perSecond && word === 'Bps');
  if (!bits && !bytes) throw new UserError(`${JSON.stringify(input)}: unknown bandwidth unit ${JSON.stringify(unit)}; allowed: ${BANDWIDTH_UNITS}`);
  return value * DECIMAL_PREFIX[prefix!.toLowerCase()]! * (bytes ? 8 : 1);
}

const DURATION: Record<string, number> = { us: 1, 'µs': 1, 'μs': 1, usec: 1, ms: 1e3, msec: 1e3, s: 1e6, sec: 1e6 };

/** A duration in microseconds: a number is milliseconds (as ipfw's `delay 20`); text is "<number><unit>". */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') return Math.round(input * 1e3);
  const { value, unit } = split(input, 'duration', DURATION_UNITS);
  const scale = unit === '' ? 1e3 : DURATION[unit.toLowerCase()];
  if (scale === undefined) throw new UserError(`${JSON.stringify(input)}: unknown duration unit ${JSON.stringify(unit)}; allowed: ${DURATION_UNITS}`);
  return Math.round(value * scale);
}

/** A size in bytes: "<number><unit>" with one of SIZE_UNITS; a unit is required, so a size is never mistaken for a count. */
export function parseSize(input: string): number {
  const { value, unit } = split(input, 'size', SIZE_UNITS);
  const m = /^([kmg]?)(?:i?b|bytes?)?$/i.exec(unit);
  if (!m || unit === '') throw new UserError(`${JSON.stringify(input)}: unknown size unit ${JSON.stringify(unit)}; allowed: ${SIZE_UNITS}`);
  return Math.round(value * BINARY_PREFIX[m[1]!.toLowerCase()]!);
}

/** A queue, as ipfw's `queue`: a number (or a string without unit, or "N packets"/"N slots") counts packets; a size counts bytes. */
export function parseQueue(input: string | number): { packets: number } | { bytes: number } {
  if (typeof input === 'number') return { packets: input };
  const count = /^(\d+)\s*(packets?|slots?|p)?$/i.exec(input.trim());
  if (count) return { packets: Number(count[1]) };
  try {
    return { bytes: parseSize(input) };
  } catch (e) {
    throw new UserError(`${(e as Error).message}, or a number of packets`);
  }
}
