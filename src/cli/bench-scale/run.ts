import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { KINDS } from '../../api/v1alpha1/index.js';
import { DEFAULT_MANAGER_OPTIONS } from '../../controller/manager.js';
import { buildCrd } from '../../api/crdgen.js';
import { apply } from '../../kube/apply.js';
import { createKubeClient, loadKubeConfig, type KubeClient } from '../../kube/client.js';
import { Kinds, resourcePath } from '../../kube/resources.js';
import { startLocalCluster, type LocalCluster } from '../../local/cluster.js';
import { waitEstablished } from '../../local/crds.js';
import { ensureKueue, type KueueBinaries } from '../../local/kueue.js';
import { addGpuNodes } from '../../local/nodes.js';
import { gangRuns, type GangRunDeps } from './gangs.js';
import {
  countDiff,
  histogramQuantile,
  processCost,
  requestCounts,
  startOperator,
  totalOf,
  writesOf,
  type OperatorProcess,
} from './process.js';
import { latency, secs, type ScaleResult, type SwitchFigures } from './result.js';
import { jobMix, gpusOf, podsOf } from './shapes.js';
import { ClusterWatch, isMiner, isRunning, modeOf, tainted } from './watch.js';
import { createTrainingJob, deleteAll, forEachLimit, NS, sleep, waitUntil } from './util.js';

export interface ScaleOptions {
  nodes: number;
  flip: number;
  jobs: number;
  minerGraceSeconds: number;
  /** The operator's --node-workers (undefined: its default). */
  nodeWorkers?: number | undefined;
  /** The operator's --job-workers (undefined: its default). */
  jobWorkers?: number | undefined;
  steadySeconds: number;
  /** Deadline of each wait, in seconds. */
  timeoutSeconds: number;
  kueue: boolean;
  /** Keep the operator's log, at debug level, in this file. */
  operatorLog?: string | undefined;
  progress: (line: string) => void;
}

export const PRODUCTS = ['NVIDIA-GeForce-RTX-3090', 'NVIDIA-GeForce-RTX-4090'] as const;
export const GPUS_PER_NODE = 8;
const GROUP_LABEL = 'rigshift.io/bench-group';
const BENCH_MANAGER = 'rigshift-bench';
/** Mining revenue (USD per MH/s per day): the high one mines (about $0.09 per GPU-hour), the low one idles. */
const REVENUE = { mine: '0.02', idle: '0.0005' };
const PROFILES = [
  { product: PRODUCTS[0], hashrate: '120M', miningWatts: 300, trainingWatts: 350, idleWatts: 20 },
  { product: PRODUCTS[1], hashrate: '130M', miningWatts: 320, trainingWatts: 450, idleWatts: 25 },
];

function miningPool(name: string, group: string, revenue: string): KubernetesObject {
  return {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'MiningPool',
    metadata: { name, namespace: NS },
    spec: {
      coin: 'ETC',
      algorithm: 'etchash',
      stratum: { primary: 'stratum+tcp://etc.example.org:1010' },
      wallet: '0xabc',
      miner: { image: 'miner:1' },
      nodeSelector: { matchLabels: { [GROUP_LABEL]: group } },
      gpuProfiles: PROFILES,
      revenueUsdPerMhsDay: { value: revenue },
      electricityUsdPerKwh: { value: '0.05' },
    },
  } as KubernetesObject;
}

async function setRevenue(client: KubeClient, pool: 'flip' | 'rest', revenue: string): Promise<void> {
  await apply(client, miningPool(pool, pool, revenue), { force: true, fieldManager: BENCH_MANAGER });
}

async function establishCrds(client: KubeClient, timeoutMs: number): Promise<void> {
  const crds = KINDS.map((kind) => buildCrd(kind) as unknown as KubernetesObject);
  for (const crd of crds) await apply(client, crd, { force: true });
  await waitEstablished(
    client,
    crds.map((c) => c.metadata?.name ?? ''),
    timeoutMs,
  );
}

