import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { FleetPolicySpec, MiningPool, TrainingJob } from '../../api/v1alpha1/index.js';
import { DRAIN_STALLED, MODE_SINCE, TARGET_MODE, TARGET_REASON } from '../../controller/labels.js';
import { nodeGpus, nodeProduct, nodeState } from '../../controller/nodes.js';
import { buildSnapshot, jobKey, jobPhase } from '../../controller/snapshot.js';
import { plan, type JobSnapshot } from '../../planner/index.js';

/**
 * What `kubectl rigshift` shows, as pure functions of the objects it read: the fleet at a glance, the queue in
 * the planner's order, why a node or a job is where it is, and the bid that would place a job now.
 */

export interface ClusterView {
  nowMs: number;
  nodes: readonly V1Node[];
  pods: readonly V1Pod[];
  jobs: readonly TrainingJob[];
  pools: readonly MiningPool[];
  policy: FleetPolicySpec;
}

const num = (s: string | undefined): number => (s === undefined ? NaN : Number(s));
const cond = (j: TrainingJob, type: string) => j.status?.conditions?.find((c) => c.type === type);

export interface StatusView {
  nodes: { product: string; mode: string; nodes: number; gpus: number }[];
  yields: { pool: string; product: string; usdPerGpuHour: number | null; known: boolean; reason: string }[];
  pending: { job: string; gpus: number; bid: number; reason: string }[];
  /** USD per hour earned now (running jobs' bids) and what mining every GPU would earn now. */
  rate: { trainingUsdPerHour: number; miningUsdPerHour: number; alwaysMineUsdPerHour: number };
  /** Earned by jobs that exist (status.earnedUsd), since they started. */
  earnedUsd: number;
}

function yieldOf(pools: readonly MiningPool[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of pools) {
    if (p.status?.conditions?.find((c) => c.type === 'YieldKnown')?.status !== 'True') continue;
    for (const y of p.status.yields ?? [])
      out.set(y.product, Math.max(out.get(y.product) ?? -Infinity, num(y.usdPerGpuHour)));
  }
  return out;
}

export function statusView(v: ClusterView): StatusView {
  const byKey = new Map<string, StatusView['nodes'][number]>();
  const yields = yieldOf(v.pools);
  let mining = 0;
  let alwaysMine = 0;
  for (const n of v.nodes) {
    const product = nodeProduct(n) ?? '?';
    const mode = nodeState(n, v.policy).mode ?? 'unmanaged';
    const key = `${product}|${mode}`;
    const row = byKey.get(key) ?? { product, mode, nodes: 0, gpus: 0 };
    row.nodes++;
    row.gpus += nodeGpus(n);
    byKey.set(key, row);
    const y = yields.get(product);
    if (y !== undefined) {
      alwaysMine += Math.max(0, y) * nodeGpus(n);
      if (mode === 'mining') mining += Math.max(0, y) * nodeGpus(n);
    }
  }
  let training = 0;
  let earned = 0;
  const pending: StatusView['pending'] = [];
  for (const j of v.jobs) {
    const gpus = j.spec.replicas * j.spec.gpusPerReplica;
    const bid = num(j.spec.bidUsdPerGpuHour);
    earned += Number(j.status?.earnedUsd ?? 0);
    const phase = jobPhase(j);
    if (phase === 'running') training += bid * gpus;
    if (phase === 'pending')
      pending.push({ job: jobKey(j), gpus, bid, reason: j.status?.waitingReason ?? '' });
  }
  pending.sort((a, b) => b.bid - a.bid || (a.job < b.job ? -1 : 1));
  const poolYields: StatusView['yields'] = [];
  for (const p of v.pools) {
    const known = p.status?.conditions?.find((c) => c.type === 'YieldKnown');
    for (const prof of p.spec.gpuProfiles) {
      const y = p.status?.yields?.find((x) => x.product === prof.product);
      poolYields.push({
        pool: `${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}`,
        product: prof.product,
        usdPerGpuHour: y ? num(y.usdPerGpuHour) : null,
        known: known?.status === 'True',
        reason: known?.status === 'True' ? '' : (known?.message ?? 'no status yet'),
      });
    }
  }
  return {
    nodes: [...byKey.values()].sort((a, b) => (a.product + a.mode < b.product + b.mode ? -1 : 1)),
    yields: poolYields,
    pending,
    rate: { trainingUsdPerHour: training, miningUsdPerHour: mining, alwaysMineUsdPerHour: alwaysMine },
    earnedUsd: earned,
  };
}

export interface QueueRow {
  position: number;
  job: string;
  tier: string;
  gpus: string;
  bid: number;
  waiting: string;
  reason: string;
}

/** Pending jobs in the order the planner considers them: highest bid first, then by namespace/name. */
export function queueView(v: ClusterView): QueueRow[] {
  const rows = v.jobs
    .filter((j) => jobPhase(j) === 'pending')
    .map((j) => ({
      job: jobKey(j),
      tier: j.spec.tier,
      gpus: `${j.spec.replicas}×${j.spec.gpusPerReplica}`,
      bid: num(j.spec.bidUsdPerGpuHour),
      waiting: cond(j, 'Queued')?.reason ?? 'New',
      reason: j.status?.waitingReason ?? 'not planned yet',
    }))
    .sort((a, b) => b.bid - a.bid || (a.job < b.job ? -1 : 1));
  return rows.map((r, i) => ({ position: i + 1, ...r }));
}

