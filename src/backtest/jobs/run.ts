import type { PlannerPolicy } from '../../planner/index.js';
import type { FleetSeries } from '../chart.js';
import type { PoolProfile } from '../manifests.js';
import { buildMarket, type Market } from '../market.js';
import type { FleetShape } from '../replay.js';
import { THRESHOLD_PERCENT, cents } from '../run.js';
import type { Trace } from '../trace.js';
import { LP_BOUND_DESCRIPTION, jobsLpBound, type LpBound } from './lp.js';
import {
  alwaysMineStrategy,
  alwaysRentStrategy,
  greedyStrategy,
  rigshiftStrategy,
  thresholdStrategy,
} from './strategies.js';
import { assertJobsWithin, type TraceJob } from './trace.js';
import { World, type Composition, type JobCounts, type StepRecord, type Strategy } from './world.js';

/** A backtest with a job trace: demand arrives instead of an unlimited market. */

export interface JobsStrategyFigures {
  revenueUsd: number;
  /** GPUs whose mode or job changed, summed over steps. */
  switches: number;
  jobs: JobCounts;
}

export interface JobsReport {
  strategies: {
    rigshift: JobsStrategyFigures;
    alwaysMine: JobsStrategyFigures;
    alwaysRent: JobsStrategyFigures;
    greedy: JobsStrategyFigures;
    threshold: JobsStrategyFigures;
    perfectForesight: { revenueUsd: number; switches: number; bound: string };
  };
  /**
   * The LP behind perfectForesight: its size and solve time; withoutResumeUsd, the same LP as if a stopped
   * Interruptible job left instead of queueing again (how much of the bound resuming paused work makes; not a
   * bound: the replay resumes them, rigshift included).
   */
  lp: { columns: number; rows: number; seconds: number; withoutResumeUsd: number };
  captureRatio: number | null;
  steps: number;
  seconds: number;
  jobs: number;
}

export interface JobsDetail {
  report: JobsReport;
  market: Market;
  shape: FleetShape;
  fleet: FleetSeries;
  /** rigshift's step records, for the decisions CSV. */
  records: { t: number; node: number; mining: number; idle: number; jobs: [number, number][] }[];
  world: World;
  exact: { rigshift: number; bound: number };
}

function assertAligned(market: Market): void {
  const [first, ...rest] = market.products;
  for (const pm of rest) {
    const a = first!.series.startMs;
    const b = pm.series.startMs;
    if (a.length !== b.length || a.some((t, i) => t !== b[i])) {
      throw new Error(
        `a job-trace backtest needs every product on the same time steps; ${pm.series.product} differs from ${first!.series.product}`,
      );
    }
  }
}

export interface JobsOptions {
  onProgress?: (done: number, total: number) => void;
  /** The LP solver's progress lines. */
  onLog?: (line: string) => void;
  /** The job trace's name, for errors. */
  jobsName?: string;
}

export async function runJobsBacktest(
  trace: Trace,
  jobs: readonly TraceJob[],
  pool: PoolProfile,
  policy: PlannerPolicy,
  shape: FleetShape,
  options: JobsOptions = {},
): Promise<JobsDetail> {
  const onProgress = options.onProgress;
  const started = performance.now();
  const market = buildMarket(trace, pool);
  assertAligned(market);
  const steps = market.products[0]?.series;
  if (steps && steps.startMs.length > 0) {
    const last = steps.startMs.length - 1;
    assertJobsWithin(
      jobs,
      {
        startMs: steps.startMs[0] as number,
        endMs: (steps.startMs[last] as number) + (steps.hours[last] as number) * 3_600_000,
      },
      options.jobsName,
    );
  }
  const S = policy.switchingSeconds;
  const T = market.timeline.length;
  const fleet: FleetSeries = {
    mining: new Float64Array(T),
    training: new Float64Array(T),
    idle: new Float64Array(T),
  };
  const records: JobsDetail['records'] = [];
  const record = (r: StepRecord) => {
    const c: Composition = r.comp;
    let training = 0;
    for (const g of c.jobs.values()) training += g;
    fleet.mining[r.t] = (fleet.mining[r.t] as number) + c.mining;
    fleet.idle[r.t] = (fleet.idle[r.t] as number) + c.idle;
    fleet.training[r.t] = (fleet.training[r.t] as number) + training;
    records.push({ t: r.t, node: r.node, mining: c.mining, idle: c.idle, jobs: [...c.jobs] });
  };
  const strategies: [string, Strategy][] = [
    ['alwaysMine', alwaysMineStrategy()],
    ['alwaysRent', alwaysRentStrategy(policy.allowIdle)],
    ['greedy', greedyStrategy()],
    ['threshold', thresholdStrategy(THRESHOLD_PERCENT, policy.allowIdle)],
  ];
  const total = T * (strategies.length + 1);
  let done = 0;
  const tick = (d: number) => onProgress?.(done + d, total);
  const rigWorld = new World(market, shape, jobs, S, record);
  const rig = rigWorld.run(rigshiftStrategy(policy), tick);
  done += T;
  const results: Record<string, JobsStrategyFigures> = {};
  for (const [name, strategy] of strategies) {
    const r = new World(market, shape, jobs, S).run(strategy, tick);
    done += T;
    results[name] = { revenueUsd: cents(r.revenue), switches: r.switches, jobs: r.counts };
  }
  const bound: LpBound = await jobsLpBound(market, shape, jobs, policy.allowIdle, S, options.onLog);
  const withoutResume = await jobsLpBound(market, shape, jobs, policy.allowIdle, S, undefined, false);
  const report: JobsReport = {
    strategies: {
      rigshift: { revenueUsd: cents(rig.revenue), switches: rig.switches, jobs: rig.counts },
      alwaysMine: results.alwaysMine!,
      alwaysRent: results.alwaysRent!,
      greedy: results.greedy!,
      threshold: results.threshold!,
      perfectForesight: { revenueUsd: cents(bound.usd), switches: 0, bound: LP_BOUND_DESCRIPTION },
    },
    lp: {
      columns: bound.columns,
      rows: bound.rows,
      seconds: Math.round(bound.seconds * 100) / 100,
      withoutResumeUsd: cents(withoutResume.usd),
    },
    captureRatio: bound.usd > 0 ? Math.round((rig.revenue / bound.usd) * 1e6) / 1e6 : null,
    steps: T,
    seconds: Math.round((performance.now() - started) / 10) / 100,
    jobs: jobs.length,
  };
  return {
    report,
    market,
    shape,
    fleet,
    records,
    world: rigWorld,
    exact: { rigshift: rig.revenue, bound: bound.usd },
  };
}
