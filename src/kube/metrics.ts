import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueHooks } from './workqueue.js';

export const NODE_MODES = ['mining', 'draining', 'training', 'idle'] as const;
export type NodeMode = (typeof NODE_MODES)[number];

/** The operator's Prometheus metrics, on their own registry (no global state). */
export interface OperatorMetrics {
  registry: Registry;
  nodes: Gauge<'mode'>;
  gpus: Gauge<'mode'>;
  /** Mining yield per GPU-hour (USD) by pool and GPU product. */
  miningYield: Gauge<'pool' | 'product'>;
  /**
   * A training job's bid per GPU-hour (USD). Exported only with `jobBids` (what each renter pays is their
   * business); otherwise a gauge on no registry, so callers set it either way.
   */
  trainingBid: Gauge<'job_namespace' | 'training_job'>;
  /** How long each pending job has waited since it was (last) queued: per job, exported with `jobBids`. */
  jobWait: Gauge<'job_namespace' | 'training_job'>;
  /** A job's preemptions so far (status.preemptions): per job, exported with `jobBids`. */
  jobPreemptions: Gauge<'job_namespace' | 'training_job'>;
  /** Jobs waiting for placement, and the longest wait among them, per namespace. */
  pendingJobs: Gauge<'job_namespace'>;
  pendingMaxWait: Gauge<'job_namespace'>;
  /** Queued (created or requeued) until admitted; observed once per admission, from status timestamps. */
  admissionWait: Histogram<'job_namespace'>;
  /** Admitted until every replica runs; observed once per start, from status timestamps. */
  readyWait: Histogram<'job_namespace'>;
  preemptions: Counter<'job_namespace'>;
  /** Draining nodes whose drain has run longer than the policy's drainTimeoutSeconds. */
  drainsPastTimeout: Gauge;
  /** 1 while a pool's yield is known (condition YieldKnown True), else 0. */
  poolYieldKnown: Gauge<'pool'>;
  /** When the price value a pool uses was read (Unix seconds), per input. */
  poolPriceReadTime: Gauge<'pool' | 'input'>;
  /** Refused price refreshes (outliers, egress refusals, bad answers), per pool and input. */
  priceRefusals: Counter<'pool' | 'input' | 'code'>;
  switches: Counter<'from' | 'to' | 'reason'>;
  drainDuration: Histogram<'outcome'>;
  reconcileDuration: Histogram<'controller'>;
  /** One planning pass of the fleet reconciler: snapshot from the caches and plan(), without the writes. */
  planDuration: Histogram;
  reconcileErrors: Counter<'controller'>;
  queueDepth: Gauge<'queue'>;
  queueLatency: Histogram<'queue'>;
  queueRetries: Counter<'queue'>;
  revenue: Counter<'mode'>;
  leader: Gauge;
  apiRequests: Counter<'verb' | 'code' | 'resource'>;
  /**
   * GPU-seconds and USD booked in each namespace's UsageRecords (all months), recomputed from the records at
   * every scrape: a restarted or new replica exports the same totals, never a reset to zero.
   */
  usageGpuSeconds: Counter<'job_namespace'>;
  usageUsd: Counter<'job_namespace'>;
  /** The same per month (UTC), for the current and the previous month: the bill. */
  usageMonthGpuSeconds: Gauge<'job_namespace' | 'month'>;
  usageMonthUsd: Gauge<'job_namespace' | 'month'>;
  /** Where the usage figures come from (the UsageRecord cache); undefined: none exported yet. */
  usage: { figures?: () => readonly UsageFigure[] | undefined };
}

/** One namespace's usage in one month, as its UsageRecord says. */
export interface UsageFigure {
  namespace: string;
  month: string;
  gpuHours: number;
  earnedUsd: number;
  /** The current or the previous month (exported per month). */
  recent: boolean;
}

/** Waits for placement and start: seconds to days, as Kueue's admission wait buckets. */
const WAIT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

