// A synthetic cellular-like trace in Mahimahi's format, written by this generator (no recorded
// trace is copied): a capacity that wanders around a mean by a seeded random walk, with fades (a
// few hundred ms at a fraction of the mean) and, optionally, outages (no opportunity at all), as a
// phone on a train sees. Each line is a millisecond at which one 1500-byte packet may leave.
//
//   npx tsx src/lab/cellular-trace.ts --seconds 10 --mean 4e6 --seed 7 > trace.txt
import { fileURLToPath } from 'node:url';

export interface CellularOptions {
  seconds: number;
  /** mean capacity, bit/s (of 1500-byte packets) */
  meanBps: number;
  seed: number;
  /** outages: [start s, length s] */
  outages?: [number, number][];
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same trace. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The capacity (bit/s) of each 100 ms of the trace, before it becomes opportunities. */
export function cellularRates(o: CellularOptions): number[] {
  const random = prng(o.seed);
  const out: number[] = [];
  let level = 1;
  let fade = 0;
  for (let i = 0; i < o.seconds * 10; i++) {
    level = Math.min(1.8, Math.max(0.3, level + (random() - 0.5) * 0.3));
    if (fade === 0 && random() < 0.03) fade = 2 + Math.floor(random() * 4);
    const factor = fade > 0 ? 0.25 : level;
    if (fade > 0) fade--;
    const s = i / 10;
    const out_ = (o.outages ?? []).some(([start, length]) => s >= start && s < start + length);
    out.push(out_ ? 0 : o.meanBps * factor);
  }
  return out;
}

/** The trace's text: the opportunities of each 100 ms spread evenly over its milliseconds. */
export function cellularTrace(o: CellularOptions): string {
  const lines: number[] = [];
  let carry = 0;
  cellularRates(o).forEach((bps, i) => {
    for (let ms = 1; ms <= 100; ms++) {
      carry += bps / 8 / 1500 / 1000;
      while (carry >= 1) {
        lines.push(i * 100 + ms);
        carry -= 1;
      }
    }
  });
  // Mahimahi loops at the last line: end the trace on its last millisecond
  const end = o.seconds * 1000;
  if (lines.at(-1) !== end) lines.push(end);
  return lines.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  process.stdout.write(cellularTrace({ seconds: arg('seconds', 10), meanBps: arg('mean', 4e6), seed: arg('seed', 7) }));
}
