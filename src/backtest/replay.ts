import { switchFactor } from '../economics/accounting.js';
import {
  plan,
  type NodeSnapshot,
  type PlannerPolicy,
  type PoolSnapshot,
  type ProductEconomics,
} from '../planner/index.js';
import { IDLE, MINING, TRAINING, productSlug, type Market, type ModeCode } from './market.js';

/**
 * Replays a market through the planner the operator uses: at every step start each node's prices are those
 * of its product's row, the rental market stands at the trace's rental price, and the node does what the
 * plan says for the whole step. Drains are paced as the operator paces them: at most maxConcurrentDrains at
 * once, the next ones once those have finished. A drain and the switch it starts take up to the switching
 * seconds S, which the binding accounting charges at the start of the step; a drain started after an earlier
 * one finished would switch its node later in the step, which that accounting would credit with the whole
 * step. So drains start at step starts only, at most maxConcurrentDrains per step, and the next wave waits
 * for the next step (never crediting a switch before it could have happened).
 */

export interface FleetShape {
  nodesPerProduct: number;
  gpusPerNode: number;
  /** GPU memory per GPU in MiB by product (a mixed fleet); absent products have DEFAULT_GPU_MEMORY_MIB. */
  gpuMemoryMiB?: Readonly<Record<string, number>>;
}

/** A 24 GiB card (RTX 3090 and 4090), the memory of every node unless the fleet says otherwise. */
export const DEFAULT_GPU_MEMORY_MIB = 24576;

export function gpuMemoryOf(shape: FleetShape, product: string): number {
  return shape.gpuMemoryMiB?.[product] ?? DEFAULT_GPU_MEMORY_MIB;
}

export interface FleetNode {
  name: string;
  /** Index into market.products. */
  product: number;
}

export interface PlannerRun {
  nodes: FleetNode[];
  /** Revenue per node, USD. */
  revenue: Float64Array;
  switches: number;
  /** Mode of node i during union step t at modes[t * nodes + i]; NOT_AT_STEP when its product has no step starting at t. */
  modes: Uint8Array;
  /** Most drains started in one step (one plan per step). */
  maxDrainsPerWave: number;
}

const POOL = 'backtest';
export const NOT_AT_STEP = 255;

