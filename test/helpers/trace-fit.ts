// What a Mahimahi trace allows per window, and the measured windows' best alignment with it: the
// trace's clock starts when the profile is applied, the measurement later, so the offset between
// them is found as the shift (in steps of `stepMs`) that makes the two agree best.

/** The trace's opportunity times, ms, and its period. */
function stamps(trace: string): { ms: number[]; period: number } {
  const ms = trace.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number);
  return { ms, period: ms.at(-1)! };
}

/** For a shift s (ms into the trace), the bytes each `windowMs` window from s allows: opportunities × `bytes`. */
export function traceAllowance(trace: string, windowMs: number, bytes: number): (shiftMs: number, count: number) => number[] {
  const { ms, period } = stamps(trace);
  // opportunities per millisecond of one period (the last line is the next loop's 0)
  const perMs = new Array<number>(period).fill(0);
  for (const t of ms) perMs[t % period]!++;
  return (shiftMs, count) =>
    Array.from({ length: count }, (_, w) => {
      let n = 0;
      for (let i = 0; i < windowMs; i++) n += perMs[(shiftMs + w * windowMs + i) % period]!;
      return n * bytes;
    });
}

/** The shift that makes `measured` (one value per window) closest to what the trace allows, in total absolute difference. */
export function align(measured: number[], allowance: (shiftMs: number, count: number) => number[], stepMs: number, periodMs = 8000): { shiftMs: number; allowed: number[] } {
  let best = { shiftMs: 0, allowed: allowance(0, measured.length), error: Infinity };
  for (let s = 0; s < periodMs; s += stepMs) {
    const allowed = allowance(s, measured.length);
    const error = measured.reduce((sum, m, i) => sum + Math.abs(m - allowed[i]!), 0);
    if (error < best.error) best = { shiftMs: s, allowed, error };
  }
  return { shiftMs: best.shiftMs, allowed: best.allowed };
}
