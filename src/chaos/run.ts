import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject, V1Node, V1Pod } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { apply } from '../kube/apply.js';
import { createKubeClient, type KubeClient } from '../kube/client.js';
import { Kinds, resourcePath } from '../kube/resources.js';
import { restartComponent, startLocalCluster, type LocalCluster } from '../local/cluster.js';
import { projectRoot } from '../local/paths.js';
import { checkInvariants, UsageTracker, type ChaosJob, type Violation } from './invariants.js';
import { FreezingProxy } from './proxy.js';
import { planFaults, rng, nextJob, type Fault } from './schedule.js';

/**
 * `rigshift chaos`: a farm on the local cluster under faults — operator SIGKILLs, a second replica, API server
 * restarts, a frozen watch — while jobs arrive and prices move; then a quiet period and the invariants.
 */

export interface ChaosOptions {
  seed: number;
  kills: number;
  durationSeconds: number;
  nodes: number;
  quietSeconds: number;
  dir: string;
  keep: boolean;
  log: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  durationSeconds: number;
  wallSeconds: number;
  nodes: number;
  jobsSubmitted: number;
  jobsByState: Record<string, number>;
  faults: {
    kills: number;
    killsSurvived: number;
    apiServerRestarts: number;
    watchFreezes: number;
    secondReplicaSeconds: number;
  };
  convergeSeconds: {
    p50: number;
    p99: number;
    max: number;
    perFault: { fault: string; atSeconds: number; seconds: number | null }[];
  };
  quietConvergeSeconds: number | null;
  violations: Violation[];
}