export function createMetrics(opts: { defaultMetrics?: boolean; jobBids?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'rigshift_' });
  const registers = [registry];
  const usage: OperatorMetrics['usage'] = {};
  /** Sums the figures per namespace (all months) or per namespace and month (recent months only). */
  const fill = (
    metric: { reset(): void },
    set: (labels: Record<string, string>, v: number) => void,
    perMonth: boolean,
    value: (f: UsageFigure) => number,
  ): void => {
    metric.reset();
    const sums = new Map<string, { labels: Record<string, string>; v: number }>();
    for (const f of usage.figures?.() ?? []) {
      if (perMonth && !f.recent) continue;
      const labels: Record<string, string> = perMonth
        ? { job_namespace: f.namespace, month: f.month }
        : { job_namespace: f.namespace };
      const key = JSON.stringify(labels);
      const s = sums.get(key) ?? { labels, v: 0 };
      s.v += value(f);
      sums.set(key, s);
    }
    for (const s of sums.values()) set(s.labels, s.v);
  };
  const m: OperatorMetrics = {
    registry,
    nodes: new Gauge({ name: 'rigshift_nodes', help: 'GPU nodes by mode', labelNames: ['mode'], registers }),
    gpus: new Gauge({
      name: 'rigshift_gpus',
      help: 'GPUs by mode of their node',
      labelNames: ['mode'],
      registers,
    }),
    miningYield: new Gauge({
      name: 'rigshift_mining_yield_usd_per_gpu_hour',
      help: 'Net mining yield per GPU-hour after pool fee and power',
      labelNames: ['pool', 'product'],
      registers,
    }),
    trainingBid: new Gauge({
      name: 'rigshift_training_bid_usd_per_gpu_hour',
      help: "A training job's bid per GPU-hour",
      labelNames: ['job_namespace', 'training_job'],
      registers: opts.jobBids ? registers : [],
    }),
    jobWait: new Gauge({
      name: 'rigshift_job_wait_seconds',
      help: 'Seconds a pending training job has waited since it was queued',
      labelNames: ['job_namespace', 'training_job'],
      registers: opts.jobBids ? registers : [],
    }),
    jobPreemptions: new Gauge({
      name: 'rigshift_job_preemptions',
      help: 'Times a training job was preempted (status.preemptions)',
      labelNames: ['job_namespace', 'training_job'],
      registers: opts.jobBids ? registers : [],
    }),
    pendingJobs: new Gauge({
      name: 'rigshift_pending_jobs',
      help: 'Training jobs waiting for placement',
      labelNames: ['job_namespace'],
      registers,
    }),
    pendingMaxWait: new Gauge({
      name: 'rigshift_pending_job_max_wait_seconds',
      help: 'Longest wait among the pending training jobs of a namespace',
      labelNames: ['job_namespace'],
      registers,
    }),
    admissionWait: new Histogram({
      name: 'rigshift_job_admission_wait_time_seconds',
      help: 'Time from a job being queued (created, preempted or rolled back) to its admission',
      labelNames: ['job_namespace'],
      buckets: WAIT_BUCKETS,
      registers,
    }),
    readyWait: new Histogram({
      name: 'rigshift_job_admitted_until_ready_wait_time_seconds',
      help: 'Time from a job being admitted to all its replicas running',
      labelNames: ['job_namespace'],
      buckets: WAIT_BUCKETS,
      registers,
    }),
    preemptions: new Counter({
      name: 'rigshift_job_preemptions_total',
      help: 'Training jobs preempted (a higher bid or a better mining yield took their nodes)',
      labelNames: ['job_namespace'],
      registers,
    }),
    drainsPastTimeout: new Gauge({
      name: 'rigshift_drains_past_timeout',
      help: 'Draining nodes whose drain has run longer than drainTimeoutSeconds',
      registers,
    }),
    poolYieldKnown: new Gauge({
      name: 'rigshift_pool_yield_known',
      help: "1 while a MiningPool's yield is known, else 0",
      labelNames: ['pool'],
      registers,
    }),
    poolPriceReadTime: new Gauge({
      name: 'rigshift_pool_price_read_timestamp_seconds',
      help: 'When the price value a MiningPool uses was read (Unix time)',
      labelNames: ['pool', 'input'],
      registers,
    }),
    priceRefusals: new Counter({
      name: 'rigshift_price_refusals_total',
      help: 'Price refreshes refused (bad answer, outlier, egress rules)',
      labelNames: ['pool', 'input', 'code'],
      registers,
    }),
    switches: new Counter({
      name: 'rigshift_mode_switches_total',
      help: 'Node mode switches',
      labelNames: ['from', 'to', 'reason'],
      registers,
    }),
    drainDuration: new Histogram({
      name: 'rigshift_drain_duration_seconds',
      help: 'Time to drain a node of mining pods',
      labelNames: ['outcome'],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'rigshift_reconcile_duration_seconds',
      help: 'Time spent in one reconcile',
      labelNames: ['controller'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    }),
    planDuration: new Histogram({
      name: 'rigshift_plan_duration_seconds',
      help: 'Time to build the fleet snapshot from the caches and plan it (no API calls)',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'rigshift_reconcile_errors_total',
      help: 'Reconciles that failed (and were retried)',
      labelNames: ['controller'],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'rigshift_workqueue_depth',
      help: 'Keys waiting for a worker',
      labelNames: ['queue'],
      registers,
    }),
    queueLatency: new Histogram({
      name: 'rigshift_workqueue_queue_duration_seconds',
      help: 'Time a key waits in the queue before processing',
      labelNames: ['queue'],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 30, 120],
      registers,
    }),
    queueRetries: new Counter({
      name: 'rigshift_workqueue_retries_total',
      help: 'Keys re-queued with backoff',
      labelNames: ['queue'],
      registers,
    }),
    revenue: new Counter({
      name: 'rigshift_revenue_usd_total',
      help: 'Revenue accrued, by node mode (USD)',
      labelNames: ['mode'],
      registers,
    }),
    leader: new Gauge({ name: 'rigshift_leader', help: '1 while this replica leads', registers }),
    apiRequests: new Counter({
      name: 'rigshift_api_requests_total',
      help: 'Requests to the Kubernetes API server, by HTTP method, status code and resource (watches excluded)',
      labelNames: ['verb', 'code', 'resource'],
      registers,
    }),
    usageGpuSeconds: new Counter({
      name: 'rigshift_usage_gpu_seconds_total',
      help: "GPU-seconds used by a namespace's TrainingJobs, as booked in its UsageRecords (all months)",
      labelNames: ['job_namespace'],
      registers,
      collect() {
        fill(
          this,
          (l, v) => this.inc(l, v),
          false,
          (f) => f.gpuHours * 3600,
        );
      },
    }),
    usageUsd: new Counter({
      name: 'rigshift_usage_usd_total',
      help: 'USD owed by a namespace for its TrainingJobs, as booked in its UsageRecords (all months)',
      labelNames: ['job_namespace'],
      registers,
      collect() {
        fill(
          this,
          (l, v) => this.inc(l, v),
          false,
          (f) => f.earnedUsd,
        );
      },
    }),
    usageMonthGpuSeconds: new Gauge({
      name: 'rigshift_usage_month_gpu_seconds',
      help: "GPU-seconds used by a namespace in a month (UTC), its UsageRecord's gpuHours × 3600",
      labelNames: ['job_namespace', 'month'],
      registers,
      collect() {
        fill(
          this,
          (l, v) => this.set(l, v),
          true,
          (f) => f.gpuHours * 3600,
        );
      },
    }),
    usageMonthUsd: new Gauge({
      name: 'rigshift_usage_month_usd',
      help: "USD owed by a namespace for a month (UTC), its UsageRecord's earnedUsd",
      labelNames: ['job_namespace', 'month'],
      registers,
      collect() {
        fill(
          this,
          (l, v) => this.set(l, v),
          true,
          (f) => f.earnedUsd,
        );
      },
    }),
    usage,
  };
  for (const mode of NODE_MODES) {
    m.nodes.set({ mode }, 0);
    m.gpus.set({ mode }, 0);
  }
  m.leader.set(0);
  m.drainsPastTimeout.set(0);
  return m;
}

/** Work queue hooks feeding the queue and reconcile metrics (the queue's name is the controller's). */
export function queueHooks(m: OperatorMetrics): QueueHooks {
  return {
    depth: (queue, depth) => m.queueDepth.set({ queue }, depth),
    queueLatency: (queue, ms) => m.queueLatency.observe({ queue }, ms / 1000),
    workDuration: (controller, ms) => m.reconcileDuration.observe({ controller }, ms / 1000),
    retry: (queue) => m.queueRetries.inc({ queue }),
    error: (controller) => m.reconcileErrors.inc({ controller }),
  };
}

/** Sets the per-mode node and GPU gauges from a full count (modes absent from `counts` become 0). */
export function setModeGauges(
  m: OperatorMetrics,
  counts: Partial<Record<NodeMode, { nodes: number; gpus: number }>>,
): void {
  for (const mode of NODE_MODES) {
    m.nodes.set({ mode }, counts[mode]?.nodes ?? 0);
    m.gpus.set({ mode }, counts[mode]?.gpus ?? 0);
  }
}
