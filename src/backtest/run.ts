import type { PlannerPolicy } from '../planner/index.js';
import { alwaysMode, perfectForesight, thresholdRun, type NodeRun } from './baselines.js';
import { MINING, TRAINING, buildMarket, type Market } from './market.js';
import type { PoolProfile } from './manifests.js';
import { replayPlanner, type FleetShape, type PlannerRun } from './replay.js';
import type { Trace } from './trace.js';

/** One backtest without a job trace: rigshift through the planner, and the baselines, on the same accounting. */

export const THRESHOLD_PERCENT = 5;

export interface StrategyFigures {
  revenueUsd: number;
  switches: number;
}

export interface BacktestReport {
  strategies: {
    rigshift: StrategyFigures;
    alwaysMine: StrategyFigures;
    alwaysRent: StrategyFigures;
    threshold: StrategyFigures;
    perfectForesight: StrategyFigures;
  };
  captureRatio: number | null;
  steps: number;
  seconds: number;
}

export interface BacktestDetail {
  report: BacktestReport;
  market: Market;
  shape: FleetShape;
  rigshift: PlannerRun;
  /** Per product: the baselines' runs of one node. */
  baselines: {
    alwaysMine: NodeRun[];
    alwaysRent: NodeRun[];
    threshold: NodeRun[];
    perfectForesight: NodeRun[];
  };
  /** Unrounded revenues, USD. */
  exact: Record<keyof BacktestReport['strategies'], number>;
}

export const cents = (usd: number): number => Math.round(usd * 100) / 100;

export function runBacktest(
  trace: Trace,
  pool: PoolProfile,
  policy: PlannerPolicy,
  shape: FleetShape,
  onProgress?: (done: number, total: number) => void,
): BacktestDetail {
  const started = performance.now();
  const market = buildMarket(trace, pool);
  const S = policy.switchingSeconds;
  const perNode = shape.gpusPerNode * shape.nodesPerProduct;
  const baselines = {
    alwaysMine: market.products.map((pm) => alwaysMode(pm, MINING, S)),
    alwaysRent: market.products.map((pm) => alwaysMode(pm, TRAINING, S)),
    threshold: market.products.map((pm) => thresholdRun(pm, THRESHOLD_PERCENT, policy.allowIdle, S)),
    perfectForesight: market.products.map((pm) => perfectForesight(pm, policy.allowIdle, S)),
  };
  const rigshift = replayPlanner(market, shape, policy, onProgress);
  const fleetOf = (runs: NodeRun[]) => ({
    revenue: runs.reduce((s, r) => s + r.revenuePerGpu * perNode, 0),
    switches: runs.reduce((s, r) => s + r.switches * shape.nodesPerProduct, 0),
  });
  const rig = { revenue: rigshift.revenue.reduce((s, x) => s + x, 0), switches: rigshift.switches };
  const mine = fleetOf(baselines.alwaysMine);
  const rent = fleetOf(baselines.alwaysRent);
  const thr = fleetOf(baselines.threshold);
  const pf = fleetOf(baselines.perfectForesight);
  const fig = (x: { revenue: number; switches: number }): StrategyFigures => ({
    revenueUsd: cents(x.revenue),
    switches: x.switches,
  });
  const report: BacktestReport = {
    strategies: {
      rigshift: fig(rig),
      alwaysMine: fig(mine),
      alwaysRent: fig(rent),
      threshold: fig(thr),
      perfectForesight: fig(pf),
    },
    captureRatio: pf.revenue > 0 ? Math.round((rig.revenue / pf.revenue) * 1e6) / 1e6 : null,
    steps: market.timeline.length,
    seconds: Math.round((performance.now() - started) / 10) / 100,
  };
  return {
    report,
    market,
    shape,
    rigshift,
    baselines,
    exact: {
      rigshift: rig.revenue,
      alwaysMine: mine.revenue,
      alwaysRent: rent.revenue,
      threshold: thr.revenue,
      perfectForesight: pf.revenue,
    },
  };
}