export interface WhyView {
  kind: 'node' | 'trainingjob';
  name: string;
  lines: [string, string][];
}

export function whyNode(v: ClusterView, node: V1Node): WhyView {
  const st = nodeState(node, v.policy);
  const a = node.metadata?.annotations ?? {};
  const name = node.metadata?.name ?? '';
  const jobs = v.jobs.filter((j) => (j.status?.assignedNodes ?? []).includes(name)).map(jobKey);
  const lines: [string, string][] = [
    ['mode', st.mode ?? 'unmanaged'],
    ['since', a[MODE_SINCE] ?? ''],
    ['target', a[TARGET_MODE] ?? ''],
    ['reason', a[TARGET_REASON] ?? 'the planner has not decided on this node yet'],
    ['gpus', `${nodeGpus(node)} × ${nodeProduct(node) ?? '?'}`],
    ['jobs', jobs.join(', ') || 'none'],
    ['cordoned', node.spec?.unschedulable ? 'yes: rigshift leaves it as it is' : 'no'],
  ];
  if (a[DRAIN_STALLED]) lines.push(['drain stalled', a[DRAIN_STALLED]]);
  return { kind: 'node', name, lines };
}

export function whyJob(job: TrainingJob): WhyView {
  const s = job.status;
  const lines: [string, string][] = [
    ['state', s?.state ?? 'not planned yet'],
    ['bid', `${job.spec.bidUsdPerGpuHour} USD/GPU-h, ${job.spec.tier}`],
    ['needs', `${job.spec.replicas} × ${job.spec.gpusPerReplica} GPUs`],
    ['nodes', (s?.assignedNodes ?? []).join(', ') || 'none'],
  ];
  if (s?.waitingReason) lines.push(['waiting', s.waitingReason]);
  for (const c of s?.conditions ?? []) {
    if (c.status === 'True' || c.type === 'Running')
      lines.push([c.type, `${c.status} ${c.reason}${c.message ? `: ${c.message}` : ''}`]);
  }
  if (s?.gpuHours) lines.push(['usage', `${s.gpuHours} GPU-h, ${s.earnedUsd ?? '0'} USD`]);
  return { kind: 'trainingjob', name: jobKey(job), lines };
}

export interface Quote {
  gpus: number;
  replicas: number;
  gpusPerReplica: number;
  product?: string;
  tier: 'OnDemand' | 'Interruptible';
  /** Lowest bid (USD per GPU-hour, to the cent) that the planner would place now; null if none would. */
  bidUsdPerGpuHour: number | null;
  /** Where, at that bid, and what it would take. */
  placement: string;
  /** Why no bid places it now (capacity, a product nobody has...). */
  reason: string;
}

/**
 * The bid that would place a job of `gpus` GPUs now: the planner run on the cluster's state with the job added,
 * searched to the cent. Whole nodes of 8 first (gangs), else one replica.
 */
export function quote(
  v: ClusterView,
  o: { gpus: number; product?: string; tier?: 'OnDemand' | 'Interruptible' },
): Quote {
  const tier = o.tier ?? 'OnDemand';
  const perNode = Math.max(1, ...v.nodes.map((n) => nodeGpus(n)));
  const gpusPerReplica = o.gpus % perNode === 0 ? perNode : o.gpus <= perNode ? o.gpus : gcd(o.gpus, perNode);
  const replicas = o.gpus / gpusPerReplica;
  const view = buildSnapshot({
    nowMs: v.nowMs,
    nodes: v.nodes,
    managedPods: v.pods.filter((p) => p.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'rigshift'),
    foreignPods: v.pods.filter((p) => p.metadata?.labels?.['app.kubernetes.io/managed-by'] !== 'rigshift'),
    jobs: v.jobs,
    pools: v.pools,
    policy: v.policy,
  });
  const key = 'kubectl-rigshift/quote';
  const trial = (bid: number) => {
    const job: JobSnapshot = {
      key,
      replicas,
      gpusPerReplica,
      bidUsdPerGpuHour: bid,
      tier,
      state: 'pending',
      assigned: [],
      runtimeSeconds: 0,
      minRuntimeSeconds: 0,
      ...(o.product ? { products: [o.product] } : {}),
    };
    const p = plan({ ...view.snapshot, jobs: [...view.snapshot.jobs, job] });
    const placed = p.placements.find((x) => x.job === key);
    const wait = [...p.queued, ...p.refused].find((x) => x.job === key);
    return { placed, wait, refused: p.refused.some((x) => x.job === key) };
  };
  const base = { gpus: o.gpus, replicas, gpusPerReplica, tier, ...(o.product ? { product: o.product } : {}) };
  // Searched over whole cents, so that a cent below the quote is never placed.
  let hi = 100_000;
  const top = trial(hi / 100);
  if (!top.placed) {
    return {
      ...base,
      bidUsdPerGpuHour: null,
      placement: '',
      reason: top.wait?.reason ?? 'not placeable now',
    };
  }
  let lo = 0;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (trial(mid / 100).placed) hi = mid;
    else lo = mid;
  }
  const cents = hi / 100;
  const at = trial(cents);
  return { ...base, bidUsdPerGpuHour: cents, placement: at.placed?.reason ?? '', reason: '' };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
