import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { apply } from '../../kube/apply.js';
import type { KubeClient } from '../../kube/client.js';
import { Kinds, resourcePath } from '../../kube/resources.js';
import { isNotFound } from '../../kube/rest.js';
import { startKueue, type KueueBinaries, type RunningKueue } from '../../local/kueue.js';
import { ratio, secs, type RunFigures, type ScaleResult, type Series } from './result.js';
import { podsOf, type Shape } from './shapes.js';
import { createTrainingJob, forEachLimit, NS, sleep, waitUntil } from './util.js';
import { type ClusterWatch, isMiner, modeOf } from './watch.js';

export interface GangRunDeps {
  client: KubeClient;
  kubeconfig: string;
  pki: string;
  work: string;
  watch: ClusterWatch;
  shapes: Shape[];
  nodes: string[];
  capacity: { gpus: number; cpu: number; memoryGi: number };
  timeoutMs: number;
  progress: (line: string) => void;
  setAllRevenue(to: 'idle' | 'mine'): Promise<void>;
  /** Built Kueue, or why there is none. */
  kueue: KueueBinaries | string;
}

/** Objects created in a burst, this many requests at a time (the same for all three runs). */
const SUBMIT_CONCURRENCY = 16;
const BARE_NS = `${NS}-bare`;
const KUEUE_NS = `${NS}-kueue`;
/** kwok completes pods owned by a Job after a second unless told otherwise: Kueue's pods keep running. */
const KWOK_KEEP_RUNNING = {
  'pod-complete.stage.kwok.x-k8s.io/delay': '24h',
  'pod-complete.stage.kwok.x-k8s.io/jitter-delay': '24h',
};
const COMPUTE = { cpu: '1', memory: '2Gi' };

/**
 * Pods Running over time in `namespace` from `t0`, until `pods` of them run or the deadline. The series is
 * taken from the benchmark's watch (first time each pod was seen Running).
 */
async function timeRun(
  d: GangRunDeps,
  what: string,
  namespace: string,
  pods: number,
  submit: () => Promise<void>,
): Promise<RunFigures> {
  const t0 = Date.now();
  await submit();
  const submitted = Date.now();
  d.progress(`${what}: submitted in ${((submitted - t0) / 1000).toFixed(1)} s`);
  const all = await waitUntil(
    `${what}: all ${pods} pods Running`,
    () => d.watch.running([namespace]) >= pods,
    d.timeoutMs,
    d.progress,
    () => `${d.watch.running([namespace])}/${pods} pods Running`,
  );
  const times = [...d.watch.runningAt.values()]
    .filter((r) => r.namespace === namespace && r.ms >= t0)
    .map((r) => r.ms - t0)
    .sort((a, b) => a - b);
  const series: Series = [[0, 0]];
  times.forEach((ms, i) => series.push([ms / 1000, i + 1]));
  const end = all ? times[pods - 1] : undefined;
  const fig: RunFigures = {
    seconds: secs(end),
    pods,
    running: d.watch.running([namespace]),
    submitSeconds: secs(submitted - t0),
    podsPerSecond: end ? Math.round((pods / (end / 1000)) * 10) / 10 : null,
    series: thin(series, 400),
  };
  d.progress(
    fig.seconds === null
      ? `${what}: only ${fig.running}/${pods} pods Running by the deadline`
      : `${what}: ${pods} pods Running in ${fig.seconds} s`,
  );
  return fig;
}

/** At most `n` points, keeping the last. */
function thin(s: Series, n: number): Series {
  if (s.length <= n) return s;
  const step = s.length / n;
  const out: Series = [];
  for (let i = 0; i < n - 1; i++) out.push(s[Math.floor(i * step)]!);
  out.push(s.at(-1)!);
  return out;
}

async function deleteEach(
  d: GangRunDeps,
  kind: typeof Kinds.Pod | typeof Kinds.TrainingJob,
  namespace: string,
  names: string[],
): Promise<void> {
  await forEachLimit(names, SUBMIT_CONCURRENCY, async (name) => {
    await d.client.rest
      .request({
        method: 'DELETE',
        path: resourcePath(kind, { namespace, name }),
        ...(kind === Kinds.Pod ? { query: { gracePeriodSeconds: 0 } } : {}),
      })
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
  });
}

async function waitGone(d: GangRunDeps, what: string, namespace: string): Promise<void> {
  const left = (): number => d.watch.pods.list(namespace).length;
  await waitUntil(
    what,
    () => left() === 0,
    d.timeoutMs,
    d.progress,
    () => `${left()} pods left`,
  );
}

