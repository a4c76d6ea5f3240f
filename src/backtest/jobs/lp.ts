import highsModule, { type Highs } from 'highs';
import { switchFactor } from '../../economics/accounting.js';
import { rentalNetPerGpuHour } from '../../economics/rates.js';
import { IDLE, MINING, type Market } from '../market.js';
import type { FleetShape } from '../replay.js';
import type { TraceJob } from './trace.js';
import { acceptedProducts } from './world.js';

/**
 * The upper bound of a job-trace backtest: the optimum of a linear relaxation, solved exactly by HiGHS.
 *
 * Relaxation: a product's nodes are interchangeable, so they are pooled (GPUs per product and step, not per
 * node). An Interruptible gang may run a fraction x ∈ [0, 1] of itself in any step of its window (from the
 * step after its submission to (run − 1) × (1 + patience in steps) after its last possible start: it may run
 * a step, be stopped and wait its patience again), for at most its run in steps. An OnDemand gang runs
 * contiguously from one start within its patience (a fraction of it from each start), its first step
 * switched. Every other GPU-step earns at most the best of its modes, a switch counted only where it cuts a
 * loss. Rows:
 * - per job: Σ x ≤ its run in steps (Interruptible), Σ starts ≤ 1 (OnDemand);
 * - per Interruptible job: Σ x after its first patience ≤ (run − 1) × Σ x within it: a job that has not started
 *   by then leaves, so only one that ran n ≥ 1 steps in time can run its other run − n steps later;
 * - per product and step: Σ GPUs × x ≤ the product's GPUs;
 * - per product, step and replica size q: replicas of q GPUs or more ≤ nodes × ⌊G / q⌋ (a node holds at most
 *   that many of them), which the pooled GPU count alone misses.
 * Columns whose job would earn no more than the GPUs' best free mode are left out (they are zero at the
 * optimum of this packing problem anyway), except an Interruptible job's steps within its first patience,
 * which may pay for themselves through the later runs they unlock. Every schedule the replay can run is a
 * feasible point, so no strategy can beat it.
 */

export const LP_BOUND_DESCRIPTION =
  'LP relaxation solved exactly (HiGHS): GPUs of a product pooled (no gang co-location beyond replicas per ' +
  'node), OnDemand runs contiguous but fractional, Interruptible runs in any steps of their window (after ' +
  'their first patience only as far as they ran within it), ' +
  'switching losses counted at OnDemand starts and elsewhere only where they cut a loss';

export interface LpBound {
  usd: number;
  columns: number;
  rows: number;
  seconds: number;
}

// The package's types.d.ts is read as CommonJS (its package type) while Node loads build/highs.mjs, whose
// default export is the loader itself.
const loadHighs = highsModule as unknown as typeof highsModule.default;
let highsLoaded: Promise<Highs> | undefined;

/** HiGHS, compiled to WebAssembly, loaded once per process. */
export function highs(): Promise<Highs> {
  const loaded = highsLoaded ?? loadHighs();
  highsLoaded = loaded;
  return loaded;
}

/** Best case of one GPU-step at `rate`: a switch can only reduce a loss. */
function ub(rate: number, f: number): number {
  return rate >= 0 ? rate : rate * f;
}

