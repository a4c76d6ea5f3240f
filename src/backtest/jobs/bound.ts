import { switchFactor } from '../../economics/accounting.js';
import { rentalNetPerGpuHour } from '../../economics/rates.js';
import { IDLE, MINING, type Market } from '../market.js';
import type { FleetShape } from '../replay.js';
import type { TraceJob } from './trace.js';

/**
 * An honest upper bound on what any policy can earn with a job trace: the exact optimum (gangs on nodes,
 * contiguous runs, switching losses, patience) is a hard scheduling problem, so we bound it by a relaxation
 * and its Lagrangian dual.
 *
 * Relaxation: each product's GPUs form one pool (no node boundaries, no gang co-location); a job may use up
 * to its GPUs in any steps of its window (from the step after submission to its last possible start plus its
 * run; to the end of the trace for an interruptible job, which may be stopped and resumed) for at most its run
 * length, not necessarily contiguous; every GPU-step earns at most the best of its
 * modes, counting a switch only when it helps (a switch halves no gain but does cut a loss). Dualising each
 * step's GPU capacity with prices λ ≥ 0 gives, for every λ,
 *   bound(λ) = Σ capacity × (best free rate + λ) + Σ_jobs GPUs × (sum of its best run-length steps of
 *              (job's extra over the free rate − λ), where positive),
 * each one a valid upper bound. Subgradient steps lower it; the smallest value seen is reported.
 */

export const BOUND_DESCRIPTION =
  'Lagrangian relaxation: GPUs of a product pooled (no node boundaries or gang co-location), runs need not be ' +
  'contiguous, switching losses counted only where they cut a loss; capacity prices tuned by subgradient';

/** Best case of one GPU-step at `rate`: a switch can only reduce a loss. */
function ub(rate: number, f: number): number {
  return rate >= 0 ? rate : rate * f;
}

export interface BoundResult {
  usd: number;
  iterations: number;
}

