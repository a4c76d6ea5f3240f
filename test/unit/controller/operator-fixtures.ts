// Objects as the informer caches hold them, for the operator's pure functions.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import {
  parseMiningPool,
  parseTrainingJob,
  type FleetPolicySpec,
  type MiningPool,
  type TrainingJob,
} from '../../../src/api/v1alpha1/index.js';
import { defaultPolicySpec } from '../../../src/controller/policy.js';

export const NOW = Date.parse('2025-03-01T12:00:00Z');
export const P3090 = 'NVIDIA-GeForce-RTX-3090';
export const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function policy(over: Partial<FleetPolicySpec> = {}): FleetPolicySpec {
  return { ...defaultPolicySpec(), minDwellSeconds: 0, switchingSeconds: 0, hysteresisPercent: 0, ...over };
}

export interface NodeOpts {
  gpus?: number;
  product?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  unschedulable?: boolean;
  taints?: { key: string; value?: string; effect: string }[];
  rv?: string;
}

export function gpuNode(name: string, o: NodeOpts = {}): V1Node {
  const gpus = String(o.gpus ?? 8);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: `uid-${name}`,
      resourceVersion: o.rv ?? '10',
      labels: {
        'nvidia.com/gpu.product': o.product ?? P3090,
        'nvidia.com/gpu.memory': '24576',
        farm: 'test',
        ...o.labels,
      },
      annotations: o.annotations ?? {},
    },
    spec: { unschedulable: o.unschedulable, taints: o.taints },
    status: { allocatable: { 'nvidia.com/gpu': gpus, cpu: '64' } },
  };
}

/** A node in a mode, as the node reconciler leaves it, with the planner's target. */
export function modeNode(
  name: string,
  mode: string,
  target = mode,
  extra: Record<string, string> = {},
  o: NodeOpts = {},
): V1Node {
  return gpuNode(name, {
    ...o,
    labels: { 'rigshift.io/mode': mode, ...o.labels },
    annotations: {
      'rigshift.io/mode-since': iso(NOW - 3_600_000),
      'rigshift.io/mode-label-key': 'rigshift.io/mode',
      'rigshift.io/taint-key': 'rigshift.io/reserved',
      'rigshift.io/target-mode': target,
      ...extra,
    },
    taints:
      mode === 'draining' || mode === 'training'
        ? [{ key: 'rigshift.io/reserved', value: 'training', effect: 'NoSchedule' }]
        : [],
  });
}

export function pool(
  name = 'etc',
  over: Record<string, unknown> = {},
  status?: Record<string, unknown>,
): MiningPool {
  const r = parseMiningPool({
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'MiningPool',
    metadata: { name, namespace: 'farm', uid: `uid-${name}`, generation: 1 },
    spec: {
      coin: 'ETC',
      algorithm: 'etchash',
      stratum: {
        primary: 'stratum+tcp://etc.example.org:1010',
        failovers: ['stratum+ssl://b.example.org:1443'],
      },
      wallet: '0xabc',
      miner: {
        image: 'miner:1',
        args: [
          '-o',
          '${STRATUM}',
          '-u',
          '${WALLET}.${WORKER}',
          '-p',
          '${PASSWORD}',
          '--gpus',
          '${GPU_COUNT}',
        ],
      },
      credentialsSecretRef: { name: 'pool-creds', key: 'password' },
      nodeSelector: { matchLabels: { farm: 'test' } },
      gpuProfiles: [
        { product: P3090, hashrate: '120M', miningWatts: 300, trainingWatts: 350, idleWatts: 20 },
      ],
      revenueUsdPerMhsDay: { value: '0.002' },
      electricityUsdPerKwh: { value: '0.1' },
      ...over,
    },
    status: status ?? {
      observedGeneration: 1,
      yields: [{ product: P3090, usdPerGpuHour: '0.3' }],
      electricityUsdPerKwh: '0.1',
      inputsReadTime: iso(NOW - 1000),
      conditions: [
        {
          type: 'YieldKnown',
          status: 'True',
          reason: 'PricesKnown',
          message: '',
          lastTransitionTime: iso(NOW - 60_000),
          observedGeneration: 1,
        },
      ],
    },
  });
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

export function job(
  name: string,
  over: Record<string, unknown> = {},
  status?: Record<string, unknown>,
  meta: Record<string, unknown> = {},
): TrainingJob {
  const r = parseTrainingJob({
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name, namespace: 'ml', uid: `uid-${name}`, generation: 1, resourceVersion: '5', ...meta },
    spec: { image: 'train:1', replicas: 2, gpusPerReplica: 8, bidUsdPerGpuHour: '1.00', ...over },
    ...(status ? { status } : {}),
  });
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

export const condition = (type: string, status: 'True' | 'False', since = NOW - 600_000, reason = 'X') => ({
  type,
  status,
  reason,
  message: '',
  lastTransitionTime: iso(since),
});

export function minerPod(name: string, node: string, gpus = 8, over: Partial<V1Pod['metadata']> = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'farm',
      uid: `uid-${name}`,
      labels: { 'app.kubernetes.io/managed-by': 'rigshift', 'rigshift.io/miningpool': 'etc' },
      annotations: { 'rigshift.io/node': node },
      ...over,
    },
    spec: {
      nodeName: node,
      containers: [{ name: 'miner', resources: { limits: { 'nvidia.com/gpu': String(gpus) } } }],
    },
    status: { phase: 'Running' },
  };
}

export function trainerPod(
  jobName: string,
  node: string,
  gpus = 8,
  phase = 'Running',
  over: Partial<V1Pod['metadata']> = {},
): V1Pod {
  return {
    metadata: {
      name: `${jobName}-${node}`,
      namespace: 'ml',
      uid: `uid-${jobName}-${node}`,
      labels: { 'app.kubernetes.io/managed-by': 'rigshift', 'rigshift.io/trainingjob': jobName },
      annotations: { 'rigshift.io/node': node },
      ownerReferences: [
        {
          apiVersion: 'rigshift.io/v1alpha1',
          kind: 'TrainingJob',
          name: jobName,
          uid: `uid-${jobName}`,
          controller: true,
        },
      ],
      ...over,
    },
    spec: {
      nodeName: node,
      containers: [{ name: 'trainer', resources: { limits: { 'nvidia.com/gpu': String(gpus) } } }],
    },
    status: { phase, conditions: phase === 'Running' ? [{ type: 'Ready', status: 'True' }] : [] },
  };
}

export function foreignPod(name: string, node: string, gpus: number, phase = 'Running'): V1Pod {
  return {
    metadata: { name, namespace: 'other', uid: `uid-${name}` },
    spec: {
      nodeName: node,
      containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': String(gpus) } } }],
    },
    status: { phase },
  };
}
