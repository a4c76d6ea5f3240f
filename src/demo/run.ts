import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseJobTrace, type TraceJob } from '../backtest/jobs/trace.js';
import { miningPoolFrom } from '../backtest/manifests.js';
import { buildMarket, type Market } from '../backtest/market.js';
import { parseTrace } from '../backtest/trace.js';
import { apply } from '../kube/apply.js';
import { createKubeClient, type KubeClient } from '../kube/client.js';
import { Kinds, resourcePath } from '../kube/resources.js';
import { readState, startLocalCluster, stopLocalCluster, type LocalCluster } from '../local/cluster.js';
import { projectRoot } from '../local/paths.js';
import { stopProcess } from '../local/process.js';
import { demoChart } from './chart.js';
import { Ledger, type GpuUse, type NodeStep } from './ledger.js';
import * as m from './manifests.js';
import { observe, type Observation } from './observe.js';
import { renderFrame } from './view.js';

export interface DemoOptions {
  trace?: string;
  jobs?: string;
  /** Nodes per GPU product in the trace. */
  nodes: number;
  gpusPerNode: number;
  /** Market hours per real second. */
  speed: number;
  /** Stop after this many market hours (default: the whole trace). */
  hours?: number;
  /** Market time to start at (ISO 8601); default the trace's start, or an eventful week of the embedded trace. */
  start?: string;
  chart?: string;
  dir: string;
  keep: boolean;
  interactive: boolean;
  log: (line: string) => void;
}

export interface DemoSummary {
  steps: number;
  marketHours: number;
  revenueUsd: number;
  alwaysMineUsd: number;
  byMode: { mining: number; training: number; idle: number };
  switches: number;
  jobs: {
    submitted: number;
    started: number;
    succeeded: number;
    failed: number;
    expired: number;
    /** Still running when the replay ends. */
    running: number;
    /** Still waiting when the replay ends (queued, admitted but not started, or preempted). */
    queued: number;
  };
  chart: string;
  /**
   * The demo namespace's UsageRecords as the operator left them (jobs are deleted when they end; their usage
   * stays here). Real time, not market time: the operator bills the seconds the pods really ran.
   */
  usage: { month: string; jobs: number; gpuHours: string; earnedUsd: string }[];
}

function defaultInputs(o: DemoOptions): { trace: string; jobs?: string; start?: string } {
  if (o.trace) {
    // The shared data keeps job traces beside market traces as ../jobs/philly-on-<trace>.
    const guess = join(dirname(o.trace), '..', 'jobs', `philly-on-${basename(o.trace)}`);
    return { trace: o.trace, jobs: o.jobs ?? (existsSync(guess) ? guess : undefined), start: o.start };
  }
  const assets = join(projectRoot(), 'assets', 'demo');
  return {
    trace: join(assets, 'eth-belgium-2022q2-mixed.csv'),
    jobs: o.jobs ?? join(assets, 'philly-on-eth-belgium-2022q2-mixed.csv'),
    // June 2022: after ETH's fall, rentals beat mining on the RTX 4090 and more and more jobs outbid miners.
    start: o.start ?? '2022-06-10T00:00:00Z',
  };
}

