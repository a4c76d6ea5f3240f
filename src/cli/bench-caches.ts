import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Command } from 'commander';
import yaml from 'js-yaml';
import { KINDS } from '../api/v1alpha1/index.js';
import { buildCrd } from '../api/crdgen.js';
import { Manager } from '../controller/manager.js';
import { apply } from '../kube/apply.js';
import { createKubeClient, loadKubeConfig, type KubeClient } from '../kube/client.js';
import { Kinds, resourcePath } from '../kube/resources.js';
import { startLocalCluster, type LocalCluster } from '../local/cluster.js';
import { waitNodesReady } from '../local/nodes.js';

/**
 * `rigshift bench-caches`: figures, not tests. Fills a cluster with N pods rigshift does not own (on a node
 * without GPUs) and M ConfigMaps no pool reads, then starts the operator twice in this process and prints its
 * heap once its caches are synced: as it caches now (foreign pods trimmed, only the ConfigMaps pools
 * reference) and as it cached before (whole pods, every ConfigMap; ManagerOptions.fullCaches).
 */

const log = (line: string): void => void process.stderr.write(`bench-caches: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BenchCachesOptions {
  kubeconfig?: string;
  pods: number;
  configMaps: number;
}

export interface CacheFigures {
  mode: 'trimmed' | 'full';
  heapMiB: number;
  foreignPods: number;
  configMaps: number;
  syncSeconds: number;
}

function heapUsed(): number {
  const gc = (global as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

async function forEachLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) await fn(items[i++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** A pod as applications have them: labels, annotations, env, probes, requests (kwok adds a full status). */
function appPod(ns: string, node: string, i: number): object {
  return {
    metadata: {
      name: `app-${i}`,
      namespace: ns,
      labels: { app: 'web', tier: 'frontend', 'pod-template-hash': '5d8f7c9b6', release: 'stable' },
      annotations: {
        'prometheus.io/scrape': 'true',
        'kubectl.kubernetes.io/restartedAt': new Date().toISOString(),
      },
    },
    spec: {
      nodeName: node,
      containers: [
        {
          name: 'web',
          image: 'registry.example.com/team/web:1.24.3',
          ports: [{ containerPort: 8080, name: 'http' }],
          env: Array.from({ length: 10 }, (_, k) => ({ name: `SETTING_${k}`, value: `value-${k}-${i}` })),
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10 },
        },
      ],
    },
  };
}

/** Starts an operator, waits for its caches, measures its heap above `baseline`, stops it. */
async function measure(
  kubeconfig: string,
  ns: string,
  policyFile: string,
  full: boolean,
): Promise<CacheFigures> {
  const baseline = heapUsed();
  const began = Date.now();
  const m = new Manager(loadKubeConfig({ kubeconfig }), {
    fullCaches: full,
    // Jobs, pools and its own pods in the bench's namespace, no node of the cluster, a dry-run policy: it
    // writes nothing but a pool status. Foreign pods are watched cluster-wide whatever the namespace.
    namespace: ns,
    nodeSelector: `rigshift.io/bench=${ns}`,
    policyFile,
    identity: `bench-caches-${full ? 'full' : 'trimmed'}`,
    nodeWorkers: 1,
  });
  await m.start();
  const syncSeconds = (Date.now() - began) / 1000;
  await sleep(1000); // the pool's ConfigMap watch lists after the pool's add
  const heap = heapUsed() - baseline;
  const figures: CacheFigures = {
    mode: full ? 'full' : 'trimmed',
    heapMiB: Math.round((heap / 2 ** 20) * 10) / 10,
    foreignPods: m.informers.foreignPods.list().length,
    configMaps: full ? (m.informers.allConfigMaps?.list().length ?? 0) : m.configMaps.cached(),
    syncSeconds: Math.round(syncSeconds * 10) / 10,
  };
  await m.stop();
  return figures;
}

export async function benchCaches(opts: BenchCachesOptions): Promise<CacheFigures[]> {
  let cluster: LocalCluster | undefined;
  let kubeconfig = opts.kubeconfig;
  if (!kubeconfig) {
    const work = mkdtempSync(join(tmpdir(), 'rigshift-bench-caches-'));
    log(`starting a local cluster in ${work}`);
    cluster = await startLocalCluster({ dir: work, progress: log });
    kubeconfig = cluster.kubeconfigPath;
  }
  const client = createKubeClient(loadKubeConfig({ kubeconfig }));
  const ns = `bench-caches-${randomBytes(3).toString('hex')}`;
  const node = `${ns}-cpu`;
  const pcs = { mining: `${ns}-mining`, training: `${ns}-training` };
  const policyFile = join(mkdtempSync(join(tmpdir(), 'rigshift-bench-caches-policy-')), 'policy.yaml');
  try {
    for (const kind of KINDS)
      await apply(client, buildCrd(kind) as unknown as KubernetesObject, { force: true });
    await create(client, resourcePath(Kinds.Namespace), { metadata: { name: ns } });
    for (const name of Object.values(pcs))
      await create(client, resourcePath(Kinds.PriorityClass), { metadata: { name }, value: 0 });
    writeFileSync(policyFile, yaml.dump({ dryRun: true, priorityClasses: pcs }));
    const res = { cpu: '64', memory: '256Gi', pods: String(opts.pods + 10) };
    await create(client, resourcePath(Kinds.Node), {
      metadata: { name: node, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { type: 'kwok' } },
      status: { capacity: res, allocatable: res },
    });
    await waitNodesReady(client.kc, [node], 60_000);
    log(`creating ${opts.pods} pods on ${node} (no GPUs) and ${opts.configMaps} ConfigMaps`);
    const t0 = Date.now();
    await forEachLimit([...Array(opts.pods).keys()], 16, (i) =>
      create(client, resourcePath(Kinds.Pod, { namespace: ns }), appPod(ns, node, i)),
    );
    const data = { 'settings.yaml': 'key: value\n'.repeat(180) }; // ~2 KB, as small app configs are
    await forEachLimit([...Array(opts.configMaps).keys()], 16, (i) =>
      create(client, resourcePath(Kinds.ConfigMap, { namespace: ns }), {
        metadata: { name: `cfg-${i}` },
        data,
      }),
    );
    await create(client, resourcePath(Kinds.ConfigMap, { namespace: ns }), {
      metadata: { name: 'power' },
      data: { usd: '0.05' },
    });
    await create(client, resourcePath(Kinds.MiningPool, { namespace: ns }), {
      apiVersion: 'rigshift.io/v1alpha1',
      kind: 'MiningPool',
      metadata: { name: 'etc' },
      spec: {
        coin: 'ETC',
        algorithm: 'etchash',
        stratum: { primary: 'stratum+tcp://etc.example.org:1010' },
        wallet: '0xabc',
        miner: { image: 'miner:1' },
        nodeSelector: { matchLabels: { 'rigshift.io/bench': ns } },
        gpuProfiles: [
          {
            product: 'NVIDIA-GeForce-RTX-3090',
            hashrate: '120M',
            miningWatts: 300,
            trainingWatts: 350,
            idleWatts: 20,
          },
        ],
        revenueUsdPerMhsDay: { value: '0.02' },
        electricityUsdPerKwh: { configMapKeyRef: { name: 'power', key: 'usd' } },
      },
    });
    log(`created in ${((Date.now() - t0) / 1000).toFixed(1)} s; waiting for kwok to run the pods`);
    await sleep(Math.min(30_000, 2000 + opts.pods * 3));
    // Both in one process, the same cluster: trimmed first, then the former full caches.
    const out = [
      await measure(kubeconfig, ns, policyFile, false),
      await measure(kubeconfig, ns, policyFile, true),
    ];
    return out;
  } finally {
    // Pods first, at once: with their node gone they would wait for the pod garbage collector.
    log('removing the pods, ConfigMaps and node');
    await client.rest
      .request({
        method: 'DELETE',
        path: resourcePath(Kinds.Pod, { namespace: ns }),
        query: { gracePeriodSeconds: 0 },
        timeoutMs: 600_000,
      })
      .catch((err: unknown) => log(`pods not all removed: ${(err as Error).message}`));
    await client.rest
      .request({ method: 'DELETE', path: resourcePath(Kinds.Namespace, { name: ns }) })
      .catch(() => undefined);
    await client.rest
      .request({ method: 'DELETE', path: resourcePath(Kinds.Node, { name: node }) })
      .catch(() => undefined);
    for (const name of Object.values(pcs)) {
      await client.rest
        .request({ method: 'DELETE', path: resourcePath(Kinds.PriorityClass, { name }) })
        .catch(() => undefined);
    }
    await cluster?.stop();
  }
}

async function create(client: KubeClient, path: string, body: object): Promise<void> {
  await client.rest.request({ method: 'POST', path, body });
}

export function formatCacheFigures(rows: CacheFigures[], pods: number, configMaps: number): string {
  const lines = [
    `${pods} foreign pods on a node without GPUs, ${configMaps} ConfigMaps no pool reads (+1 a pool reads)`,
    'caches     heap MiB   foreign pods   ConfigMaps   synced in s',
  ];
  for (const r of rows) {
    lines.push(
      `${r.mode.padEnd(10)} ${String(r.heapMiB).padStart(8)}   ${String(r.foreignPods).padStart(12)}   ` +
        `${String(r.configMaps).padStart(10)}   ${String(r.syncSeconds).padStart(11)}`,
    );
  }
  return lines.join('\n');
}

export function registerBenchCaches(program: Command): void {
  program
    .command('bench-caches')
    .description(
      "Measure the operator's heap with many pods and ConfigMaps it does not act on (run with node --expose-gc)",
    )
    .option('--kubeconfig <path>', 'use this cluster (default: start a local cluster in a temporary folder)')
    .option('--pods <n>', 'foreign pods', (v) => Math.max(1, Number(v) || 3000), 3000)
    .option('--configmaps <n>', 'ConfigMaps no pool references', (v) => Math.max(0, Number(v) || 0), 2000)
    .action(async (o: { kubeconfig?: string; pods: number; configmaps: number }) => {
      if (!(global as { gc?: unknown }).gc) log('without node --expose-gc the figures include garbage');
      const opts: BenchCachesOptions = { pods: o.pods, configMaps: o.configmaps };
      if (o.kubeconfig) opts.kubeconfig = o.kubeconfig;
      const rows = await benchCaches(opts);
      process.stdout.write(`${formatCacheFigures(rows, o.pods, o.configmaps)}\n`);
    });
}