const FARM = 'rigshift.io/farm=chaos';
const NS = { farm: 'chaos', a: 'chaos-a', q: 'chaos-q' };
const PRODUCTS = [
  {
    product: 'NVIDIA-GeForce-RTX-3090',
    hashrate: '120M',
    miningWatts: 300,
    trainingWatts: 350,
    idleWatts: 20,
  },
  {
    product: 'NVIDIA-GeForce-RTX-4090',
    hashrate: '125M',
    miningWatts: 250,
    trainingWatts: 450,
    idleWatts: 25,
  },
];

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const began = Date.now();
  const random = rng(o.seed);
  const cluster = await startLocalCluster({ dir: join(o.dir, 'cluster'), progress: (l) => o.log(l) });
  const operators = new Map<string, ChildProcess>();
  const proxy = new FreezingProxy('127.0.0.1', cluster.state.ports.apiPort ?? 0);
  let stopping = false;
  try {
    const client = createKubeClient(cluster.kubeConfig());
    await installFarm(cluster, client, o);
    const port = await proxy.start();
    const opKubeconfig = join(o.dir, 'operator.kubeconfig');
    writeFileSync(
      opKubeconfig,
      readFileSync(cluster.kubeconfigPath, 'utf8').replace(
        /server: https:\/\/127\.0\.0\.1:\d+/,
        `server: https://127.0.0.1:${port}`,
      ),
      { mode: 0o600 },
    );

    // The "Deployment": operator replicas, restarted whenever one exits (killed, or stepping down on a lost lease).
    const wanted = new Set(['op-0']);
    const startOp = (id: string): void => {
      const log = openSync(join(o.dir, `${id}.log`), 'a');
      const child = spawn(
        process.execPath,
        [
          join(projectRoot(), 'bin', 'rigshift.js'),
          'run',
          '--kubeconfig',
          opKubeconfig,
          '--metrics-address',
          'off',
          '--leader-elect',
          '--leader-election-namespace',
          NS.farm,
          // Shorter than the default 15 s lease, so a SIGKILLed leader is replaced within seconds; long enough
          // that a loaded machine does not lose the lease on every slow renewal.
          '--lease-duration',
          '8',
          '--renew-deadline',
          '6',
          '--retry-period',
          '1',
          '--identity',
          `${id}-${Date.now()}`,
          '--node-selector',
          FARM,
          '--pool-namespace',
          NS.farm,
          '--miner-grace-period',
          '0',
        ],
        { stdio: ['ignore', log, log] },
      );
      operators.set(id, child);
      child.on('exit', () => {
        if (operators.get(id) === child) operators.delete(id);
        if (!stopping && wanted.has(id))
          setTimeout(() => !stopping && !operators.has(id) && startOp(id), 500);
      });
    };
    startOp('op-0');

    const faults = planFaults(random, o.durationSeconds, o.kills);
    const usage = new UsageTracker();
    const observations: { fault: Fault; at: number; convergedAt: number | null }[] = [];
    let jobsSubmitted = 0;
    let secondReplicaMs = 0;
    let frozen = 0;
    let apiRestarts = 0;
    let killsDone = 0;

    const snapshot = async (): Promise<{ nodes: V1Node[]; pods: V1Pod[]; jobs: ChaosJob[] }> => {
      const [nodes, pods, jobs] = await Promise.all([
        client.core.listNode({ labelSelector: FARM }),
        client.core.listPodForAllNamespaces({
          fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed',
        }),
        client.rest.request<{ items: ChaosJob[] }>({ method: 'GET', path: resourcePath(Kinds.TrainingJob) }),
      ]);
      const names = new Set(nodes.items.map((n) => n.metadata?.name));
      return {
        nodes: nodes.items,
        pods: pods.items.filter((p) => names.has(p.spec?.nodeName)),
        jobs: jobs.body.items,
      };
    };
    const check = async (atRest: boolean): Promise<Violation[] | undefined> => {
      try {
        const s = await snapshot();
        usage.observe(s.jobs);
        return checkInvariants({
          ...s,
          modeLabelKey: 'rigshift.io/mode',
          taintKey: 'rigshift.io/reserved',
          nowMs: Date.now(),
          startTimeoutSeconds: 30,
          atRest,
        });
      } catch {
        return undefined; // the API server is restarting
      }
    };

    // The run: faults at their instants, a job every ~2 s, prices every 3 s, the invariants every second.
    const t0 = Date.now();
    const elapsed = (): number => (Date.now() - t0) / 1000;
    let nextJobAt = 1;
    let nextPriceAt = 3;
    let nextCheckAt = 0;
    const pending = [...faults];
    let secondSince: number | undefined;
    o.log(`chaos: ${faults.length} faults over ${o.durationSeconds} s (seed ${o.seed})`);
    while (elapsed() < o.durationSeconds) {
      const now = elapsed();
      while (pending.length > 0 && (pending[0] as Fault).at <= now) {
        const f = pending.shift() as Fault;
        o.log(`chaos: t=${now.toFixed(1)}s ${f.kind}`);
        let happened = true;
        if (f.kind === 'kill') {
          const ids = [...operators.keys()];
          const id = ids[Math.floor(random() * ids.length)];
          const child = id === undefined ? undefined : operators.get(id);
          // At that instant every replica may be down already (killed, or exited on a lost lease).
          happened = child?.pid !== undefined;
          if (happened) {
            child?.kill('SIGKILL');
            killsDone++;
          }
        } else if (f.kind === 'second-replica-up') {
          wanted.add('op-1');
          if (!operators.has('op-1')) startOp('op-1');
          secondSince = Date.now();
        } else if (f.kind === 'second-replica-down') {
          wanted.delete('op-1');
          operators.get('op-1')?.kill('SIGTERM');
          if (secondSince !== undefined) secondReplicaMs += Date.now() - secondSince;
          secondSince = undefined;
        } else if (f.kind === 'apiserver-restart') {
          await restartComponent(cluster.state, 'kube-apiserver');
          apiRestarts++;
        } else if (f.kind === 'freeze') {
          const n = proxy.freeze();
          o.log(`chaos: froze ${n} operator connections`);
          frozen++;
        } else if (f.kind === 'thaw') {
          proxy.thaw();
        }
        if (happened && f.kind !== 'second-replica-down' && f.kind !== 'thaw')
          observations.push({ fault: f, at: Date.now(), convergedAt: null });
      }
      if (now >= nextJobAt) {
        nextJobAt = now + 1 + random() * 2;
        const job = nextJob(random, jobsSubmitted++, { farm: NS.a, limited: NS.q });
        await apply(client, job as KubernetesObject).catch(() => jobsSubmitted--);
        // GitOps deletes: now and then an earlier job is removed from git.
        if (random() < 0.08 && jobsSubmitted > 3) {
          const victim = Math.floor(random() * (jobsSubmitted - 1));
          await deleteJob(client, `job-${victim}`).catch(() => undefined);
        }
      }
      if (now >= nextPriceAt) {
        nextPriceAt = now + 3;
        await setPrices(client, 0.01 + random() * 0.11).catch(() => undefined);
      }
      if (now >= nextCheckAt) {
        nextCheckAt = now + 1;
        const v = await check(false);
        if (v !== undefined && v.length === 0) {
          for (const ob of observations) if (ob.convergedAt === null) ob.convergedAt = Date.now();
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (secondSince !== undefined) secondReplicaMs += Date.now() - secondSince;

    // Quiet: one replica, no new jobs, steady prices; wait for three clean checks in a row.
    o.log('chaos: quiet period');
    wanted.delete('op-1');
    operators.get('op-1')?.kill('SIGTERM');
    proxy.thaw();
    const quietStart = Date.now();
    let clean = 0;
    let firstClean: number | null = null;
    let last: Violation[] = [];
    while (Date.now() - quietStart < o.quietSeconds * 1000) {
      const v = await check(true);
      if (v !== undefined) last = v;
      if (v !== undefined && v.length === 0) {
        firstClean ??= Date.now();
        for (const ob of observations) if (ob.convergedAt === null) ob.convergedAt = Date.now();
        if (++clean >= 3) break;
      } else {
        clean = 0;
        firstClean = null;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const final = await check(true);
    const violations = [...(final ?? last), ...usage.violations];
    const { jobs } = await snapshot();
    const jobsByState: Record<string, number> = {};
    for (const j of jobs) {
      const st = (j.status as { state?: string } | undefined)?.state ?? 'none';
      jobsByState[st] = (jobsByState[st] ?? 0) + 1;
    }
    const per = observations.map((ob) => ({
      fault: ob.fault.kind,
      atSeconds: Math.round((ob.at - t0) / 100) / 10,
      seconds: ob.convergedAt === null ? null : Math.round((ob.convergedAt - ob.at) / 100) / 10,
    }));
    const times = per
      .map((p) => p.seconds)
      .filter((s): s is number => s !== null)
      .sort((a, b) => a - b);
    const pct = (q: number): number =>
      times.length === 0
        ? NaN
        : (times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)] as number);
    return {
      seed: o.seed,
      durationSeconds: o.durationSeconds,
      wallSeconds: Math.round((Date.now() - began) / 1000),
      nodes: o.nodes,
      jobsSubmitted,
      jobsByState,
      faults: {
        kills: killsDone,
        killsSurvived: observations.filter((ob) => ob.fault.kind === 'kill' && ob.convergedAt !== null)
          .length,
        apiServerRestarts: apiRestarts,
        watchFreezes: frozen,
        secondReplicaSeconds: Math.round(secondReplicaMs / 1000),
      },
      convergeSeconds: {
        p50: pct(0.5),
        p99: pct(0.99),
        max: times.length ? (times[times.length - 1] as number) : NaN,
        perFault: per,
      },
      quietConvergeSeconds: firstClean === null ? null : Math.round((firstClean - quietStart) / 100) / 10,
      violations,
    };
  } finally {
    stopping = true;
    for (const c of operators.values()) c.kill('SIGKILL');
    await proxy.stop();
    if (!o.keep) await cluster.stop();
    else o.log(`chaos: cluster kept; kubeconfig ${cluster.kubeconfigPath}`);
  }
}

async function deleteJob(client: KubeClient, name: string): Promise<void> {
  for (const ns of [NS.a, NS.q]) {
    await client.rest
      .request({ method: 'DELETE', path: resourcePath(Kinds.TrainingJob, { namespace: ns, name }) })
      .catch(() => undefined);
  }
}

async function setPrices(client: KubeClient, revenue: number): Promise<void> {
  await apply(client, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'prices', namespace: NS.farm },
    data: { revenue: revenue.toFixed(6), electricity: '0.05' },
  } as KubernetesObject);
}

