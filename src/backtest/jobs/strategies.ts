import {
  plan,
  type JobSnapshot,
  type NodeSnapshot,
  type PlannerPolicy,
  type ProductEconomics,
} from '../../planner/index.js';
import { IDLE, MINING } from '../market.js';
import { gpuMemoryOf, type FleetNode } from '../replay.js';
import {
  firstFit,
  type Composition,
  type SimJob,
  type StepView,
  type Strategy,
  type World,
} from './world.js';

/** The strategies of a job-trace backtest. Only rigshift goes through the planner; the others are simple rules. */

const POOL = 'backtest';

/** rigshift: the operator's planner decides admission, placement, preemption and every node's mode. */
export function rigshiftStrategy(policy: PlannerPolicy): Strategy {
  let snaps: NodeSnapshot[] | null = null;
  let econ: ProductEconomics[] = [];
  // Gangs admitted whose nodes are still being drained (in waves): they start, and earn, once all train.
  const admitted = new Map<number, Map<number, number>>();
  return {
    name: 'rigshift',
    decide(world: World, view: StepView) {
      const G = world.shape.gpusPerNode;
      if (snaps === null) {
        snaps = world.fleet.map((f) => ({
          name: f.name,
          product: world.market.products[f.product]!.series.product,
          gpus: G,
          gpuMemoryMiB: gpuMemoryOf(world.shape, world.market.products[f.product]!.series.product),
          mode: 'mining',
          modeSinceMs: view.nowMs - policy.minDwellSeconds * 1000,
          miningGpus: G,
          unschedulable: false,
          pool: POOL,
        }));
        econ = world.market.products.map((pm) => ({
          product: pm.series.product,
          miningUsdPerGpuHour: 0,
          electricityUsdPerKwh: 0,
          trainingWatts: pm.profile.trainingWatts,
          idleWatts: pm.profile.idleWatts,
        }));
      }
      world.market.products.forEach((pm, p) => {
        const k = view.lastStep[p] as number;
        const e = econ[p] as ProductEconomics;
        e.miningUsdPerGpuHour = pm.rate[MINING][k] as number;
        e.electricityUsdPerKwh = pm.series.electricity[k] as number;
      });
      // As in the plain replay (replay.ts), one plan per step: drains start at step starts only, at most
      // maxConcurrentDrains of them; an admitted gang's other nodes drain in the next steps, its drained
      // nodes held idle for it until the last one trains.
      const nodeIndex = new Map(world.fleet.map((f, i) => [f.name, i]));
      snaps.forEach((s, n) => {
        s.unschedulable = view.atStep[(world.fleet[n] as FleetNode).product] === -1;
      });
      const jobs: JobSnapshot[] = [];
      const byName = new Map<string, number>();
      for (const j of [...admitted.keys()])
        if ((world.jobs[j] as SimJob).state !== 'pending') admitted.delete(j);
      const snapOf = (j: number, state: JobSnapshot['state']): JobSnapshot => {
        const job = world.jobs[j] as SimJob;
        byName.set(job.spec.name, j);
        return {
          key: job.spec.name,
          replicas: job.spec.replicas,
          gpusPerReplica: job.spec.gpusPerReplica,
          products: job.spec.product === '' ? undefined : [job.spec.product],
          minGpuMemoryMiB: job.spec.minGpuMemoryMiB,
          bidUsdPerGpuHour: job.spec.bid,
          tier: job.spec.tier,
          state,
          assigned: [...(admitted.get(j) ?? job.nodes)].map(([n, gpus]) => ({
            node: (world.fleet[n] as FleetNode).name,
            gpus,
          })),
          runtimeSeconds: state === 'running' ? (view.nowMs - job.startMs) / 1000 : 0,
          minRuntimeSeconds: 0,
        };
      };
      for (const j of world.running) jobs.push(snapOf(j, 'running'));
      for (const j of world.pending) jobs.push(snapOf(j, admitted.has(j) ? 'admitted' : 'pending'));
      const result = plan({
        nowMs: view.nowMs,
        nodes: snaps,
        pools: [{ name: POOL, products: econ }],
        jobs,
        policy,
      });

      for (const p of result.preemptions) {
        const j = byName.get(p.job) as number;
        if (!admitted.delete(j)) world.stop(j, 'preempted', view.nowMs);
      }
      for (const r of result.refused) world.refuse(byName.get(r.job) as number);
      for (const pl of result.placements) {
        if (!pl.isNew) continue;
        admitted.set(
          byName.get(pl.job) as number,
          new Map(pl.nodes.map((s) => [nodeIndex.get(s.node) as number, s.gpus])),
        );
      }
      const trains = new Set<number>();
      result.nodes.forEach((np) => {
        const n = nodeIndex.get(np.node) as number;
        const s = (snaps as NodeSnapshot[])[n] as NodeSnapshot;
        if (s.unschedulable) return;
        const comp = world.comps[n] as Composition;
        comp.mining = np.miningGpus;
        // A node reserved for a gang whose drain waits for a slot mines on with all its GPUs.
        const reservedOnly = np.mode === 'mining' && np.jobs.length > 0;
        const mode = reservedOnly
          ? 'mining'
          : np.jobs.length > 0
            ? 'training'
            : np.miningGpus > 0
              ? 'mining'
              : 'idle';
        if (mode === 'training') trains.add(n);
        if (mode !== s.mode) {
          s.mode = mode;
          s.modeSinceMs = view.nowMs;
        }
        s.miningGpus = np.miningGpus;
      });
      for (const [j, placement] of admitted) {
        if (![...placement.keys()].every((n) => trains.has(n))) continue;
        admitted.delete(j);
        world.start(j, placement, view.nowMs);
      }
      // GPUs neither mining nor running a job idle, also those held for a gang that has not started yet.
      world.fleet.forEach((f, n) => {
        if (view.atStep[f.product] === -1) return;
        const comp = world.comps[n] as Composition;
        comp.idle = Math.max(0, G - comp.mining - (G - world.freeGpus(n)));
      });
    },
  };
}

