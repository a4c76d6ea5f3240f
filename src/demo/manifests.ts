import type { TraceJob } from '../backtest/jobs/trace.js';

/** What the demo installs: a namespace, the two PriorityClasses, the market ConfigMap, a pool and a policy. */

export const DEMO_NAMESPACE = 'rigshift-demo';
export const FARM_LABEL = 'rigshift.io/farm';
export const FARM = 'demo';
export const PRICES_CONFIGMAP = 'market-prices';
/** The figures the traces were checked with (data SOURCES.md). */
export const PROFILES = [
  {
    product: 'NVIDIA-GeForce-RTX-3090',
    hashrate: '122.15M',
    miningWatts: 290,
    trainingWatts: 350,
    idleWatts: 25,
    memoryMiB: 24576,
  },
  {
    product: 'NVIDIA-GeForce-RTX-4090',
    hashrate: '124.7M',
    miningWatts: 249,
    trainingWatts: 450,
    idleWatts: 25,
    memoryMiB: 24564,
  },
] as const;
export const POOL_FEE_PERCENT = '1.0';
/** Market seconds a switch costs (drain, image pull, data load), as in the backtest. */
export const SWITCHING_SECONDS = 300;

/** Prices go into the ConfigMap as plain decimals, as a finance team or a feed would write them. */
export const decimal = (v: number, places = 6): string => v.toFixed(places);

export function baseObjects(marketSecondsPerSecond: number): object[] {
  const scaled = (marketSeconds: number): number =>
    Math.max(1, Math.round(marketSeconds / marketSecondsPerSecond));
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEMO_NAMESPACE } },
    {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name: 'rigshift-mining' },
      // As the Helm chart makes it: below the default 0, so any other workload outranks a miner.
      value: -10,
      preemptionPolicy: 'Never',
      description: 'Mining pods: preempted by any training pod.',
    },
    {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name: 'rigshift-training' },
      value: 100000,
      preemptionPolicy: 'PreemptLowerPriority',
      description: 'Training pods placed by rigshift.',
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'pool-credentials', namespace: DEMO_NAMESPACE },
      stringData: { password: 'x' },
    },
    {
      apiVersion: 'rigshift.io/v1alpha1',
      kind: 'FleetPolicy',
      metadata: { name: 'default' },
      spec: {
        hysteresisPercent: 5,
        // Dwell and drain timeout are scaled to the accelerated clock; the economics are not.
        minDwellSeconds: scaled(3600),
        switchingSeconds: Math.round(SWITCHING_SECONDS / marketSecondsPerSecond),
        maxConcurrentDrains: '50%',
        drainTimeoutSeconds: scaled(1800),
        drainTimeoutPolicy: 'ForceEvict',
        allowIdle: true,
      },
    },
  ];
}

export function miningPool(): object {
  return {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'MiningPool',
    metadata: { name: 'eth-demo', namespace: DEMO_NAMESPACE },
    spec: {
      coin: 'ETH',
      algorithm: 'ethash',
      stratum: { primary: 'stratum+tcp://eth.pool.example:4444', failovers: [] },
      wallet: '0x9f1c2a4b7e3d5c6f8a0b1c2d3e4f5a6b7c8d9e0f',
      workerName: '${NODE}',
      credentialsSecretRef: { name: 'pool-credentials', key: 'password' },
      miner: {
        image: 'registry.example.com/miners/t-rex:0.26.8-cuda12',
        args: ['--algo=ethash', '--url=${STRATUM}', '--user=${WALLET}', '--worker=${WORKER}'],
      },
      nodeSelector: { matchLabels: { [FARM_LABEL]: FARM } },
      gpuProfiles: PROFILES.map(({ memoryMiB: _m, ...p }) => p),
      poolFeePercent: POOL_FEE_PERCENT,
      revenueUsdPerMhsDay: { configMapKeyRef: { name: PRICES_CONFIGMAP, key: 'revenueUsdPerMhsDay' } },
      electricityUsdPerKwh: { configMapKeyRef: { name: PRICES_CONFIGMAP, key: 'electricityUsdPerKwh' } },
    },
  };
}

export function pricesConfigMap(revenue: number, electricity: number): object {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: PRICES_CONFIGMAP, namespace: DEMO_NAMESPACE },
    data: { revenueUsdPerMhsDay: decimal(revenue, 7), electricityUsdPerKwh: decimal(electricity, 5) },
  };
}

/** Kubernetes names are DNS labels: job-55712 stays as it is, anything else is cleaned. */
export const jobName = (j: TraceJob): string =>
  j.name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63) || 'job';

/** A TrainingJob from a job-trace row. Its pods finish after the run time (kwok's completion annotation). */
export function trainingJob(j: TraceJob, marketSecondsPerSecond: number): object {
  const realMs = Math.max(1, Math.round((j.durationHours * 3600 * 1000) / marketSecondsPerSecond));
  return {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: jobName(j), namespace: DEMO_NAMESPACE, labels: { [FARM_LABEL]: FARM } },
    spec: {
      image: 'registry.example.com/train/llm-finetune:1.4',
      command: ['python', 'train.py'],
      replicas: j.replicas,
      gpusPerReplica: j.gpusPerReplica,
      ...(j.product ? { gpuProducts: [j.product] } : {}),
      bidUsdPerGpuHour: decimal(j.bid, 4),
      tier: j.tier,
      podAnnotations: { 'pod-complete.stage.kwok.x-k8s.io/delay': `${realMs}ms` },
    },
  };
}
