// One operator scenario's world on the shared local cluster: its own namespace, uniquely labelled kwok GPU
// nodes, its own PriorityClasses, a policy file, a MiningPool selecting only its nodes, and the operator scoped
// to them (--namespace, --node-selector, --policy-file), run in-process or as a child process. The operator
// authenticates as the Helm chart's ServiceAccount (its RBAC installed with the world's namespace as the
// release namespace), which proves the chart's ClusterRole and Roles are enough; the test code itself uses
// the admin client.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1Node, V1Pod } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { Manager, type ManagerOptions } from '../../../src/controller/manager.js';
import { createKubeClient, type KubeClient } from '../../../src/kube/client.js';
import { Kinds, resourcePath } from '../../../src/kube/resources.js';
import { isNotFound } from '../../../src/kube/rest.js';
import { createLogger } from '../../../src/log.js';
import { installChartRbac, type ChartRbac } from '../../support/chart-rbac.js';
import { getTestCluster, waitFor, type TestCluster } from '../../support/cluster.js';

export const P3090 = 'NVIDIA-GeForce-RTX-3090';
/** An AMD card as AMD's node labeller names it (16 GiB: amd.com/gpu.vram=16G). */
export const RX6800 = 'AMD-Radeon-RX-6800';
export const MODE = 'rigshift.io/mode';
export const TAINT = 'rigshift.io/reserved';
const LOG_LEVEL = process.env.LOG_LEVEL ?? 'silent';

/** Yield of an RTX 3090 (120 MH/s, 300 W) at these prices: 120 × r / 24 − 0.3 × e. */
export const PRICES = { revenue: '0.02', electricity: '0.05' }; // 0.1 − 0.015 = 0.085 USD/GPU-h

/** An events.k8s.io/v1 Event recorded by the operator. */
export interface OperatorEvent {
  reason: string;
  note: string;
  type: string;
  reportingController?: string;
  reportingInstance?: string;
}

export interface World {
  c: TestCluster;
  /** Admin client, for the test code. */
  client: KubeClient;
  /** The chart's ServiceAccount and RBAC in the world's namespace: the operator's credentials. */
  rbac: ChartRbac;
  ns: string;
  nodes: string[];
  policyFile: string;
  dir: string;
  /** kubectl apply -f - of YAML documents (objects without a namespace get the world's). */
  apply(...objects: object[]): Promise<void>;
  get<T = KubernetesObject>(
    kind: keyof typeof Kinds,
    name: string,
    namespace?: string,
  ): Promise<T | undefined>;
  list<T = KubernetesObject>(kind: keyof typeof Kinds, query?: Record<string, string>): Promise<T[]>;
  nodeObjects(): Promise<V1Node[]>;
  modes(): Promise<Record<string, string | undefined>>;
  pods(selector?: string): Promise<V1Pod[]>;
  /** The operator's events.k8s.io/v1 Events about an object (a node's are in `default`). */
  events(
    name: string,
    namespace?: string,
  ): Promise<{ reason: string; note: string; type: string; reportingInstance?: string }[]>;
  writePolicy(spec: Record<string, unknown>): string;
  cleanup(): Promise<void>;
}

export interface WorldOptions {
  prefix: string;
  nodes: number;
  gpus?: number;
  /** Further nodes with AMD's node labeller labels and amd.com/gpu, product RX6800 (default none). */
  amdNodes?: number;
  policy?: Record<string, unknown>;
  /** MiningPool spec overrides (price sources...). */
  pool?: Record<string, unknown>;
  /** Create the MiningPool (default true). */
  withPool?: boolean;
}

export function poolManifest(ns: string, over: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'MiningPool',
    metadata: { name: 'etc', namespace: ns },
    spec: {
      coin: 'ETC',
      algorithm: 'etchash',
      stratum: { primary: 'stratum+tcp://etc.example.org:1010' },
      wallet: '0xabc',
      miner: {
        image: 'miner:1',
        args: ['-o', '${STRATUM}', '-u', '${WALLET}.${WORKER}', '--gpus', '${GPU_COUNT}'],
      },
      nodeSelector: { matchLabels: { 'rigshift.io/test': ns } },
      gpuProfiles: [
        { product: P3090, hashrate: '120M', miningWatts: 300, trainingWatts: 350, idleWatts: 20 },
      ],
      revenueUsdPerMhsDay: { value: PRICES.revenue },
      electricityUsdPerKwh: { value: PRICES.electricity },
      ...over,
    },
  };
}

export function jobManifest(ns: string, name: string, spec: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name, namespace: ns },
    spec: { image: 'train:1', replicas: 2, gpusPerReplica: 8, bidUsdPerGpuHour: '1.00', ...spec },
  };
}

