import type { Command } from 'commander';
import { miningPoolFrom, fleetPolicyFrom } from '../backtest/manifests.js';
import { runBacktest } from '../backtest/run.js';
import { parseTrace } from '../backtest/trace.js';
import { plan, type JobSnapshot, type NodeSnapshot, type Snapshot } from '../planner/index.js';

/**
 * `rigshift bench`: figures, not tests. The planner on 10,000 nodes and 5,000 pending jobs (target under
 * 200 ms) and a backtest of a year of hourly steps over 1,000 nodes (target under 2 s), on generated data.
 */

const P3090 = 'NVIDIA-GeForce-RTX-3090';
const P4090 = 'NVIDIA-GeForce-RTX-4090';

const POOL = `apiVersion: rigshift.io/v1alpha1
kind: MiningPool
metadata: {name: bench}
spec:
  coin: ETC
  algorithm: etchash
  stratum: {primary: 'stratum+tcp://etc.example.org:1010'}
  wallet: '0x9f1c2a4b7e3d5c6f8a0b1c2d3e4f5a6b7c8d9e0f'
  miner: {image: 'registry.example.com/miner:1'}
  gpuProfiles:
    - {product: ${P3090}, hashrate: 122.15M, miningWatts: 290, trainingWatts: 350, idleWatts: 25}
    - {product: ${P4090}, hashrate: 124.7M, miningWatts: 249, trainingWatts: 450, idleWatts: 25}
  poolFeePercent: '1.0'
  revenueUsdPerMhsDay: {value: '0.05'}
  electricityUsdPerKwh: {value: '0.10'}
`;

const POLICY = `apiVersion: rigshift.io/v1alpha1
kind: FleetPolicy
metadata: {name: default}
spec: {hysteresisPercent: 5, minDwellSeconds: 3600, switchingSeconds: 300, maxConcurrentDrains: '10%'}
`;

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A farm of `nodes` GPU nodes (mostly mining, some training and idle) and `pending` jobs waiting. */
export function plannerSnapshot(nodes: number, pending: number, seed = 1): Snapshot {
  const r = rng(seed);
  const now = Date.UTC(2025, 0, 1);
  const snaps: NodeSnapshot[] = [];
  const jobs: JobSnapshot[] = [];
  for (let i = 0; i < nodes; i++) {
    const product = i % 3 === 0 ? P4090 : P3090;
    const roll = r();
    const mode = roll < 0.7 ? 'mining' : roll < 0.9 ? 'training' : 'idle';
    const name = `gpu-${String(i).padStart(5, '0')}`;
    snaps.push({
      name,
      product,
      gpus: 8,
      gpuMemoryMiB: 24576,
      mode,
      modeSinceMs: now - Math.floor(r() * 6) * 3_600_000,
      miningGpus: mode === 'mining' ? 8 : 0,
      unschedulable: r() < 0.01,
      pool: i % 2 === 0 ? 'etc-a' : 'etc-b',
    });
    if (mode === 'training') {
      jobs.push({
        key: `team/running-${i}`,
        replicas: 1,
        gpusPerReplica: 8,
        bidUsdPerGpuHour: 0.2 + r() * 0.4,
        tier: r() < 0.6 ? 'Interruptible' : 'OnDemand',
        state: 'running',
        assigned: [{ node: name, gpus: 8 }],
        runtimeSeconds: Math.floor(r() * 20_000),
        minRuntimeSeconds: 3600,
      });
    }
  }
  for (let j = 0; j < pending; j++) {
    const gpus = [1, 2, 4, 8][Math.floor(r() * 4)] as number;
    jobs.push({
      key: `team/job-${String(j).padStart(5, '0')}`,
      replicas: gpus === 8 ? 1 + Math.floor(r() * 4) : 1,
      gpusPerReplica: gpus,
      products: r() < 0.3 ? [r() < 0.5 ? P3090 : P4090] : undefined,
      bidUsdPerGpuHour: Math.round((0.1 + r() * 0.5) * 1e4) / 1e4,
      tier: r() < 0.6 ? 'Interruptible' : 'OnDemand',
      state: 'pending',
      assigned: [],
      runtimeSeconds: 0,
      minRuntimeSeconds: 1800,
    });
  }
  const econ = (mining: number) => [
    {
      product: P3090,
      miningUsdPerGpuHour: mining,
      electricityUsdPerKwh: 0.1,
      trainingWatts: 350,
      idleWatts: 25,
    },
    {
      product: P4090,
      miningUsdPerGpuHour: mining * 0.8,
      electricityUsdPerKwh: 0.1,
      trainingWatts: 450,
      idleWatts: 25,
    },
  ];
  return {
    nowMs: now,
    nodes: snaps,
    pools: [
      { name: 'etc-a', products: econ(0.25) },
      { name: 'etc-b', products: econ(0.3) },
    ],
    jobs,
    policy: fleetPolicyFrom(POLICY).policy,
  };
}

