import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1Node, V1Pod } from '@kubernetes/client-node';
import type { Command } from 'commander';
import yaml from 'js-yaml';
import { KINDS } from '../api/v1alpha1/index.js';
import { buildCrd } from '../api/crdgen.js';
import { Manager } from '../controller/manager.js';
import { apply } from '../kube/apply.js';
import { loadKubeConfig, createKubeClient, type KubeClient } from '../kube/client.js';
import { Kinds, resourcePath } from '../kube/resources.js';
import { startLocalCluster, type LocalCluster } from '../local/cluster.js';
import { addGpuNodes } from '../local/nodes.js';
import { createLogger } from '../log.js';

/**
 * `rigshift bench-operator`: figures, not tests. On a local cluster (its own, or --kubeconfig), the operator runs
 * in this process and manages N simulated RTX 3090 nodes. Printed: the time from a winning 2×8 TrainingJob's
 * creation to all its pods Running (with and without the miners' stop, which is the miners' grace period and
 * kwok's deletion delay, not the operator), API requests per node switch (the operator's REST client counts
 * them), and the operator's heap once all N nodes mine (after a GC: run with node --expose-gc).
 */

const P3090 = 'NVIDIA-GeForce-RTX-3090';
const log = (line: string): void => void process.stderr.write(`bench-operator: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** The operator's heap above the baseline taken before it started, after a full GC (run with --expose-gc). */
function memory(baseline: NodeJS.MemoryUsage): { heap: string; heapPerNode: string; rss: string } {
  (global as { gc?: () => void }).gc?.();
  const now = process.memoryUsage();
  const heap = now.heapUsed - baseline.heapUsed;
  return {
    heap: (heap / 2 ** 20).toFixed(1),
    heapPerNode: (heap / 1024 / Math.max(1, nodesMeasured)).toFixed(1),
    rss: (now.rss / 2 ** 20).toFixed(0),
  };
}

let nodesMeasured = 1;

const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const diff = (a: Map<string, number>, b: Map<string, number>): Map<string, number> =>
  new Map([...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const).filter(([, v]) => v > 0));
const verbs = (m: Map<string, number>, per: number): string =>
  [...m].map(([k, v]) => `${k} ${(v / per).toFixed(1)}`).join(', ');

export interface BenchOptions {
  kubeconfig?: string;
  nodes: number;
  switches: number;
}

export async function benchOperator(opts: BenchOptions): Promise<void> {
  let cluster: LocalCluster | undefined;
  let kubeconfig = opts.kubeconfig;
  const work = mkdtempSync(join(tmpdir(), 'rigshift-bench-'));
  if (!kubeconfig) {
    log(`starting a local cluster in ${work}/cluster`);
    cluster = await startLocalCluster({ dir: join(work, 'cluster'), progress: log });
    kubeconfig = cluster.kubeconfigPath;
  }
  const kc = loadKubeConfig({ kubeconfig });
  const client = createKubeClient(kc);
  const ns = `bench-${randomBytes(3).toString('hex')}`;
  nodesMeasured = opts.nodes;
  const pcs = { mining: `${ns}-mining`, training: `${ns}-training` };
  let manager: Manager | undefined;
  let nodes: string[] = [];
  try {
    for (const kind of KINDS)
      await apply(client, buildCrd(kind) as unknown as KubernetesObject, { force: true });
    await sleep(1000); // CRDs become Established within a second on the local cluster
    await client.rest.request({
      method: 'POST',
      path: resourcePath(Kinds.Namespace),
      body: { metadata: { name: ns } },
    });
    for (const [mode, name] of Object.entries(pcs)) {
      const value = mode === 'mining' ? -10 : 100000;
      await apply(client, {
        apiVersion: 'scheduling.k8s.io/v1',
        kind: 'PriorityClass',
        metadata: { name },
        value,
      } as KubernetesObject);
    }
    const policyFile = join(work, 'policy.yaml');
    writeFileSync(
      policyFile,
      yaml.dump({
        hysteresisPercent: 5,
        minDwellSeconds: 0,
        switchingSeconds: 60,
        maxConcurrentDrains: 10,
        priorityClasses: pcs,
      }),
    );
    log(`creating ${opts.nodes} simulated GPU nodes`);
    const began = Date.now();
    nodes = await addGpuNodes(kc, {
      count: opts.nodes,
      product: P3090,
      gpus: 8,
      memoryMiB: 24576,
      namePrefix: ns,
      labels: { 'rigshift.io/bench': ns },
      timeoutMs: 300_000,
    });
    log(`nodes ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    await apply(client, {
      apiVersion: 'rigshift.io/v1alpha1',
      kind: 'MiningPool',
      metadata: { name: 'etc', namespace: ns },
      spec: {
        coin: 'ETC',
        algorithm: 'etchash',
        stratum: { primary: 'stratum+tcp://etc.example.org:1010' },
        wallet: '0xabc',
        miner: { image: 'miner:1' },
        nodeSelector: { matchLabels: { 'rigshift.io/bench': ns } },
        gpuProfiles: [
          { product: P3090, hashrate: '120M', miningWatts: 300, trainingWatts: 350, idleWatts: 20 },
        ],
        revenueUsdPerMhsDay: { value: '0.02' },
        electricityUsdPerKwh: { value: '0.05' },
      },
    } as KubernetesObject);

    (global as { gc?: () => void }).gc?.();
    const baseline = process.memoryUsage();
    const started = Date.now();
    manager = new Manager(
      kc,
      {
        namespace: ns,
        nodeSelector: `rigshift.io/bench=${ns}`,
        policyFile,
        minerGracePeriodSeconds: 1,
        identity: `bench-${ns}`,
      },
      { logger: createLogger('warn') },
    );
    await manager.start();
    log(`operator started in this process; waiting for ${opts.nodes} miners`);
    await until(
      'every node mining',
      async () => (await runningMiners(client, ns)) === opts.nodes,
      600_000,
      1000,
    );
    const converged = (Date.now() - started) / 1000;
    await until('the operator idle', async () => (await manager?.idle(), true), 60_000);
    await sleep(2000);
    const settled = memory(baseline);
    log(`all ${opts.nodes} nodes mining ${converged.toFixed(1)} s after start`);
    const m = manager;
    const counts = (): Map<string, number> => new Map(m.requests);

    const latencies: number[] = [];
    const drains: number[] = [];
    const toTraining: number[] = [];
    const back: number[] = [];
    for (let i = 0; i < opts.switches; i++) {
      const before = counts();
      const name = `job-${i}`;
      const t0 = Date.now();
      await apply(client, {
        apiVersion: 'rigshift.io/v1alpha1',
        kind: 'TrainingJob',
        metadata: { name, namespace: ns },
        spec: {
          image: 'train:1',
          replicas: 2,
          gpusPerReplica: 8,
          bidUsdPerGpuHour: '1.00',
          checkpointGracePeriodSeconds: 1,
        },
      } as KubernetesObject);
      // Poll the job's nodes: when they begin draining and when their miners are gone.
      let drainFrom: number | undefined;
      let drainTo: number | undefined;
      let assigned: string[] = [];
      await until(
        `job ${name} pods Running`,
        async () => {
          const job = await get<{ status?: { assignedNodes?: string[] } }>(
            client,
            resourcePath(Kinds.TrainingJob, { namespace: ns, name }),
          );
          assigned = job?.status?.assignedNodes ?? assigned;
          if (assigned.length > 0 && drainTo === undefined) {
            const modes = await Promise.all(
              assigned.map((n) => get<V1Node>(client, resourcePath(Kinds.Node, { name: n }))),
            );
            const labels = modes.map((m) => m?.metadata?.labels?.['rigshift.io/mode']);
            if (drainFrom === undefined && labels.some((l) => l === 'draining' || l === 'training'))
              drainFrom = Date.now();
            if (drainFrom !== undefined && (await minersOn(client, ns, assigned)) === 0) drainTo = Date.now();
          }
          const pods = await list<V1Pod>(
            client,
            resourcePath(Kinds.Pod, { namespace: ns }),
            `rigshift.io/trainingjob=${name}`,
          );
          return pods.length === 2 && pods.every((p) => p.status?.phase === 'Running');
        },
        120_000,
        25,
      );
      const t1 = Date.now();
      await sleep(2000); // let status writes and Events settle into the count
      const used = diff(before, counts());
      latencies.push(t1 - t0);
      drains.push((drainTo ?? t1) - (drainFrom ?? t0));
      toTraining.push(total(used) / 2);
      log(
        `switch ${i + 1}: ${t1 - t0} ms to Running (drain wait ${drains.at(-1)} ms), ${total(used)} requests for 2 nodes: ${verbs(used, 1)}`,
      );

      const b0 = counts();
      const tb = Date.now();
      await client.rest.request({
        method: 'DELETE',
        path: resourcePath(Kinds.TrainingJob, { namespace: ns, name }),
      });
      await until(
        'nodes back to mining',
        async () => (await runningMiners(client, ns)) === opts.nodes,
        120_000,
        100,
      );
      await sleep(2000);
      const usedBack = diff(b0, counts());
      back.push(total(usedBack) / 2);
      log(
        `back to mining in ${Date.now() - tb - 2000} ms, ${total(usedBack)} requests for 2 nodes: ${verbs(usedBack, 1)}`,
      );
    }
    const final = memory(baseline);
    const lat = median(latencies);
    const drain = median(drains);
    const without = median(latencies.map((l, i) => l - (drains[i] ?? 0)));
    console.log(
      `operator benchmark: ${opts.nodes} simulated RTX 3090 nodes (8 GPUs each), ${opts.switches} switches of a 2×8 job`,
    );
    console.log(`  converge from start: ${converged.toFixed(1)} s until all ${opts.nodes} nodes mine`);
    console.log(
      `  job created → all pods Running: median ${lat} ms; miners' stop (grace + kwok deletion) ${drain} ms of it; operator path without it ${without} ms`,
    );
    console.log(
      `  API requests per node switch: mining → training ${median(toTraining).toFixed(1)}, training → mining ${median(back).toFixed(1)} (operator's REST calls, watches excluded)`,
    );
    console.log(
      `  operator memory with ${opts.nodes} nodes mining: heap ${settled.heap} MiB after GC (${settled.heapPerNode} KiB per node), ` +
        `process RSS ${settled.rss} MiB; after the switches heap ${final.heap} MiB`,
    );
  } finally {
    await manager?.stop();
    if (!cluster) {
      for (const n of nodes)
        await client.rest
          .request({ method: 'DELETE', path: resourcePath(Kinds.Node, { name: n }) })
          .catch(() => undefined);
      for (const n of Object.values(pcs))
        await client.rest
          .request({ method: 'DELETE', path: resourcePath(Kinds.PriorityClass, { name: n }) })
          .catch(() => undefined);
      await client.rest
        .request({ method: 'DELETE', path: resourcePath(Kinds.Namespace, { name: ns }) })
        .catch(() => undefined);
    }
    await cluster?.stop();
  }
}