export async function jobsLpBound(
  market: Market,
  shape: FleetShape,
  trace: readonly TraceJob[],
  allowIdle: boolean,
  switchingSeconds: number,
  onLog?: (line: string) => void,
  /**
   * False: as if a stopped Interruptible job left instead of queueing again (a diagnostic of how much of the
   * bound comes from resuming paused work; not a bound on the replay, where stopped jobs resume).
   */
  resume = true,
): Promise<LpBound> {
  const started = performance.now();
  const products = market.products;
  const P = products.length;
  const first = products[0];
  if (!first) return { usd: 0, columns: 0, rows: 0, seconds: 0 };
  const K = first.series.startMs.length;
  const times = first.series.startMs;
  const hours = first.series.hours;
  const G = shape.gpusPerNode;
  const N = shape.nodesPerProduct;
  const cap = N * G;
  let minHours = Infinity;
  for (const h of hours) minHours = Math.min(minHours, h);

  // The best free GPU-step per product and step, and the fleet's value if it only mined or idled.
  const base = new Float64Array(P * K);
  let offset = 0;
  for (let p = 0; p < P; p++) {
    const pm = products[p]!;
    for (let k = 0; k < K; k++) {
      const f = switchFactor(switchingSeconds, hours[k] as number);
      let best = ub(pm.rate[MINING][k] as number, f);
      if (allowIdle) best = Math.max(best, ub(pm.rate[IDLE][k] as number, f));
      base[p * K + k] = (hours[k] as number) * best;
      offset += cap * (base[p * K + k] as number);
    }
  }

  // Replica sizes that need their own per-node row: ⌊G / q⌋ replicas of q GPUs or more fit on a node.
  const sizes = [...new Set(trace.map((j) => j.gpusPerReplica))]
    .filter((q) => q > 1 && q <= G)
    .sort((a, b) => a - b);
  const Q = sizes.length;
  const capRow = (p: number, k: number) => p * K + k;
  const sizeRow = (p: number, k: number, s: number) => P * K + (p * K + k) * Q + s;
  let rows = P * K * (1 + Q);

  const starts: number[] = [0];
  const indices: number[] = [];
  const values: number[] = [];
  const cost: number[] = [];
  const rowUpper: number[] = [];
  for (let p = 0; p < P; p++) for (let k = 0; k < K; k++) rowUpper.push(cap);
  for (let p = 0; p < P; p++)
    for (let k = 0; k < K; k++) for (const q of sizes) rowUpper.push(N * Math.floor(G / q));

  for (const spec of trace) {
    const accepted = acceptedProducts(spec, market, shape);
    if (accepted.length === 0 || spec.gpusPerReplica > G) continue;
    let from = 0;
    while (from < K && (times[from] as number) <= spec.submitMs) from++;
    let lastStart = from - 1;
    const deadline = spec.submitMs + spec.patienceHours * 3_600_000;
    while (lastStart + 1 < K && (times[lastStart + 1] as number) <= deadline) lastStart++;
    if (lastStart < from) continue;
    const gpus = spec.replicas * spec.gpusPerReplica;
    const jobRow = rows;
    // An Interruptible job's row of its later steps (after its first patience), or -1.
    let laterRow = -1;
    let columns = 0;
    const column = (gain: number, cells: [number, number][], later = 0) => {
      indices.push(jobRow);
      values.push(1);
      if (later !== 0) {
        indices.push(laterRow);
        values.push(later);
      }
      for (const [p, k] of cells) {
        indices.push(capRow(p, k));
        values.push(gpus);
        sizes.forEach((q, i) => {
          if (q <= spec.gpusPerReplica) {
            indices.push(sizeRow(p, k, i));
            values.push(spec.replicas);
          }
        });
      }
      starts.push(indices.length);
      cost.push(gain);
      columns++;
    };
    const netOf = (p: number, k: number) =>
      rentalNetPerGpuHour(
        spec.bid,
        products[p]!.profile.trainingWatts,
        products[p]!.series.electricity[k] as number,
      );
    if (spec.tier === 'OnDemand') {
      // One column per start step and product: the whole run, contiguous, its first step switched.
      for (let s = from; s <= lastStart; s++) {
        const endMs = (times[s] as number) + spec.durationHours * 3_600_000;
        for (const p of accepted) {
          let gain = 0;
          const cells: [number, number][] = [];
          for (let k = s; k < K && (times[k] as number) < endMs; k++) {
            const h = hours[k] as number;
            const rate = k === s ? netOf(p, k) * switchFactor(switchingSeconds, h) : netOf(p, k);
            gain += gpus * (h * rate - (base[p * K + k] as number));
            cells.push([p, k]);
          }
          if (gain > 1e-9) column(gain, cells);
        }
      }
      if (columns > 0) {
        rows++;
        rowUpper.push(1);
      }
      continue;
    }
    // Interruptible: a fraction of the gang in any step of its window, at most its run in steps. It may run
    // a step, be stopped, wait its patience again, and so on: its last step is at most (run − 1) × (1 +
    // patience in steps) after its last start.
    const run = Math.ceil(spec.durationHours / minHours - 1e-9);
    const patienceSteps = Math.floor(spec.patienceHours / minHours + 1e-9);
    const to = Math.min(K - 1, lastStart + (run - 1) * (resume ? 1 + patienceSteps : 1));
    // It runs after its first patience only if it ran before: steps after lastStart ≤ (run − 1) × steps up
    // to lastStart (a job that never started by then has left; one that ran n ≥ 1 steps has run − n left).
    if (to > lastStart && resume) laterRow = rows + 1;
    for (let k = from; k <= to; k++) {
      const h = hours[k] as number;
      const f = switchFactor(switchingSeconds, h);
      const later = laterRow < 0 ? 0 : k > lastStart ? 1 : -(run - 1);
      for (const p of accepted) {
        const gain = gpus * (h * ub(netOf(p, k), f) - (base[p * K + k] as number));
        // A losing step within its patience may still be worth it for the runs it unlocks later: kept.
        if (gain > 1e-9 || (later < 0 && k <= lastStart)) column(gain, [[p, k]], later);
      }
    }
    if (columns > 0) {
      rows++;
      rowUpper.push(run);
      if (laterRow >= 0) {
        rows++;
        rowUpper.push(0);
      }
    }
  }

  const numCols = cost.length;
  const built = (performance.now() - started) / 1000;
  onLog?.(`${numCols} columns, ${rows} rows, ${indices.length} nonzeros (built in ${built.toFixed(1)} s)`);
  if (numCols === 0) return { usd: offset, columns: 0, rows, seconds: built };

  const h = await highs();
  const model = h.createModel({
    numCols,
    numRows: rows,
    sense: h.constants.objectiveSense.maximize,
    offset,
    colCost: Float64Array.from(cost),
    colLower: new Float64Array(numCols),
    colUpper: new Float64Array(numCols).fill(1),
    rowLower: new Float64Array(rows).fill(-h.infinity),
    rowUpper: Float64Array.from(rowUpper),
    matrix: {
      format: 'csc',
      numRows: rows,
      numCols,
      starts: Int32Array.from(starts),
      indices: Int32Array.from(indices),
      values: Float64Array.from(values),
    },
  });
  try {
    model.options.set({ output_flag: onLog !== undefined, log_to_console: false });
    model.run(
      onLog
        ? {
            [h.constants.callbackType.logging]: (e) => {
              const line = e.message.trim();
              if (line !== '') onLog(line);
            },
          }
        : undefined,
    );
    const status = model.getModelStatus();
    if (status !== h.constants.modelStatus.optimal) {
      throw new Error(`the LP bound did not solve to optimality (HiGHS model status ${status})`);
    }
    return {
      usd: model.getObjectiveValue(),
      columns: numCols,
      rows,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    model.dispose();
  }
}