/** A year of hourly prices for one product: daily-moving revenue and rental, hourly power with spikes. */
export function yearTrace(seed = 7): string {
  const r = rng(seed);
  const lines = ['time,gpu_product,rental_usd_per_gpu_hour,mining_usd_per_mhs_day,electricity_usd_per_kwh'];
  const start = Date.UTC(2025, 0, 1);
  let revenue = 0.06;
  let rental = 0.28;
  for (let h = 0; h < 8760; h++) {
    if (h % 24 === 0) {
      revenue = Math.max(0.005, revenue * (1 + (r() - 0.5) * 0.1));
      rental = Math.max(0.05, rental * (1 + (r() - 0.5) * 0.1));
    }
    const daily = 0.08 + 0.04 * Math.sin(((h % 24) / 24) * 2 * Math.PI);
    const e = daily + (r() < 0.005 ? 1 + r() * 4 : r() * 0.03);
    const time = new Date(start + h * 3_600_000).toISOString().replace('.000Z', 'Z');
    lines.push(`${time},${P3090},${rental.toFixed(4)},${revenue.toFixed(7)},${e.toFixed(5)}`);
  }
  return lines.join('\n');
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

function timed<T>(fn: () => T): { value: T } & Timing {
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wallMs = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  return { value, wallMs, cpuMs: (cu.user + cu.system) / 1000 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(
      'Print planner and backtest timings on generated data (run with node --expose-gc for steadier figures)',
    )
    .option(
      '--runs <n>',
      'timed runs of each benchmark (median reported)',
      (v) => Math.max(1, Number(v) || 1),
      5,
    )
    .action((opts: { runs: number }) => {
      const snapshot = plannerSnapshot(10_000, 5_000);
      const pending = snapshot.jobs.filter((j) => j.state === 'pending').length;
      plan(snapshot); // warm-up
      const planRuns: Timing[] = [];
      let last = plan(snapshot);
      for (let i = 0; i < opts.runs; i++) {
        const t = timed(() => plan(snapshot));
        last = t.value;
        planRuns.push(t);
      }
      const planWall = median(planRuns.map((t) => t.wallMs));
      console.log(
        `planner: ${snapshot.nodes.length} nodes, ${pending} pending jobs: ${planWall.toFixed(1)} ms median wall ` +
          `(${median(planRuns.map((t) => t.cpuMs)).toFixed(1)} ms cpu) over ${opts.runs} runs; target < 200 ms ` +
          `${planWall < 200 ? 'met' : 'MISSED'}; placed ${last.placements.filter((p) => p.isNew).length}, ` +
          `queued ${last.queued.length}, refused ${last.refused.length}, preempted ${last.preemptions.length}, drains ${last.drains.length}`,
      );

      const csv = yearTrace();
      const pool = miningPoolFrom(POOL, 'bench pool');
      const policy = fleetPolicyFrom(POLICY).policy;
      const shape = { nodesPerProduct: 1000, gpusPerNode: 8 };
      runBacktest(parseTrace(csv), pool, policy, { nodesPerProduct: 10, gpusPerNode: 8 }); // warm-up
      const btRuns: Timing[] = [];
      let report = runBacktest(parseTrace(csv), pool, policy, { nodesPerProduct: 1, gpusPerNode: 8 }).report;
      for (let i = 0; i < Math.min(opts.runs, 3); i++) {
        const t = timed(() => runBacktest(parseTrace(csv), pool, policy, shape));
        report = t.value.report;
        btRuns.push(t);
      }
      const btWall = median(btRuns.map((t) => t.wallMs));
      console.log(
        `backtest: ${report.steps} hourly steps × ${shape.nodesPerProduct} nodes: ${(btWall / 1000).toFixed(2)} s median wall ` +
          `(${(median(btRuns.map((t) => t.cpuMs)) / 1000).toFixed(2)} s cpu) over ${btRuns.length} runs; target < 2 s ` +
          `${btWall < 2000 ? 'met' : 'MISSED'}; capture ratio ${report.captureRatio}, rigshift ${report.strategies.rigshift.switches} switches`,
      );
    });
}