async function allIdle(d: GangRunDeps): Promise<void> {
  const idle = (n: string): boolean => {
    const node = d.watch.nodes.get(undefined, n);
    return node !== undefined && modeOf(node) === 'idle' && !d.watch.podsOn(n).some(isMiner);
  };
  const count = (): string => `${d.nodes.filter(idle).length}/${d.nodes.length} nodes idle`;
  if (!(await waitUntil('every node idle', () => d.nodes.every(idle), d.timeoutMs, d.progress, count)))
    throw new Error(`not every node went idle: ${count()}`);
}

/**
 * (b) and (c): the job mix as TrainingJobs onto idle nodes; the same pods, pinned where rigshift put them,
 * straight to the scheduler; the same mix as batch/v1 Jobs through Kueue.
 */
export async function gangRuns(
  d: GangRunDeps,
): Promise<Pick<ScaleResult, 'gangs' | 'kueue'> & { error?: string }> {
  const pods = podsOf(d.shapes);
  d.progress('making every node idle (mining pays less than its power)');
  await d.setAllRevenue('idle');
  await allIdle(d);

  const rig = await timeRun(d, 'rigshift gangs', NS, pods, () =>
    forEachLimit(
      d.shapes.map((s, i) => ({ s, i })),
      SUBMIT_CONCURRENCY,
      ({ s, i }) => createTrainingJob(d.client, `gang-${i}`, s),
    ),
  );
  let placed: V1Pod[] = [];
  let bare: RunFigures;
  try {
    // The same pods as plain pods: each pinned to the node rigshift chose, same requests and tolerations.
    placed = d.watch.pods
      .list(NS)
      .filter((p) => p.metadata?.labels?.['rigshift.io/trainingjob'] !== undefined)
      .map((p, i) => barePod(p, i));
    // One by one: a collection delete of thousands outlasts the API server's 60 s request timeout.
    await deleteEach(
      d,
      Kinds.TrainingJob,
      NS,
      d.shapes.map((_, i) => `gang-${i}`),
    );
    await waitGone(d, 'TrainingJob pods gone', NS);
    await allIdle(d);

    bare = await timeRun(d, 'bare scheduler', BARE_NS, placed.length, () =>
      forEachLimit(placed, SUBMIT_CONCURRENCY, async (pod) => {
        await d.client.rest.request({
          method: 'POST',
          path: resourcePath(Kinds.Pod, { namespace: BARE_NS }),
          body: pod,
        });
      }),
    );
    await deleteEach(
      d,
      Kinds.Pod,
      BARE_NS,
      placed.map((p) => p.metadata?.name ?? ''),
    );
    await waitGone(d, 'bare pods gone', BARE_NS);
  } catch (err) {
    // The figures measured so far stay; what failed is said.
    const why = (err as Error).message;
    d.progress(`bare run failed: ${why}`);
    const none = {
      seconds: null,
      pods: placed.length,
      running: 0,
      submitSeconds: null,
      podsPerSecond: null,
      series: [],
    };
    return {
      gangs: { ...rig, bareSeconds: null, ratioToBare: null, bare: none },
      kueue: { seconds: null, ratio: null, blocked: `not run: ${why}` },
      error: `bare run: ${why}`,
    };
  }
  const gangs = {
    ...rig,
    bareSeconds: bare.seconds,
    ratioToBare: ratio(rig.seconds, bare.seconds),
    bare,
  };
  if (typeof d.kueue === 'string') return { gangs, kueue: { seconds: null, ratio: null, blocked: d.kueue } };
  let kueue: RunningKueue | undefined;
  try {
    const dir = join(d.work, 'kueue');
    mkdirSync(dir, { recursive: true });
    d.progress(`starting Kueue ${d.kueue.version} out of cluster`);
    kueue = await startKueue({
      client: d.client,
      kubeconfig: d.kubeconfig,
      pki: d.pki,
      dir,
      binaries: d.kueue,
    });
    d.progress(`Kueue ready (pid ${kueue.pid}), ${kueue.webhooks} webhooks on 127.0.0.1 registered`);
    await queues(d);
    const fig = await timeRun(d, 'Kueue', KUEUE_NS, pods, () =>
      forEachLimit(
        d.shapes.map((s, i) => ({ s, i })),
        SUBMIT_CONCURRENCY,
        ({ s, i }) => createKueueJob(d.client, `gang-${i}`, s),
      ),
    );
    // The Jobs are created unsuspended, as Kueue users do: its webhook suspends them and only its admission
    // starts them. Every Job must have an admitted Workload, or the pods ran without Kueue.
    const admitted = await admittedWorkloads(d.client);
    if (admitted < d.shapes.length)
      throw new Error(`only ${admitted} of ${d.shapes.length} Jobs have a Workload Kueue admitted`);
    return {
      gangs,
      kueue: { ...fig, ratio: ratio(rig.seconds, fig.seconds), version: d.kueue.version, admitted },
    };
  } catch (err) {
    const why = (err as Error).message.split('\n').slice(0, 6).join(' | ');
    d.progress(`Kueue did not run: ${why}`);
    return { gangs, kueue: { seconds: null, ratio: null, blocked: why } };
  } finally {
    await kueue?.stop();
  }
}