/** Candidate nodes for a job among those whose product has a step now, in name order. */
function candidates(
  world: World,
  j: number,
  view: StepView,
  ok: (node: number, p: number, k: number) => boolean,
): number[] {
  const job = world.jobs[j] as SimJob;
  const out: number[] = [];
  world.fleet.forEach((f, n) => {
    const k = view.atStep[f.product] as number;
    if (k >= 0 && job.products.includes(f.product) && ok(n, f.product, k)) out.push(n);
  });
  return out;
}

function fillFree(
  world: World,
  view: StepView,
  mode: (n: number, comp: Composition, p: number, k: number) => 'mining' | 'idle',
): void {
  world.fleet.forEach((f, n) => {
    const k = view.atStep[f.product] as number;
    if (k < 0) return;
    const comp = world.comps[n] as Composition;
    const free = world.freeGpus(n);
    const m = mode(n, comp, f.product, k);
    comp.mining = m === 'mining' ? free : 0;
    comp.idle = m === 'idle' ? free : 0;
  });
}

/**
 * Jobs first come first served (those that can never fit are refused), admitted on the first nodes they fit
 * when `admit` says the price is right; never preempted.
 */
function fifo(
  world: World,
  view: StepView,
  admit: (j: number, n: number, p: number, k: number) => boolean,
): void {
  for (const j of [...world.pending]) {
    if (!world.everFits(j)) {
      world.refuse(j);
      continue;
    }
    const where = firstFit(
      world,
      j,
      candidates(world, j, view, (n, p, k) => admit(j, n, p, k)),
    );
    if (where) world.start(j, where, view.nowMs);
  }
}

/** Mine, and admit any job that fits and bids, net of power, above the current yield. */
export function greedyStrategy(): Strategy {
  return {
    name: 'greedy',
    decide(world, view) {
      fifo(
        world,
        view,
        (j, _n, p, k) => world.jobRate(j, p, k) > (world.market.products[p]!.rate[MINING][k] as number),
      );
      fillFree(world, view, () => 'mining');
    },
  };
}

/**
 * NiceHash-style: free GPUs move between mining and idle (if allowed) when the other pays 5% more; a job is
 * admitted when its bid, net of power, pays 5% more than what its GPUs do now. No dwell, no preemption.
 */
export function thresholdStrategy(percent: number, allowIdle: boolean): Strategy {
  let freeMode: ('mining' | 'idle')[] = [];
  return {
    name: 'threshold',
    decide(world, view) {
      if (freeMode.length === 0) freeMode = world.fleet.map(() => 'mining');
      const beats = (a: number, b: number) => a > b + (percent / 100) * Math.abs(b);
      fifo(world, view, (j, n, p, k) => {
        const pm = world.market.products[p]!;
        const now = pm.rate[freeMode[n] === 'idle' ? IDLE : MINING][k] as number;
        return beats(world.jobRate(j, p, k), now);
      });
      fillFree(world, view, (n, _c, p, k) => {
        const pm = world.market.products[p]!;
        const m = pm.rate[MINING][k] as number;
        const i = pm.rate[IDLE][k] as number;
        const cur = freeMode[n] as 'mining' | 'idle';
        if (allowIdle && cur === 'mining' && beats(i, m)) freeMode[n] = 'idle';
        else if (cur === 'idle' && (beats(m, i) || !allowIdle)) freeMode[n] = 'mining';
        return freeMode[n] as 'mining' | 'idle';
      });
    },
  };
}

export function alwaysMineStrategy(): Strategy {
  return {
    name: 'alwaysMine',
    decide(world, view) {
      for (const j of [...world.pending]) if (!world.everFits(j)) world.refuse(j);
      fillFree(world, view, () => 'mining');
    },
  };
}

/** Rent to every job that fits, whatever it pays; free GPUs idle, or mine where the policy forbids idle. */
export function alwaysRentStrategy(allowIdle: boolean): Strategy {
  return {
    name: 'alwaysRent',
    decide(world, view) {
      fifo(world, view, () => true);
      fillFree(world, view, () => (allowIdle ? 'idle' : 'mining'));
    },
  };
}