export function fleetNodes(market: Market, shape: FleetShape): FleetNode[] {
  const nodes: FleetNode[] = [];
  const width = String(Math.max(0, shape.nodesPerProduct - 1)).length;
  market.products.forEach((pm, p) => {
    const slug = productSlug(pm.series.product);
    for (let i = 0; i < shape.nodesPerProduct; i++)
      nodes.push({ name: `${slug}-${String(i).padStart(width, '0')}`, product: p });
  });
  return nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function replayPlanner(
  market: Market,
  shape: FleetShape,
  policy: PlannerPolicy,
  onStep?: (done: number, total: number) => void,
): PlannerRun {
  const G = shape.gpusPerNode;
  const S = policy.switchingSeconds;
  const fleet = fleetNodes(market, shape);
  const P = market.products.length;
  const startMs = market.timeline[0] ?? 0;
  const snaps: NodeSnapshot[] = fleet.map((f) => ({
    name: f.name,
    product: (market.products[f.product] as Market['products'][number]).series.product,
    gpus: G,
    gpuMemoryMiB: gpuMemoryOf(
      shape,
      (market.products[f.product] as Market['products'][number]).series.product,
    ),
    mode: 'mining',
    modeSinceMs: startMs - policy.minDwellSeconds * 1000,
    miningGpus: G,
    unschedulable: false,
    pool: POOL,
  }));
  const econ: ProductEconomics[] = market.products.map((pm) => ({
    product: pm.series.product,
    miningUsdPerGpuHour: 0,
    electricityUsdPerKwh: 0,
    trainingWatts: pm.profile.trainingWatts,
    idleWatts: pm.profile.idleWatts,
  }));
  const pools: PoolSnapshot[] = [{ name: POOL, products: econ }];
  const cursor = new Int32Array(P);
  const atStep = new Int32Array(P);
  const prev = new Uint8Array(fleet.length);
  const revenue = new Float64Array(fleet.length);
  const total = market.timeline.length;
  const N = fleet.length;
  const modes = new Uint8Array(total * N).fill(NOT_AT_STEP);
  let switches = 0;
  let maxDrainsPerWave = 0;
  let allWereAtStep = true;
  const productOf = Int32Array.from(fleet, (f) => f.product);
  const stay = new Float64Array(P * 3);
  const moved = new Float64Array(P * 3);

  for (let t = 0; t < total; t++) {
    const now = market.timeline[t] as number;
    const rentalMarket: Record<string, number> = {};
    for (let p = 0; p < P; p++) {
      const pm = market.products[p] as Market['products'][number];
      const k = cursor[p] as number;
      if (k < pm.series.startMs.length && pm.series.startMs[k] === now) {
        atStep[p] = k;
        cursor[p] = k + 1;
        const e = econ[p] as ProductEconomics;
        e.miningUsdPerGpuHour = pm.rate[MINING][k] as number;
        e.electricityUsdPerKwh = pm.series.electricity[k] as number;
        rentalMarket[pm.series.product] = pm.series.rental[k] as number;
      } else {
        atStep[p] = -1;
      }
    }
    // Products without a step starting now keep their modes: their nodes sit out this plan.
    let allAtStep = true;
    for (let p = 0; p < P; p++) if (atStep[p] === -1) allAtStep = false;
    if (!allAtStep || !allWereAtStep) {
      for (let i = 0; i < fleet.length; i++) {
        (snaps[i] as NodeSnapshot).unschedulable = atStep[(fleet[i] as FleetNode).product] === -1;
      }
    }
    allWereAtStep = allAtStep;

    // One plan per step: drains start only at step starts (see the comment at the top).
    const result = plan({ nowMs: now, nodes: snaps, pools, jobs: [], policy, rentalMarket });
    maxDrainsPerWave = Math.max(maxDrainsPerWave, result.drains.length);
    for (let i = 0; i < fleet.length; i++) {
      const s = snaps[i] as NodeSnapshot;
      if (s.unschedulable) continue;
      const np = result.nodes[i];
      if (!np || np.node !== s.name) {
        throw new Error(`planner returned nodes out of order at ${new Date(now).toISOString()}`);
      }
      if (np.mode !== s.mode) {
        s.mode = np.mode;
        s.modeSinceMs = now;
      }
      s.miningGpus = np.miningGpus;
    }

    // What one GPU of each product earns this step in each mode, with and without a switch.
    for (let p = 0; p < P; p++) {
      const k = atStep[p] as number;
      if (k < 0) continue;
      const pm = market.products[p] as Market['products'][number];
      const h = pm.series.hours[k] as number;
      const f = switchFactor(S, h);
      for (let m = 0; m < 3; m++) {
        const full = G * h * (pm.rate[m as ModeCode][k] as number);
        stay[p * 3 + m] = full;
        moved[p * 3 + m] = full * f;
      }
    }
    for (let i = 0; i < fleet.length; i++) {
      const p = productOf[i] as number;
      const k = atStep[p] as number;
      if (k < 0) continue;
      const m = (snaps[i] as NodeSnapshot).mode;
      const mode: ModeCode = m === 'training' ? TRAINING : m === 'idle' ? IDLE : MINING;
      let earned: number;
      if (mode !== prev[i]) {
        earned = moved[p * 3 + mode] as number;
        switches++;
        prev[i] = mode;
      } else {
        earned = stay[p * 3 + mode] as number;
      }
      revenue[i] = (revenue[i] as number) + earned;
      modes[t * N + i] = mode;
    }
    if (onStep && (t % 64 === 0 || t === total - 1)) onStep(t + 1, total);
  }
  return { nodes: fleet, revenue, switches, modes, maxDrainsPerWave };
}