function barePod(p: V1Pod, i: number): V1Pod {
  const c = p.spec?.containers[0];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `bare-${i}`, namespace: BARE_NS },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      priorityClassName: p.spec?.priorityClassName,
      affinity: p.spec?.affinity,
      tolerations: p.spec?.tolerations,
      containers: [{ name: 'trainer', image: c?.image ?? 'train:1', resources: c?.resources }],
    },
  } as V1Pod;
}

/** One ResourceFlavor, one ClusterQueue holding every GPU (and the nodes' CPU and memory), one LocalQueue. */
async function queues(d: GangRunDeps): Promise<void> {
  const objs: KubernetesObject[] = [
    {
      apiVersion: 'kueue.x-k8s.io/v1beta2',
      kind: 'ResourceFlavor',
      metadata: { name: 'gpu-nodes' },
    },
    {
      apiVersion: 'kueue.x-k8s.io/v1beta2',
      kind: 'ClusterQueue',
      metadata: { name: 'gpus' },
      spec: {
        namespaceSelector: {},
        resourceGroups: [
          {
            coveredResources: ['cpu', 'memory', 'nvidia.com/gpu'],
            flavors: [
              {
                name: 'gpu-nodes',
                resources: [
                  { name: 'cpu', nominalQuota: String(d.capacity.cpu) },
                  { name: 'memory', nominalQuota: `${d.capacity.memoryGi}Gi` },
                  { name: 'nvidia.com/gpu', nominalQuota: String(d.capacity.gpus) },
                ],
              },
            ],
          },
        ],
      },
    } as KubernetesObject,
    {
      apiVersion: 'kueue.x-k8s.io/v1beta2',
      kind: 'LocalQueue',
      metadata: { name: 'bench', namespace: KUEUE_NS },
      spec: { clusterQueue: 'gpus' },
    } as KubernetesObject,
  ];
  for (const o of objs) await apply(d.client, o, { force: true, fieldManager: 'rigshift-bench' });
  // The ClusterQueue admits once Kueue has it in its cache: wait for its Active condition.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const cq = (
      await d.client.rest.request<{ status?: { conditions?: { type: string; status: string }[] } }>({
        method: 'GET',
        path: '/apis/kueue.x-k8s.io/v1beta2/clusterqueues/gpus',
      })
    ).body;
    if (cq.status?.conditions?.some((c) => c.type === 'Active' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error('Kueue ClusterQueue gpus not Active within 60 s');
    await sleep(200);
  }
}

async function admittedWorkloads(client: KubeClient): Promise<number> {
  const list = (
    await client.rest.request<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>({
      method: 'GET',
      path: `/apis/kueue.x-k8s.io/v1beta2/namespaces/${KUEUE_NS}/workloads`,
    })
  ).body.items;
  return list.filter((w) => w.status?.conditions?.some((c) => c.type === 'Admitted' && c.status === 'True'))
    .length;
}

async function createKueueJob(client: KubeClient, name: string, s: Shape): Promise<void> {
  await client.rest.request({
    method: 'POST',
    path: `/apis/batch/v1/namespaces/${KUEUE_NS}/jobs`,
    body: {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: KUEUE_NS, labels: { 'kueue.x-k8s.io/queue-name': 'bench' } },
      spec: {
        parallelism: s.replicas,
        completions: s.replicas,
        template: {
          metadata: { annotations: KWOK_KEEP_RUNNING },
          spec: {
            restartPolicy: 'Never',
            terminationGracePeriodSeconds: 1,
            priorityClassName: 'rigshift-training',
            containers: [
              {
                name: 'trainer',
                image: 'train:1',
                resources: {
                  requests: { ...COMPUTE, 'nvidia.com/gpu': String(s.gpus) },
                  limits: { 'nvidia.com/gpu': String(s.gpus) },
                },
              },
            ],
          },
        },
      },
    },
  });
}