/** Annotations that make kwok complete a pod after `seconds` (jitter bounded by the same delay). */
export function completesAfter(seconds: number): Record<string, string> {
  return {
    'pod-complete.stage.kwok.x-k8s.io/delay': `${seconds}s`,
    'pod-complete.stage.kwok.x-k8s.io/jitter-delay': `${seconds + 1}s`,
  };
}

export async function createWorld(o: WorldOptions): Promise<World> {
  const c = await getTestCluster();
  await c.installCrds();
  const client = createKubeClient(c.kc);
  const ns = await c.createNamespace(o.prefix);
  // Valid for the whole test file: the slowest takes a few minutes.
  const rbac = await installChartRbac(c, { namespace: ns, tokenSeconds: 7200 });
  const dir = mkdtempSync(join(tmpdir(), `rigshift-${ns}-`));
  const pcs = { mining: `${ns}-mining`, training: `${ns}-training` };
  const rest = client.rest;

  const world: World = {
    c,
    client,
    rbac,
    ns,
    nodes: [],
    dir,
    policyFile: join(dir, 'policy.yaml'),
    async apply(...objects) {
      const docs = objects.map((obj) => {
        const o2 = obj as { metadata?: { namespace?: string }; kind?: string };
        const clusterScoped = ['Node', 'PriorityClass', 'FleetPolicy'].includes(o2.kind ?? '');
        if (!clusterScoped && o2.metadata && !o2.metadata.namespace) o2.metadata.namespace = ns;
        return yaml.dump(o2);
      });
      await c.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=e2e', '-f', '-'], {
        input: docs.join('---\n'),
      });
    },
    async get<T>(kind: keyof typeof Kinds, name: string, namespace?: string): Promise<T | undefined> {
      const info = Kinds[kind];
      try {
        const res = await rest.request<T>({
          method: 'GET',
          path: resourcePath(info, { namespace: info.namespaced ? (namespace ?? ns) : undefined, name }),
        });
        return res.body;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async list<T>(kind: keyof typeof Kinds, query: Record<string, string> = {}): Promise<T[]> {
      const info = Kinds[kind];
      const res = await rest.request<{ items: T[] }>({
        method: 'GET',
        path: resourcePath(info, { namespace: info.namespaced ? ns : undefined }),
        query,
      });
      return res.body.items;
    },
    async nodeObjects() {
      return world.list<V1Node>('Node', { labelSelector: `rigshift.io/test=${ns}` });
    },
    async modes() {
      const out: Record<string, string | undefined> = {};
      for (const n of await world.nodeObjects()) out[n.metadata?.name ?? ''] = n.metadata?.labels?.[MODE];
      return out;
    },
    async pods(selector = 'app.kubernetes.io/managed-by=rigshift') {
      return world.list<V1Pod>('Pod', { labelSelector: selector });
    },
    async events(name, namespace = ns) {
      // In-process operators write Events in the background: read after theirs are written.
      await Promise.all([...running].map((m) => m.eventsWritten()));
      const res = await rest.request<{ items: OperatorEvent[] }>({
        method: 'GET',
        path: resourcePath(Kinds.Event, { namespace }),
        query: { fieldSelector: `regarding.name=${name}` },
      });
      return res.body.items.filter((e) => e.reportingController === 'rigshift.io/operator');
    },
    writePolicy(spec) {
      const file = join(dir, `policy-${Date.now()}-${Math.random().toString(16).slice(2, 6)}.yaml`);
      writeFileSync(file, yaml.dump({ ...spec, priorityClasses: pcs }));
      return file;
    },
    async cleanup() {
      // The operator may be gone: finalizers it would have removed must not keep the namespace alive.
      for (const j of await world.list<KubernetesObject>('TrainingJob').catch(() => [])) {
        await rest
          .request({
            method: 'PATCH',
            path: resourcePath(Kinds.TrainingJob, { namespace: ns, name: j.metadata?.name }),
            contentType: 'application/merge-patch+json',
            body: { metadata: { finalizers: null } },
          })
          .catch(() => undefined);
      }
      for (const n of world.nodes) {
        await rest
          .request({ method: 'DELETE', path: resourcePath(Kinds.Node, { name: n }) })
          .catch(() => undefined);
      }
      for (const pc of Object.values(pcs)) {
        await rest
          .request({ method: 'DELETE', path: resourcePath(Kinds.PriorityClass, { name: pc }) })
          .catch(() => undefined);
      }
      await rest
        .request({ method: 'DELETE', path: resourcePath(Kinds.Namespace, { name: ns }) })
        .catch(() => undefined);
      await rbac.cleanup().catch(() => undefined);
    },
  };

  world.policyFile = world.writePolicy({
    hysteresisPercent: 5,
    minDwellSeconds: 0,
    switchingSeconds: 10,
    maxConcurrentDrains: 10,
    drainTimeoutSeconds: 30,
    drainTimeoutPolicy: 'Wait',
    ...o.policy,
  });
  await world.apply(
    {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name: pcs.mining },
      value: -10,
      preemptionPolicy: 'Never',
    },
    {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name: pcs.training },
      value: 100000,
    },
  );
  world.nodes = await c.addGpuNodes({
    count: o.nodes,
    product: P3090,
    gpus: o.gpus ?? 8,
    memoryMiB: 24576,
    namePrefix: ns,
    labels: { 'rigshift.io/test': ns },
  });
  if (o.amdNodes) {
    world.nodes.push(
      ...(await c.addGpuNodes({
        count: o.amdNodes,
        vendor: 'amd',
        product: RX6800,
        gpus: o.gpus ?? 8,
        memoryMiB: 16384,
        namePrefix: `${ns}-amd`,
        labels: { 'rigshift.io/test': ns },
      })),
    );
  }
  if (o.withPool ?? true) await world.apply(poolManifest(ns, o.pool));
  return world;
}

