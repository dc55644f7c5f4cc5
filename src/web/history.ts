// The last minutes of samples per pipe instance and queue, as the columns uPlot draws: one array of
// times and one per measure. Old points fall off the front so a page left open stays small.
import type { Sample } from './rates.ts';

/** How much the page keeps: five minutes of one-second samples. */
export const KEEP_SECONDS = 300;

/** The measures charted, in the order of a series' columns after time. */
export const MEASURES = ['bitsPerS', 'randomDropsPerS', 'overflowDropsPerS', 'queueBytes', 'delayMs'] as const;
export type Measure = (typeof MEASURES)[number];

/** One instance's columns: x (seconds since the epoch) then each measure. */
export interface Series {
  time: number[];
  columns: Record<Measure, (number | null)[]>;
}

/** Every instance's series, by key. */
export class History {
  readonly series = new Map<string, Series>();

  /** Adds one event's samples at `time` (seconds); drops points older than KEEP_SECONDS and instances the event does not report. */
  add(time: number, samples: Sample[]): void {
    for (const s of samples) {
      let series = this.series.get(s.key);
      if (!series) this.series.set(s.key, (series = { time: [], columns: Object.fromEntries(MEASURES.map((m) => [m, []])) as unknown as Series['columns'] }));
      series.time.push(time);
      for (const m of MEASURES) series.columns[m].push(s[m]);
    }
    for (const series of this.series.values()) {
      const old = series.time.findIndex((t) => t > time - KEEP_SECONDS);
      const cut = old === -1 ? series.time.length : old;
      if (cut === 0) continue;
      series.time.splice(0, cut);
      for (const m of MEASURES) series.columns[m].splice(0, cut);
    }
    // an instance the box no longer reports (another profile, a mask instance gone idle) leaves the page
    const reported = new Set(samples.map((s) => s.key));
    for (const key of this.series.keys()) if (!reported.has(key)) this.series.delete(key);
  }

  /** A measure's mean over the last `seconds`, each sample weighted by the time since the one before (so the bytes over the time, for a rate); unknowns skipped; null when there is none. */
  recentMean(key: string, measure: Measure, seconds: number): number | null {
    const series = this.series.get(key);
    if (!series || series.time.length === 0) return null;
    const { time } = series;
    const since = time[time.length - 1]! - seconds;
    let sum = 0;
    let total = 0;
    series.columns[measure].forEach((v, i) => {
      if (v === null || i === 0 || time[i]! <= since) return;
      sum += v * (time[i]! - time[i - 1]!);
      total += time[i]! - time[i - 1]!;
    });
    return total > 0 ? sum / total : null;
  }
}