/** The whole demo: cluster, farm, operator, accelerated replay, live view, summary and chart. */
export async function runDemo(o: DemoOptions, signal: AbortSignal): Promise<DemoSummary> {
  const inputs = defaultInputs(o);
  const trace = parseTrace(readFileSync(inputs.trace, 'utf8'), inputs.trace);
  const poolProfile = miningPoolFrom(JSON.stringify(m.miningPool()), 'demo pool');
  const market = buildMarket(trace, poolProfile);
  const jobs = inputs.jobs ? parseJobTrace(readFileSync(inputs.jobs, 'utf8'), inputs.jobs) : [];
  const first = inputs.start ? lastIndexAtOrBefore(market.timeline, Date.parse(inputs.start)) : 0;
  if (inputs.start && (Number.isNaN(Date.parse(inputs.start)) || first < 0)) {
    throw new Error(`--start ${inputs.start} is not a time within the trace`);
  }
  const steps = Math.min(market.timeline.length - first, o.hours ?? Number.POSITIVE_INFINITY);
  const marketSecondsPerSecond = o.speed * 3600;
  const dir = resolve(o.dir);
  mkdirSync(dir, { recursive: true });
  o.log(`trace ${inputs.trace} (${market.products.map((p) => p.series.product).join(', ')}), ${steps} steps`);
  o.log(inputs.jobs ? `jobs ${inputs.jobs}` : 'no job trace: the farm mines and idles only');

  const old = readState(join(dir, 'cluster'));
  if (old) await stopLocalCluster(old);
  const cluster = await startLocalCluster({ dir: join(dir, 'cluster'), progress: (l) => o.log(l) });
  let operator: ChildProcess | undefined;
  try {
    const client = createKubeClient(cluster.kubeConfig());
    await installFarm(cluster, client, market, first, o, marketSecondsPerSecond);
    operator = startOperator(cluster, dir);
    o.log(`operator started (log: ${join(dir, 'operator.log')})`);
    await waitForOperator(client, signal);
    const ledger = new Ledger(m.SWITCHING_SECONDS);
    const lead = market.products[0]!.series;
    const tracker = new JobTracker(jobs, client, marketSecondsPerSecond, market.timeline[first] as number);
    const fleet = {
      mining: new Float64Array(steps),
      training: new Float64Array(steps),
      idle: new Float64Array(steps),
    };
    const began = Date.now();
    let done = 0;
    for (let k = 0; k < steps && !signal.aborted; k++) {
      const t = market.timeline[first + k] as number;
      const hours = stepHours(market, first + k);
      const row = Math.max(0, lastIndexAtOrBefore(lead.startMs, t));
      const prices = m.pricesConfigMap(lead.revenue[row] as number, lead.electricity[row] as number);
      await apply(client, prices as k8s.KubernetesObject);
      await tracker.submitUpTo(t);
      const seen = await observe(client);
      await tracker.settle(seen, t);
      const nodeSteps = toNodeSteps(seen, market, t, tracker);
      ledger.book(nodeSteps, hours);
      for (const s of nodeSteps) {
        fleet.mining[k] = (fleet.mining[k] as number) + s.use.mining;
        fleet.idle[k] = (fleet.idle[k] as number) + s.use.idle;
        for (const j of s.use.jobs.values()) fleet.training[k] = (fleet.training[k] as number) + j.gpus;
      }
      done = k + 1;
      const frame = renderFrame({
        marketTime: new Date(t).toISOString().replace('.000Z', 'Z'),
        step: done,
        steps,
        nodes: seen.nodes.map((n) => ({
          name: n.name,
          product: n.product,
          mode: n.mode,
          gpus: n.gpus,
          miningGpus: n.miningGpus,
          trainingGpus: [...n.jobs.values()].reduce((a, b) => a + b, 0),
          jobs: [...n.jobs.keys()].map((key) => key.split('/')[1] ?? key),
        })),
        yields: seen.yields,
        electricityUsdPerKwh: lead.electricity[row] as number,
        jobs: {
          running: tracker.running.size,
          queued: tracker.queuedCount(),
          done: tracker.succeeded + tracker.failed,
          bidsRunning: tracker.runningBids(),
        },
        revenueUsd: ledger.revenueUsd,
        alwaysMineUsd: ledger.alwaysMineUsd,
      });
      if (o.interactive) process.stdout.write(`\x1b[H\x1b[2J${frame}\n`);
      else if (k % 6 === 0 || k === steps - 1)
        o.log(
          frame.split('\n')[0]! +
            `  revenue $${ledger.revenueUsd.toFixed(2)} vs always-mine $${ledger.alwaysMineUsd.toFixed(2)}`,
        );
      // Pace the replay to the accelerated clock (this paces, it does not synchronise anything).
      const due = began + ((k + 1) * 1000) / o.speed;
      if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
    const usage = await usageRecords(client);
    const chart = o.chart ?? join(dir, 'demo.svg');
    writeFileSync(chart, demoChart(market, fleet, first, done, `rigshift demo: ${basename(inputs.trace)}`));
    return {
      steps: done,
      marketHours: done,
      revenueUsd: ledger.revenueUsd,
      alwaysMineUsd: ledger.alwaysMineUsd,
      byMode: ledger.byMode,
      switches: ledger.switches,
      jobs: {
        submitted: tracker.submitted,
        started: tracker.started.size,
        succeeded: tracker.succeeded,
        failed: tracker.failed,
        expired: tracker.expired,
        running: tracker.running.size,
        queued: tracker.waitingCount(),
      },
      chart,
      usage,
    };
  } finally {
    if (operator?.pid) await stopProcess(operator.pid, 10_000);
    if (!o.keep) await cluster.stop();
    else o.log(`cluster kept running: ${cluster.kubeconfigPath}`);
  }
}

async function usageRecords(client: KubeClient): Promise<DemoSummary['usage']> {
  const res = await client.rest.request<{
    items: {
      spec: { month: string };
      status?: { gpuHours?: string; earnedUsd?: string; jobs?: unknown[] };
    }[];
  }>({ method: 'GET', path: resourcePath(Kinds.UsageRecord, { namespace: m.DEMO_NAMESPACE }) });
  return res.body.items.map((r) => ({
    month: r.spec.month,
    jobs: r.status?.jobs?.length ?? 0,
    gpuHours: r.status?.gpuHours ?? '0',
    earnedUsd: r.status?.earnedUsd ?? '0',
  }));
}

function stepHours(market: Market, k: number): number {
  const t = market.timeline;
  if (k + 1 < t.length) return ((t[k + 1] as number) - (t[k] as number)) / 3_600_000;
  return t.length > 1 ? ((t[k] as number) - (t[k - 1] as number)) / 3_600_000 : 1;
}

export function lastIndexAtOrBefore(times: Float64Array, t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] as number) <= t) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