async function get<T>(client: KubeClient, path: string): Promise<T | undefined> {
  return (await client.rest.request<T>({ method: 'GET', path })).body;
}

async function list<T>(client: KubeClient, path: string, labelSelector: string): Promise<T[]> {
  return (await client.rest.request<{ items: T[] }>({ method: 'GET', path, query: { labelSelector } })).body
    .items;
}

async function runningMiners(client: KubeClient, ns: string): Promise<number> {
  const pods = await list<V1Pod>(
    client,
    resourcePath(Kinds.Pod, { namespace: ns }),
    'rigshift.io/miningpool=etc',
  );
  return pods.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp).length;
}

async function minersOn(client: KubeClient, ns: string, nodes: string[]): Promise<number> {
  const pods = await list<V1Pod>(
    client,
    resourcePath(Kinds.Pod, { namespace: ns }),
    'rigshift.io/miningpool=etc',
  );
  return pods.filter((p) => nodes.includes(p.spec?.nodeName ?? '')).length;
}

export function registerBenchOperator(program: Command): void {
  program
    .command('bench-operator')
    .description(
      'Measure the operator on simulated nodes: job creation to pods Running, API requests per node switch, memory',
    )
    .option('--kubeconfig <path>', 'use this cluster (default: start a local cluster in a temporary folder)')
    .option('--nodes <n>', 'simulated GPU nodes', (v) => Math.max(2, Number(v) || 500), 500)
    .option('--switches <n>', 'timed switches (median reported)', (v) => Math.max(1, Number(v) || 5), 5)
    .action(async (opts: { kubeconfig?: string; nodes: number; switches: number }) => {
      const o: BenchOptions = { nodes: opts.nodes, switches: opts.switches };
      if (opts.kubeconfig) o.kubeconfig = opts.kubeconfig;
      await benchOperator(o);
    });
}