/** The operator in this process, scoped to the world, as the chart's ServiceAccount. */
export async function startOperator(w: World, over: Partial<ManagerOptions> = {}): Promise<Manager> {
  const m = new Manager(
    w.rbac.kc,
    {
      namespace: w.ns,
      leaderElectionNamespace: w.ns,
      leaderElectionId: w.rbac.leaseName,
      jobGrants: w.rbac.jobGrantsName,
      nodeSelector: `rigshift.io/test=${w.ns}`,
      policyFile: w.policyFile,
      minerGracePeriodSeconds: 1,
      identity: `e2e-${w.ns}`,
      ...over,
    },
    { logger: createLogger(LOG_LEVEL) },
  );
  await m.start();
  running.add(m);
  const stop = m.stop.bind(m);
  m.stop = async (...args: Parameters<Manager['stop']>) => {
    running.delete(m);
    return stop(...args);
  };
  return m;
}

/** Operators started in this process and not stopped. */
const running = new Set<Manager>();

/** The operator as a child process (`node bin/rigshift.js run ...`, the compiled dist/), as the chart's
 * ServiceAccount. */
export interface OperatorProcess {
  child: ChildProcess;
  identity: string;
  output(): string;
  exited: Promise<number | null>;
}

export function spawnOperator(
  w: World,
  args: string[] = [],
  identity = `proc-${Math.random().toString(16).slice(2, 8)}`,
): OperatorProcess {
  const child = spawn(
    process.execPath,
    [
      join(process.cwd(), 'bin', 'rigshift.js'),
      'run',
      '--kubeconfig',
      w.rbac.kubeconfigPath,
      '--leader-election-namespace',
      w.ns,
      '--leader-election-id',
      w.rbac.leaseName,
      '--job-grants',
      w.rbac.jobGrantsName,
      '--namespace',
      w.ns,
      '--node-selector',
      `rigshift.io/test=${w.ns}`,
      '--policy-file',
      w.policyFile,
      '--miner-grace-period',
      '1',
      '--identity',
      identity,
      '--log-level',
      'debug',
      // No fixed port (tests run side by side): off unless the test picks one.
      ...(args.includes('--metrics-address') ? [] : ['--metrics-address', 'off']),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, identity, output: () => out, exited };
}

export const modeCount = (modes: Record<string, string | undefined>, mode: string): number =>
  Object.values(modes).filter((m) => m === mode).length;

export const isRunning = (p: V1Pod): boolean =>
  p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp;

export const podNodeOf = (p: V1Pod): string | undefined =>
  p.spec?.nodeName ?? p.metadata?.annotations?.['rigshift.io/node'];

export const hasTaint = (n: V1Node): boolean => (n.spec?.taints ?? []).some((t) => t.key === TAINT);

/** Waits until every node of the world is mining with exactly one running miner; returns miners by node. */
export async function waitAllMining(w: World, timeoutMs = 60_000): Promise<Map<string, V1Pod>> {
  return waitFor(
    'every node mining with one running miner',
    async () => {
      const modes = await w.modes();
      if (modeCount(modes, 'mining') !== w.nodes.length) return undefined;
      const miners = (await w.pods('rigshift.io/miningpool=etc')).filter(isRunning);
      const byNode = new Map<string, V1Pod>();
      for (const p of miners) {
        const n = podNodeOf(p) ?? '';
        if (byNode.has(n)) return undefined;
        byNode.set(n, p);
      }
      return w.nodes.every((n) => byNode.has(n)) ? byNode : undefined;
    },
    timeoutMs,
  );
}

export type Job = KubernetesObject & {
  spec: Record<string, unknown>;
  status?: {
    state?: string;
    assignedNodes?: string[];
    waitingReason?: string;
    preemptions?: number;
    gpuHours?: string;
    earnedUsd?: string;
    conditions?: {
      type: string;
      status: string;
      reason: string;
      message: string;
      lastTransitionTime: string;
    }[];
  };
};

export const conditionOf = (j: Job | undefined, type: string) =>
  j?.status?.conditions?.find((c) => c.type === type);

export { waitFor };