async function installFarm(
  cluster: LocalCluster,
  client: KubeClient,
  market: Market,
  startStep: number,
  o: DemoOptions,
  marketSecondsPerSecond: number,
): Promise<void> {
  for (const p of market.products) {
    const profile = m.PROFILES.find((x) => x.product === p.series.product);
    o.log(`adding ${o.nodes} node(s) of ${o.gpusPerNode}× ${p.series.product}`);
    await cluster.addGpuNodes({
      count: o.nodes,
      product: p.series.product,
      gpus: o.gpusPerNode,
      memoryMiB: profile?.memoryMiB ?? 24576,
      labels: { [m.FARM_LABEL]: m.FARM },
    });
  }
  o.log('installing CRDs, PriorityClasses, FleetPolicy, MiningPool');
  const crdDir = join(projectRoot(), 'crds');
  const { readdirSync } = await import('node:fs');
  const yaml = (await import('js-yaml')).default;
  for (const f of readdirSync(crdDir).filter((x) => x.endsWith('.yaml'))) {
    await apply(client, yaml.load(readFileSync(join(crdDir, f), 'utf8')) as k8s.KubernetesObject, {
      force: true,
    });
  }
  await waitFor(
    async () => {
      const ext = client.kc.makeApiClient(k8s.ApiextensionsV1Api);
      const list = await ext.listCustomResourceDefinition();
      const ours = list.items.filter((c) => c.spec.group === 'rigshift.io');
      return (
        ours.length >= 4 &&
        ours.every((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'))
      );
    },
    30_000,
    'CRDs Established',
  );
  for (const obj of m.baseObjects(marketSecondsPerSecond)) {
    await waitFor(
      async () => apply(client, obj as k8s.KubernetesObject).then(() => true),
      30_000,
      `apply ${(obj as { kind: string }).kind}`,
    );
  }
  const lead = market.products[0]!.series;
  const row = Math.max(0, lastIndexAtOrBefore(lead.startMs, market.timeline[startStep] as number));
  const prices = m.pricesConfigMap(lead.revenue[row] as number, lead.electricity[row] as number);
  await apply(client, prices as k8s.KubernetesObject);
  await apply(client, m.miningPool() as k8s.KubernetesObject);
}

function startOperator(cluster: LocalCluster, dir: string): ChildProcess {
  const log = openSync(join(dir, 'operator.log'), 'w');
  return spawn(
    process.execPath,
    [
      join(projectRoot(), 'bin', 'rigshift.js'),
      'run',
      '--kubeconfig',
      cluster.kubeconfigPath,
      '--metrics-address',
      'off',
      '--node-selector',
      `${m.FARM_LABEL}=${m.FARM}`,
      // The demo's pool lives in its own namespace (next to the jobs): the farm's namespace, for the operator.
      '--pool-namespace',
      m.DEMO_NAMESPACE,
      // A miner's 10 s of grace would be 10 market hours at the demo's pace; the ledger already charges
      // every switch its switching seconds, so miners stop at once here.
      '--miner-grace-period',
      '0',
    ],
    { stdio: ['ignore', log, log] },
  );
}

async function waitForOperator(client: KubeClient, signal: AbortSignal): Promise<void> {
  await waitFor(
    async () => {
      if (signal.aborted) return true;
      const nodes = await client.core.listNode({ labelSelector: `${m.FARM_LABEL}=${m.FARM}` });
      return (
        nodes.items.length > 0 &&
        nodes.items.every((n) => n.metadata?.labels?.['rigshift.io/mode'] === 'mining')
      );
    },
    120_000,
    'the operator to put every farm node in mining mode (see operator.log)',
  );
}

async function waitFor(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await fn()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function toNodeSteps(seen: Observation, market: Market, t: number, tracker: JobTracker): NodeStep[] {
  return seen.nodes.flatMap((n) => {
    const pm = market.products.find((p) => p.series.product === n.product);
    if (!pm) return [];
    const k = Math.max(0, lastIndexAtOrBefore(pm.series.startMs, t));
    const jobs = new Map<string, { gpus: number; bidUsdPerGpuHour: number }>();
    for (const [key, gpus] of n.jobs) jobs.set(key, { gpus, bidUsdPerGpuHour: tracker.bid(key) });
    const training = [...n.jobs.values()].reduce((a, b) => a + b, 0);
    const use: GpuUse = { mining: n.miningGpus, idle: Math.max(0, n.gpus - n.miningGpus - training), jobs };
    const e = pm.series.electricity[k] as number;
    return [
      {
        node: n.name,
        gpus: n.gpus,
        use,
        rates: {
          mining: pm.rate[0][k] as number,
          trainingPower: (pm.profile.trainingWatts / 1000) * e,
          idle: pm.rate[2][k] as number,
        },
      },
    ];
  });
}

/** Submits trace jobs as TrainingJobs when their time comes, and retires them when they end or lose patience. */
class JobTracker {
  private next = 0;
  private readonly byKey = new Map<string, TraceJob>();
  private readonly pending = new Map<string, number>();
  readonly running = new Set<string>();
  readonly started = new Set<string>();
  submitted = 0;
  succeeded = 0;
  failed = 0;
  expired = 0;

  constructor(
    private readonly jobs: readonly TraceJob[],
    private readonly client: KubeClient,
    private readonly marketSecondsPerSecond: number,
    startMs: number,
  ) {
    // Jobs submitted before the replay starts are not replayed (their patience is measured from submission).
    while (this.next < jobs.length && (jobs[this.next] as TraceJob).submitMs < startMs) this.next++;
  }

  bid(key: string): number {
    return this.byKey.get(key)?.bid ?? 0;
  }

  runningBids(): number[] {
    return [...this.running].map((k) => this.bid(k));
  }

  queuedCount(): number {
    return this.pending.size;
  }

  /** Submitted, not finished, not given up on and not running: queued, admitted or preempted. */
  waitingCount(): number {
    let n = 0;
    for (const key of this.byKey.keys()) if (!this.running.has(key)) n++;
    return n;
  }

  async submitUpTo(t: number): Promise<void> {
    while (this.next < this.jobs.length && (this.jobs[this.next] as TraceJob).submitMs <= t) {
      const j = this.jobs[this.next++] as TraceJob;
      const obj = m.trainingJob(j, this.marketSecondsPerSecond) as k8s.KubernetesObject;
      const key = `${m.DEMO_NAMESPACE}/${obj.metadata!.name}`;
      if (this.byKey.has(key)) continue;
      await apply(this.client, obj);
      this.byKey.set(key, j);
      this.pending.set(key, j.submitMs + j.patienceHours * 3_600_000);
      this.submitted++;
    }
  }

  /** Reads job conditions; deletes finished jobs (their finalizer hands the nodes back) and impatient ones. */
  async settle(seen: Observation, t: number): Promise<void> {
    for (const [key, state] of seen.jobs) {
      if (!this.byKey.has(key)) continue;
      if (state === 'Running' || state === 'Admitted') {
        this.pending.delete(key);
        if (state === 'Running') {
          this.running.add(key);
          this.started.add(key);
        }
      }
      if (state === 'Succeeded' || state === 'Failed') {
        if (state === 'Succeeded') this.succeeded++;
        else this.failed++;
        this.running.delete(key);
        this.pending.delete(key);
        this.byKey.delete(key);
        await this.remove(key);
      }
    }
    for (const [key, deadline] of this.pending) {
      if (t >= deadline) {
        this.pending.delete(key);
        this.byKey.delete(key);
        this.expired++;
        await this.remove(key);
      }
    }
  }

  private async remove(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    await this.client.custom
      .deleteNamespacedCustomObject({
        group: 'rigshift.io',
        version: 'v1alpha1',
        plural: 'trainingjobs',
        namespace,
        name,
      })
      .catch((err: unknown) => {
        if (!(err instanceof k8s.ApiException && err.code === 404)) throw err; // gone already is fine
      });
  }
}
