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
  trainingBid: Gauge<'namespace' | 'job'>;
  switches: Counter<'from' | 'to' | 'reason'>;
  drainDuration: Histogram<'outcome'>;
  reconcileDuration: Histogram<'controller'>;
  reconcileErrors: Counter<'controller'>;
  queueDepth: Gauge<'queue'>;
  queueLatency: Histogram<'queue'>;
  queueRetries: Counter<'queue'>;
  revenue: Counter<'mode'>;
  leader: Gauge;
  apiRequests: Counter<'verb' | 'code'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean; jobBids?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'rigshift_' });
  const registers = [registry];
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
      labelNames: ['namespace', 'job'],
      registers: opts.jobBids ? registers : [],
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
      help: 'Requests to the Kubernetes API server',
      labelNames: ['verb', 'code'],
      registers,
    }),
  };
  for (const mode of NODE_MODES) {
    m.nodes.set({ mode }, 0);
    m.gpus.set({ mode }, 0);
  }
  m.leader.set(0);
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
