import type {
  JobSnapshot,
  NodeSnapshot,
  Plan,
  PlannerPolicy,
  PoolSnapshot,
  ProductEconomics,
  Snapshot,
} from '../../../src/planner/index.js';

export const HOUR = 3_600_000;
export const NOW = Date.UTC(2024, 0, 1, 12);
export const P3090 = 'NVIDIA-GeForce-RTX-3090';
export const P4090 = 'NVIDIA-GeForce-RTX-4090';

export const policy: PlannerPolicy = {
  hysteresisPercent: 10,
  minDwellSeconds: 3600,
  switchingSeconds: 300,
  maxConcurrentDrains: 10,
  allowIdle: true,
  floorRentalUsdPerGpuHour: 0.05,
};

export function node(name: string, over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  const gpus = over.gpus ?? 8;
  const mode = over.mode ?? 'mining';
  return {
    name,
    product: P3090,
    gpus,
    gpuMemoryMiB: 24576,
    mode,
    modeSinceMs: NOW - 10 * HOUR,
    miningGpus: mode === 'mining' ? gpus : 0,
    unschedulable: false,
    pool: 'etc',
    ...over,
  };
}

/** Training watts 350, idle watts 25: at 0.1 USD/kWh training costs 0.035 and idle 0.0025 per GPU-hour. */
export function product(
  p: string,
  mining: number | null,
  electricity: number | null = 0.1,
): ProductEconomics {
  return {
    product: p,
    miningUsdPerGpuHour: mining,
    electricityUsdPerKwh: electricity,
    trainingWatts: 350,
    idleWatts: 25,
  };
}

export function pool(name: string, ...products: ProductEconomics[]): PoolSnapshot {
  return { name, products };
}

export function job(key: string, over: Partial<JobSnapshot> = {}): JobSnapshot {
  return {
    key,
    replicas: 1,
    gpusPerReplica: 8,
    bidUsdPerGpuHour: 0.5,
    tier: 'Interruptible',
    state: 'pending',
    assigned: [],
    runtimeSeconds: 0,
    minRuntimeSeconds: 0,
    ...over,
  };
}

export function running(
  key: string,
  nodes: Array<[string, number]>,
  over: Partial<JobSnapshot> = {},
): JobSnapshot {
  const total = nodes.reduce((s, [, g]) => s + g, 0);
  return job(key, {
    state: 'running',
    assigned: nodes.map(([n, gpus]) => ({ node: n, gpus })),
    replicas: nodes.length,
    gpusPerReplica: total / nodes.length,
    runtimeSeconds: 7200,
    ...over,
  });
}

export function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    nowMs: NOW,
    nodes: [],
    pools: [pool('etc', product(P3090, 0.2), product(P4090, 0.1))],
    jobs: [],
    policy,
    ...over,
  };
}

export function modes(p: Plan): Record<string, string> {
  return Object.fromEntries(p.nodes.map((n) => [n.node, n.mode + (n.market ? '(market)' : '')]));
}

export function placed(p: Plan, key: string): Record<string, number> | undefined {
  const pl = p.placements.find((x) => x.job === key);
  return pl ? Object.fromEntries(pl.nodes.map((n) => [n.node, n.gpus])) : undefined;
}