async function installFarm(cluster: LocalCluster, client: KubeClient, o: ChaosOptions): Promise<void> {
  const per = Math.ceil(o.nodes / PRODUCTS.length);
  for (const p of PRODUCTS) {
    o.log(`chaos: adding ${per} nodes of 8× ${p.product}`);
    await cluster.addGpuNodes({
      count: per,
      product: p.product,
      gpus: 8,
      memoryMiB: 24576,
      labels: { 'rigshift.io/farm': 'chaos' },
    });
  }
  const crdDir = join(projectRoot(), 'crds');
  for (const f of readdirSync(crdDir).filter((x) => x.endsWith('.yaml'))) {
    await apply(client, yaml.load(readFileSync(join(crdDir, f), 'utf8')) as KubernetesObject, {
      force: true,
    });
  }
  await waitUntil(async () => {
    const r = await client.rest.request<{
      items: { spec: { group: string }; status?: { conditions?: { type: string; status: string }[] } }[];
    }>({
      method: 'GET',
      path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    });
    const ours = r.body.items.filter((c) => c.spec.group === 'rigshift.io');
    return (
      ours.length >= 4 &&
      ours.every((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'))
    );
  }, 60_000);
  const objects: object[] = [
    ...Object.values(NS).map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name: 'rigshift-mining' },
      value: -10,
      preemptionPolicy: 'Never',
    },
    {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name: 'rigshift-training' },
      value: 100000,
    },
    {
      apiVersion: 'rigshift.io/v1alpha1',
      kind: 'FleetPolicy',
      metadata: { name: 'default' },
      spec: {
        hysteresisPercent: 5,
        minDwellSeconds: 5,
        switchingSeconds: 5,
        maxConcurrentDrains: '25%',
        drainTimeoutSeconds: 20,
        drainTimeoutPolicy: 'ForceEvict',
        startTimeoutSeconds: 30,
        startBackoffSeconds: 5,
      },
    },
    // Some gangs cannot start: this namespace's quota lets two training pods exist at once.
    {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'two-trainers', namespace: NS.q },
      spec: {
        hard: { pods: '2' },
        scopeSelector: {
          matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['rigshift-training'] }],
        },
      },
    },
  ];
  for (const obj of objects)
    await waitUntil(() => apply(client, obj as KubernetesObject).then(() => true), 30_000);
  await setPrices(client, 0.04);
  await apply(client, {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'MiningPool',
    metadata: { name: 'etc', namespace: NS.farm },
    spec: {
      coin: 'ETC',
      algorithm: 'etchash',
      stratum: { primary: 'stratum+tcp://etc.example.org:1010' },
      wallet: '0xabc',
      miner: {
        image: 'miner:1',
        args: ['-o', '${STRATUM}', '-u', '${WALLET}.${WORKER}', '--gpus', '${GPU_COUNT}'],
      },
      nodeSelector: { matchLabels: { 'rigshift.io/farm': 'chaos' } },
      gpuProfiles: PRODUCTS,
      revenueUsdPerMhsDay: { configMapKeyRef: { name: 'prices', key: 'revenue' } },
      electricityUsdPerKwh: { configMapKeyRef: { name: 'prices', key: 'electricity' } },
    },
  } as KubernetesObject);
}

async function waitUntil(fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await fn()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`chaos setup timed out: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