export function jobsUpperBound(
  market: Market,
  shape: FleetShape,
  trace: readonly TraceJob[],
  allowIdle: boolean,
  switchingSeconds: number,
  lowerBound: number,
  maxIterations = 20,
): BoundResult {
  const products = market.products;
  const P = products.length;
  const first = products[0];
  if (!first) return { usd: 0, iterations: 0 };
  const K = first.series.startMs.length;
  const times = first.series.startMs;
  const cap = shape.nodesPerProduct * shape.gpusPerNode;

  // Free rate per GPU-step and job extras, per product and step.
  const hours = first.series.hours;
  let minHours = Infinity;
  for (const h of hours) minHours = Math.min(minHours, h);
  const base = new Float64Array(P * K);
  let B = 0;
  for (let p = 0; p < P; p++) {
    const pm = products[p]!;
    for (let k = 0; k < K; k++) {
      const f = switchFactor(switchingSeconds, hours[k] as number);
      let best = ub(pm.rate[MINING][k] as number, f);
      if (allowIdle) best = Math.max(best, ub(pm.rate[IDLE][k] as number, f));
      base[p * K + k] = best;
      B += cap * (hours[k] as number) * best;
    }
  }

  interface J {
    gpus: number;
    run: number;
    from: number;
    to: number;
    products: number[];
    /** extra[(k - from) * P + p], per GPU, over the window (−Infinity where the product is not accepted). */
    extra: Float64Array;
  }
  const productIndex = new Map(products.map((pm, i) => [pm.series.product, i]));
  const jobs: J[] = [];
  for (const spec of trace) {
    const accepted =
      spec.product === ''
        ? products.map((_, i) => i)
        : productIndex.has(spec.product)
          ? [productIndex.get(spec.product)!]
          : [];
    if (accepted.length === 0 || spec.gpusPerReplica > shape.gpusPerNode) continue;
    let from = 0;
    while (from < K && (times[from] as number) <= spec.submitMs) from++;
    let lastStart = from - 1;
    const deadline = spec.submitMs + spec.patienceHours * 3_600_000;
    while (lastStart + 1 < K && (times[lastStart + 1] as number) <= deadline) lastStart++;
    if (lastStart < from) continue;
    // Steps it can occupy at most: its run rounded up to the shortest step. An interruptible job can be
    // stopped and resumed, so its window runs to the end of the trace.
    const run = Math.ceil(spec.durationHours / minHours - 1e-9);
    if (run === 0) continue;
    const to = spec.tier === 'Interruptible' ? K - 1 : Math.min(K - 1, lastStart + run - 1);
    const width = to - from + 1;
    const extra = new Float64Array(width * P).fill(-Infinity);
    for (let k = from; k <= to; k++) {
      const f = switchFactor(switchingSeconds, hours[k] as number);
      for (const p of accepted) {
        const net = rentalNetPerGpuHour(
          spec.bid,
          products[p]!.profile.trainingWatts,
          products[p]!.series.electricity[k] as number,
        );
        extra[(k - from) * P + p] = (hours[k] as number) * (ub(net, f) - (base[p * K + k] as number));
      }
    }
    jobs.push({ gpus: spec.replicas * spec.gpusPerReplica, run, from, to, products: accepted, extra });
  }

  const lambda = new Float64Array(P * K);
  const usage = new Float64Array(P * K);
  const scratch = new Float64Array(K);
  const work = new Float64Array(K);
  const pick = new Int32Array(K);
  let best = Infinity;
  let iterations = 0;
  let stall = 0;
  let factor = 0.1;
  for (let it = 0; it < maxIterations; it++) {
    iterations++;
    usage.fill(0);
    let value = B;
    for (let i = 0; i < P * K; i++) value += (lambda[i] as number) * cap;
    for (const job of jobs) {
      let count = 0;
      for (let k = job.from; k <= job.to; k++) {
        let v = -Infinity;
        let bp = -1;
        for (const p of job.products) {
          const x = (job.extra[(k - job.from) * P + p] as number) - (lambda[p * K + k] as number);
          if (x > v) {
            v = x;
            bp = p;
          }
        }
        if (v > 0) {
          scratch[count] = v;
          pick[count] = bp * K + k;
          count++;
        }
      }
      if (count === 0) continue;
      let threshold = -Infinity;
      if (count > job.run) {
        work.set(scratch.subarray(0, count));
        threshold = kthLargest(work, count, job.run);
      }
      let taken = 0;
      for (let c = 0; c < count && taken < job.run; c++) if ((scratch[c] as number) > threshold) taken++;
      let ties = job.run - taken;
      for (let c = 0; c < count; c++) {
        const v = scratch[c] as number;
        if (v > threshold || (v === threshold && ties-- > 0)) {
          value += job.gpus * v;
          usage[pick[c] as number] = (usage[pick[c] as number] as number) + job.gpus;
        }
      }
    }
    if (value < best - 1e-9) {
      best = value;
      stall = 0;
    } else {
      // Held-Karp style: halve the step every second iteration without progress.
      stall++;
      if (stall % 2 === 0) factor /= 2;
      if (stall > 8) break;
    }
    // Polyak-like step towards the best revenue a strategy reached, on the projected subgradient.
    let norm = 0;
    for (let i = 0; i < P * K; i++) {
      const g = cap - (usage[i] as number);
      if ((lambda[i] as number) > 0 || g < 0) norm += g * g;
    }
    if (norm === 0) break;
    const step = (factor * Math.max(value - lowerBound, 1e-6 * Math.abs(value))) / norm;
    for (let i = 0; i < P * K; i++)
      lambda[i] = Math.max(0, (lambda[i] as number) - step * (cap - (usage[i] as number)));
  }
  return { usd: best, iterations };
}

/** The k-th largest of a[0..n) (1-based k), by quickselect; reorders a. */
export function kthLargest(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1; // index in descending order
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) > pivot) i++;
      while ((a[j] as number) < pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target] as number;
  }
  return a[target] as number;
}
