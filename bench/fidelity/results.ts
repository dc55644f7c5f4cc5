// The shape of bench/fidelity-results.json: every figure with its configuration, the machine and the date.
import type { AqmRow } from './aqm.ts';
import type { BdpRow } from './bdp.ts';
import type { ChangeResult } from './change.ts';
import type { CostResult } from './cost.ts';
import type { DelayRow, JitterRun } from './delay.ts';
import type { FormulaRow } from './formula.ts';
import type { LossRow } from './loss.ts';
import type { QueueRun } from './queue.ts';
import type { RateRow } from './rate.ts';

export interface FidelityResults {
  date: string;
  /** loadAvg: the host's 1-minute load average, before and after (other VMs running at the same time raise it) */
  machine: { model: string; nproc: number; qemu: string; loadAvgAtStart?: number; loadAvgAtEnd?: number };
  image: string;
  mode: 'full' | 'quick';
  durationS: number;
  /** groups or steps that failed, with why: their figures are missing */
  errors: string[];
  /** the plain bridge's median ping RTT (the wrappers' baseline), ms */
  plainBaselineMs?: number;
  delay?: DelayRow[];
  /** picowire first, then netem's own jitter */
  jitter?: JitterRun[];
  /** picowire's rows, then each wrapper's */
  formula?: FormulaRow[];
  rate?: RateRow[];
  loss?: LossRow[];
  queue?: QueueRun[];
  bdp?: BdpRow[];
  change?: ChangeResult;
  /** queue management under load: droptail, RED, CoDel, PIE, fq_codel */
  aqm?: AqmRow[];
  cost?: CostResult;
  /** steps measured again later (run.ts --only) and merged in, with the errors they replaced */
  supplements?: { date: string; steps: string[]; durationS: number; /** the host's 1-minute load average at its start and end */ loadAvg?: (number | undefined)[]; replaced: string[] }[];
  /**
   * The same picowire cases on the dummynet engine (`"engine": "dummynet"`), in the same boot after
   * the tc engine's and the wrappers'; `refused`: the cases the engine cannot express, with its refusal
   */
  dummynet?: Pick<FidelityResults, 'delay' | 'formula' | 'rate' | 'loss' | 'queue' | 'bdp' | 'change' | 'aqm'> & { refused: { case: string; error: string }[] };
  /** whether `picowire apply` worked over a kernel whose qdiscs and table someone else had removed */
  reapply?: { applyWorked: boolean; error?: string };
}
