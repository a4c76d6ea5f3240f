/**
 * Revenue of what the cluster actually did, on the backtest's accounting: each market step, every GPU is
 * mining, training (for one job, at its bid) or idle; a GPU whose mode or job changed since the step before
 * loses the first switching seconds of the step. Always-mine is the yardstick shown beside it.
 */

export interface GpuUse {
  mining: number;
  idle: number;
  /** job key → GPUs, with the job's bid in USD per GPU-hour. */
  jobs: ReadonlyMap<string, { gpus: number; bidUsdPerGpuHour: number }>;
}

export interface StepRates {
  /** Mining yield net of power, USD per GPU-hour. */
  mining: number;
  /** Power a training GPU burns, USD per GPU-hour (subtracted from the bid). */
  trainingPower: number;
  /** What an idle GPU costs, USD per GPU-hour (negative or zero). */
  idle: number;
}

export interface NodeStep {
  node: string;
  gpus: number;
  use: GpuUse;
  rates: StepRates;
}

/** Earnings of one node over one step, with the switching loss on the GPUs whose assignment changed. */
export function nodeStepUsd(
  before: GpuUse | undefined,
  s: NodeStep,
  hours: number,
  switchingSeconds: number,
): { mining: number; training: number; idle: number; moved: number } {
  // Every node starts the replay mining, as in the backtest: no loss on the first step.
  const kept = (now: number, was: number | undefined): number => (before ? Math.min(now, was ?? 0) : now);
  const lost = 1 - Math.min(1, switchingSeconds / 3600 / hours);
  const earn = (gpus: number, was: number | undefined, rate: number): [number, number] => {
    const stay = kept(gpus, was);
    return [(stay + (gpus - stay) * lost) * rate * hours, gpus - stay];
  };
  const [mining, m1] = earn(s.use.mining, before?.mining, s.rates.mining);
  const [idle, m2] = earn(s.use.idle, before?.idle, s.rates.idle);
  let training = 0;
  let moved = m1 + m2;
  for (const [job, j] of s.use.jobs) {
    const [usd, m] = earn(j.gpus, before?.jobs.get(job)?.gpus, j.bidUsdPerGpuHour - s.rates.trainingPower);
    training += usd;
    moved += m;
  }
  return { mining, training, idle, moved };
}

export class Ledger {
  private readonly last = new Map<string, GpuUse>();
  revenueUsd = 0;
  alwaysMineUsd = 0;
  byMode = { mining: 0, training: 0, idle: 0 };
  /** Node-steps in which at least one GPU changed assignment. */
  switches = 0;

  constructor(private readonly switchingSeconds: number) {}

  /** Books one step of `hours` for every node. */
  book(steps: readonly NodeStep[], hours: number): void {
    for (const s of steps) {
      const r = nodeStepUsd(this.last.get(s.node), s, hours, this.switchingSeconds);
      if (r.moved > 0) this.switches++;
      this.byMode.mining += r.mining;
      this.byMode.training += r.training;
      this.byMode.idle += r.idle;
      this.revenueUsd += r.mining + r.training + r.idle;
      this.alwaysMineUsd += s.gpus * s.rates.mining * hours;
      this.last.set(s.node, s.use);
    }
  }
}