function machine(): ScaleResult['machine'] {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

function emptyGangs(pods: number): ScaleResult['gangs'] {
  const none = { seconds: null, pods, running: 0, submitSeconds: null, podsPerSecond: null, series: [] };
  return { ...none, bareSeconds: null, ratioToBare: null, bare: none };
}

/** The whole benchmark on its own local cluster; everything it started is stopped before it returns. */
export async function benchScale(opts: ScaleOptions): Promise<ScaleResult> {
  const progress = opts.progress;
  const began = Date.now();
  const timeoutMs = opts.timeoutSeconds * 1000;
  const shapes = jobMix(opts.jobs);
  const capacity = opts.nodes * GPUS_PER_NODE;
  if (gpusOf(shapes) > 0.85 * capacity)
    throw new Error(
      `${opts.jobs} jobs need ${gpusOf(shapes)} GPUs, more than 85% of ${capacity}: use more --nodes or fewer --jobs`,
    );
  if (opts.flip > opts.nodes) throw new Error('--flip cannot exceed --nodes');
  let kueueBins: KueueBinaries | string = 'not run (--no-kueue)';
  if (opts.kueue) {
    try {
      kueueBins = ensureKueue(progress);
    } catch (err) {
      kueueBins = `Kueue could not be built: ${(err as Error).message}`;
    }
  }

  const work = mkdtempSync(join(tmpdir(), 'rigshift-bench-scale-'));
  progress(`work folder ${work}`);
  let cluster: LocalCluster | undefined;
  let operator: OperatorProcess | undefined;
  let watch: ClusterWatch | undefined;
  try {
    cluster = await startLocalCluster({
      dir: join(work, 'cluster'),
      progress,
      // Kueue leaves placement to the scheduler: score GPUs MostAllocated (bin-packing, as GPU clusters are
      // set up) so that its gangs are not stranded by spread single-GPU pods. rigshift pins its pods itself.
      schedulerPluginConfig: [
        {
          name: 'NodeResourcesFit',
          args: {
            scoringStrategy: {
              type: 'MostAllocated',
              resources: [
                { name: 'nvidia.com/gpu', weight: 10 },
                { name: 'cpu', weight: 1 },
                { name: 'memory', weight: 1 },
              ],
            },
          },
        },
      ],
    });
    const kubeconfig = cluster.kubeconfigPath;
    const kc = loadKubeConfig({ kubeconfig });
    const client = createKubeClient(kc);
    await establishCrds(client, 60_000);
    for (const ns of [NS, `${NS}-bare`, `${NS}-kueue`, 'kueue-system'])
      await apply(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    for (const [name, value] of [
      ['rigshift-mining', -10],
      ['rigshift-training', 100000],
    ] as const)
      await apply(client, {
        apiVersion: 'scheduling.k8s.io/v1',
        kind: 'PriorityClass',
        metadata: { name },
        value,
      } as KubernetesObject);

    progress(`creating ${opts.nodes} kwok nodes × ${GPUS_PER_NODE} GPUs (${PRODUCTS.join(', ')})`);
    const t = Date.now();
    const flipNames: string[] = [];
    const allNames: string[] = [];
    for (const [i, product] of PRODUCTS.entries()) {
      const count = Math.floor(opts.nodes / 2) + (i === 0 ? opts.nodes % 2 : 0);
      const flips = Math.floor(opts.flip / 2) + (i === 0 ? opts.flip % 2 : 0);
      for (const [group, n] of [
        ['flip', flips],
        ['rest', count - flips],
      ] as const) {
        if (n <= 0) continue;
        const names = await addGpuNodes(kc, {
          count: n,
          product,
          gpus: GPUS_PER_NODE,
          memoryMiB: 24576,
          namePrefix: `${group}-${i === 0 ? '3090' : '4090'}`,
          labels: { [GROUP_LABEL]: group },
          timeoutMs,
        });
        allNames.push(...names);
        if (group === 'flip') flipNames.push(...names);
      }
    }
    progress(`${allNames.length} nodes Ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    watch = new ClusterWatch(client);
    await watch.start(timeoutMs);
    const w = watch;
    const policyFile = join(work, 'policy.yaml');
    writeFileSync(
      policyFile,
      yaml.dump({
        hysteresisPercent: 5,
        minDwellSeconds: 0,
        switchingSeconds: 60,
        // A price move switches every affected node at once (the default, 10%, would stagger them).
        maxConcurrentDrains: '100%',
      }),
    );
    for (const pool of ['flip', 'rest'] as const)
      await apply(client, miningPool(pool, pool, REVENUE.mine), { force: true, fieldManager: BENCH_MANAGER });
    operator = await startOperator({
      kubeconfig,
      namespace: NS,
      nodeSelector: GROUP_LABEL,
      policyFile,
      minerGraceSeconds: opts.minerGraceSeconds,
      nodeWorkers: opts.nodeWorkers,
      jobWorkers: opts.jobWorkers,
      dir: work,
      logFile: opts.operatorLog,
    });
    const op = operator;
    const opStart = Date.now();
    progress(`operator started (pid ${op.pid}, log ${op.log}); waiting for a miner on every node`);
    const miningNode = (n: string): boolean => {
      const node = w.nodes.get(undefined, n);
      return (
        node !== undefined && modeOf(node) === 'mining' && w.podsOn(n).some((p) => isMiner(p) && isRunning(p))
      );
    };
    const allMining = (): boolean => allNames.every(miningNode);
    const mining = (): string => `${allNames.filter(miningNode).length}/${allNames.length} nodes mining`;
    if (!(await waitUntil('every node mining', allMining, timeoutMs, progress, mining)))
      throw new Error(`not every node mines after ${opts.timeoutSeconds} s: ${mining()}`);
    progress(`all nodes mining ${((Date.now() - opStart) / 1000).toFixed(1)} s after the operator started`);

    // Steady state: nothing changes; what does the operator ask of the API server?
    await sleep(5000);
    const s0 = requestCounts(await op.metrics());
    const steadyStart = Date.now();
    await sleep(opts.steadySeconds * 1000);
    const steady = countDiff(s0, requestCounts(await op.metrics()));
    const steadyRate = totalOf(steady) / ((Date.now() - steadyStart) / 1000);
    progress(`steady state: ${steadyRate.toFixed(2)} requests/s over ${opts.steadySeconds} s`);

    const measureSwitch = async (
      what: string,
      nodes: readonly string[],
      expected: number,
      change: () => Promise<void>,
      labelled: (n: import('@kubernetes/client-node').V1Node) => boolean,
      done: (n: import('@kubernetes/client-node').V1Node, pods: readonly V1Pod[]) => boolean,
      running?: (n: import('@kubernetes/client-node').V1Node, pods: readonly V1Pod[]) => boolean,
    ): Promise<SwitchFigures> => {
      const before = requestCounts(await op.metrics());
      const t0 = Date.now();
      const lab = w.track(nodes, (n) => labelled(n));
      const dn = w.track(nodes, done);
      const run = running ? w.track(nodes, running) : undefined;
      await change();
      const last = run ?? dn;
      await waitUntil(
        what,
        () => last.size >= expected,
        timeoutMs,
        progress,
        () => `${last.size}/${expected} nodes`,
      );
      await sleep(2000); // status writes and Events of the switch land in the count
      const used = countDiff(before, requestCounts(await op.metrics()));
      for (const m of [lab, dn, run]) if (m) w.untrack(m);
      const writes = writesOf(used);
      const fig: SwitchFigures = {
        labelled: latency(t0, lab, expected),
        done: latency(t0, dn, expected),
        ...(run ? { running: latency(t0, run, expected) } : {}),
        writes,
        requests: totalOf(used),
        writesPerSwitch: expected > 0 ? Math.round((writes / expected) * 100) / 100 : null,
        perSwitch: Object.fromEntries(
          [...used].sort().map(([k, v]) => [k, Math.round((v / expected) * 100) / 100]),
        ),
      };
      progress(
        `${what}: p50 ${fig.done.p50Seconds} s, p99 ${fig.done.p99Seconds} s${run ? ` (pods Running p99 ${fig.running?.p99Seconds} s)` : ''}, ${fig.writesPerSwitch} writes per node`,
      );
      return fig;
    };

    const noMiners = (pods: readonly V1Pod[]): boolean => !pods.some(isMiner);
    const toIdle = await measureSwitch(
      `price flip: ${flipNames.length} nodes to idle`,
      flipNames,
      flipNames.length,
      () => setRevenue(client, 'flip', REVENUE.idle),
      (n) => modeOf(n) === 'idle',
      (n, pods) => modeOf(n) === 'idle' && noMiners(pods),
    );
    const toMining = await measureSwitch(
      `price flip: ${flipNames.length} nodes back to mining`,
      flipNames,
      flipNames.length,
      () => setRevenue(client, 'flip', REVENUE.mine),
      (n) => modeOf(n) === 'mining' && !tainted(n),
      (n, pods) => modeOf(n) === 'mining' && pods.some((p) => isMiner(p) && isRunning(p)),
    );

    // A burst of 2×8 jobs wanting `flip` whole nodes: the planner picks which nodes.
    const burst = Array.from({ length: Math.ceil(flipNames.length / 2) }, (_, i) => ({
      name: `burst-${i}`,
      replicas: i === Math.floor(flipNames.length / 2) ? 1 : 2,
    }));
    const trainingOn = (pods: readonly V1Pod[]): V1Pod[] =>
      pods.filter((p) => p.metadata?.labels?.['rigshift.io/trainingjob']?.startsWith('burst-'));
    const toTraining = await measureSwitch(
      `job burst: ${burst.length} jobs taking ${flipNames.length} nodes into training`,
      allNames,
      flipNames.length,
      () =>
        forEachLimit(burst, 16, (b) =>
          createTrainingJob(client, b.name, { replicas: b.replicas, gpus: GPUS_PER_NODE }),
        ),
      (n) => modeOf(n) === 'training' && tainted(n),
      (n, pods) => modeOf(n) === 'training' && tainted(n) && noMiners(pods),
      (_n, pods) => trainingOn(pods).length > 0 && trainingOn(pods).every(isRunning),
    );
    await deleteAll(client, resourcePath(Kinds.TrainingJob, { namespace: NS }), timeoutMs);
    await waitUntil('burst nodes back to mining', allMining, timeoutMs, progress, mining);

    const deps: GangRunDeps = {
      client,
      kubeconfig,
      pki: join(cluster.state.dir, 'pki'),
      work,
      watch: w,
      shapes,
      nodes: allNames,
      capacity: { gpus: capacity, cpu: opts.nodes * 64, memoryGi: opts.nodes * 256 },
      timeoutMs,
      progress,
      setAllRevenue: async (revenue) => {
        await setRevenue(client, 'flip', revenue === 'idle' ? REVENUE.idle : REVENUE.mine);
        await setRevenue(client, 'rest', revenue === 'idle' ? REVENUE.idle : REVENUE.mine);
      },
      kueue: kueueBins,
    };
    // A failure here keeps the figures measured so far (flips, operator cost) and says what failed.
    const errors: string[] = [];
    const gangs = await gangRuns(deps)
      .then((g) => {
        if (g.error) errors.push(g.error);
        return g;
      })
      .catch((err: unknown): Pick<ScaleResult, 'gangs' | 'kueue'> => {
        const why = (err as Error).message;
        errors.push(`gang runs: ${why}`);
        progress(`gang runs failed: ${why}`);
        return {
          gangs: emptyGangs(podsOf(shapes)),
          kueue: { seconds: null, ratio: null, blocked: `not run: ${why}` },
        };
      });

    const metrics = await op.metrics();
    const cost = processCost(op.pid);
    const planCycles = metrics.get('rigshift_plan_duration_seconds_count') ?? 0;
    const p99 = histogramQuantile(metrics, 'rigshift_plan_duration_seconds', 0.99);
    const p50 = histogramQuantile(metrics, 'rigshift_plan_duration_seconds', 0.5);
    const switches = [toIdle, toMining, toTraining];
    const totalWrites = switches.reduce((a, s) => a + s.writes, 0);
    const totalSwitches = switches.reduce((a, s) => a + s.done.expected, 0);
    return {
      nodes: opts.nodes,
      gpusPerNode: GPUS_PER_NODE,
      products: [...PRODUCTS],
      flipNodes: flipNames.length,
      jobs: opts.jobs,
      pods: podsOf(shapes),
      gpus: gpusOf(shapes),
      minerGraceSeconds: opts.minerGraceSeconds,
      nodeWorkers: opts.nodeWorkers ?? DEFAULT_MANAGER_OPTIONS.nodeWorkers,
      jobWorkers: opts.jobWorkers ?? DEFAULT_MANAGER_OPTIONS.jobWorkers,
      wallSeconds: secs(Date.now() - began) ?? 0,
      flip: {
        p50Seconds: toIdle.done.p50Seconds,
        p99Seconds: toIdle.done.p99Seconds,
        writesPerSwitch: totalSwitches > 0 ? Math.round((totalWrites / totalSwitches) * 100) / 100 : null,
        toIdle,
        toMining,
        toTraining,
      },
      gangs: gangs.gangs,
      kueue: gangs.kueue,
      operator: {
        cpuSeconds: cost ? Math.round(cost.cpuSeconds * 10) / 10 : null,
        peakRssMiB: cost ? Math.round(cost.peakRssMiB) : null,
        steadyRequestsPerSecond: Math.round(steadyRate * 100) / 100,
        steadyWindowSeconds: opts.steadySeconds,
      },
      planner: {
        p99Ms: p99 === null || !Number.isFinite(p99) ? null : p99 * 1000,
        p50Ms: p50 === null || !Number.isFinite(p50) ? null : p50 * 1000,
        cycles: planCycles,
      },
      machine: machine(),
      ...(errors.length > 0 ? { errors } : {}),
    };
  } finally {
    await watch?.stop().catch(() => undefined);
    await operator?.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}
