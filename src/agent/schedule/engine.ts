// What a schedule runner needs of an engine: "set this pipe's values now". The runner
// (runner.ts) knows the clocks and when each pipe's values change (src/profile/timed.ts); an engine
// knows how its data plane takes the change: the tc engine (tc.ts) changes HTB classes, netem and
// plug qdiscs in place through one long-lived `tc -batch -`. The dummynet engine's is to follow
// (docs/schedules.md): `pipe N config bw B delay D plr P` through its own ipfw session.
import type { TimedValues } from '../../profile/timed.ts';

/** One pipe's new values; `was` is what the engine last set (absent: set everything). */
export interface PipeChange {
  pipe: string;
  values: TimedValues;
  was?: TimedValues;
}

export interface TimedEngine {
  /** Sets the pipes' values at once (one batch); returns the data plane's complaint, or undefined. */
  set(changes: PipeChange[]): Promise<string | undefined>;
}
