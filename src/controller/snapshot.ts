import type { V1Node, V1Pod, V1ResourceQuota } from '@kubernetes/client-node';
import {
  findCondition,
  isConditionTrue,
  type FleetPolicySpec,
  type MiningPool,
  type TrainingJob,
} from '../api/v1alpha1/index.js';
import { Decimal } from '../economics/decimal.js';
import type { JobShare, JobSnapshot, NodeMode, NodeSnapshot, Snapshot } from '../planner/index.js';
import {
  isGpuNode,
  nodeComputeCapability,
  nodeDriverMajor,
  nodeGpuMemoryMiB,
  nodeGpuResource,
  nodeGpus,
  nodeProduct,
  nodeState,
  poolForNode,
} from './nodes.js';
import {
  buildTrainingPod,
  isMiner,
  isTerminal,
  isTerminating,
  jobOwnerUid,
  podGpus,
  podNode,
  trainingJobKeyOf,
} from './pods.js';
import { plannerPolicy } from './policy.js';
import { poolEconomics, poolName } from './pool-economics.js';
import { quotaView, type QuotaJob } from './quota.js';
import { isBatchView } from './batchjob/adapt.js';
import { BATCH_KEY_PREFIX } from './batchjob/keys.js';

/**
 * Building the planner's Snapshot from what the informer caches hold: a pure function, so every decision the
 * operator takes can be replayed from the cluster's state alone.
 */

export interface SnapshotInput {
  nowMs: number;
  /** Nodes in scope (the operator's node selector already applied). */
  nodes: readonly V1Node[];
  /** Pods the operator owns (mining and training). */
  managedPods: readonly V1Pod[];
  /** Other pods on nodes (not terminal): their GPUs are never used by rigshift. */
  foreignPods: readonly V1Pod[];
  jobs: readonly TrainingJob[];
  pools: readonly MiningPool[];
  policy: FleetPolicySpec;
  /** ResourceQuotas (of the jobs' namespaces; others are ignored). */
  quotas?: readonly V1ResourceQuota[];
}

/** Where a job stands for the planner. */
export type JobPhase = 'deleting' | 'ended' | 'suspended' | 'running' | 'admitted' | 'pending';

export interface SnapshotResult {
  snapshot: Snapshot;
  /** Managed GPU nodes by name. */
  nodes: Map<string, V1Node>;
  /** The pool each node mines for. */
  poolOfNode: Map<string, MiningPool>;
  /** Every job by key, with its phase (jobs not pending/admitted/running are not in the snapshot). */
  jobs: Map<string, { job: TrainingJob; phase: JobPhase }>;
  /** Admitted jobs sent back to the queue because a node of theirs gave up its drain. */
  requeued: Map<string, string>;
  /** Admitted jobs whose gang did not start by its deadline: rolled back, queued again after a backoff. */
  startFailed: Map<string, StartFailure>;
  /** Placed jobs sent back to the queue because a node of theirs was double-booked with a higher bid. */
  overcommitted: Map<string, Overcommit>;
}

/** A job that gave up its nodes because one of them had more GPUs assigned than it has. */
export interface Overcommit {
  node: string;
  /** GPUs of the node, and GPUs assigned there by all placed jobs. */
  gpus: number;
  assigned: number;
  /** The jobs that keep the node (they bid more, or as much and were placed first). */
  keptBy: string[];
  reason: string;
}

/** A placed (admitted or running) job as the overcommit check sees it. */
export interface PlacedJob {
  key: string;
  bid: number;
  running: boolean;
  /** When it was admitted (ms), NaN when unknown. */
  admittedMs: number;
  shares: readonly JobShare[];
}

/**
 * Double bookings: nodes with more GPUs assigned to placed jobs than they have (two plans from a stale cache,
 * a hand-edited status). Pure. Jobs keep their nodes in order of bid (higher first), then running before
 * admitted, then the earlier admission; a job that would overfill any of its nodes gives up all of them (a
 * gang is placed whole or not at all). Nodes of unknown size are not judged.
 */
export function findOvercommits(
  placed: readonly PlacedJob[],
  gpusOf: (node: string) => number | undefined,
): Map<string, Overcommit> {
  const assigned = new Map<string, number>();
  for (const j of placed)
    for (const s of j.shares) assigned.set(s.node, (assigned.get(s.node) ?? 0) + s.gpus);
  const since = (j: PlacedJob): number => (Number.isNaN(j.admittedMs) ? Infinity : j.admittedMs);
  const order = [...placed].sort(
    (a, b) =>
      b.bid - a.bid ||
      Number(b.running) - Number(a.running) ||
      since(a) - since(b) ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  const used = new Map<string, { gpus: number; jobs: string[] }>();
  const out = new Map<string, Overcommit>();
  for (const j of order) {
    const over = j.shares.find((s) => {
      const cap = gpusOf(s.node);
      return cap !== undefined && (used.get(s.node)?.gpus ?? 0) + s.gpus > cap;
    });
    if (over) {
      const gpus = gpusOf(over.node) ?? 0;
      const total = assigned.get(over.node) ?? 0;
      const keptBy = used.get(over.node)?.jobs ?? [];
      const reason =
        keptBy.length > 0
          ? `node ${over.node} was double-booked (${total} GPUs assigned, it has ${gpus}): ${keptBy.join(', ')} keeps it, placed again`
          : `node ${over.node} has ${gpus} GPUs, fewer than the ${over.gpus} assigned to this job: placed again`;
      out.set(j.key, { node: over.node, gpus, assigned: total, keptBy: [...keptBy], reason });
      continue;
    }
    for (const s of j.shares) {
      const u = used.get(s.node) ?? { gpus: 0, jobs: [] };
      u.gpus += s.gpus;
      u.jobs.push(j.key);
      used.set(s.node, u);
    }
  }
  return out;
}

export interface StartFailure {
  /** Start failures so far, this one included. */
  failures: number;
  /** Not placed again before this time. */
  retryAfterMs: number;
  reason: string;
}

/** The wait before a job whose gang failed to start `failures` times is placed again: doubling, at most 1 h. */
export function startBackoffMs(
  policy: Pick<FleetPolicySpec, 'startBackoffSeconds'>,
  failures: number,
): number {
  const exp = Math.min(Math.max(0, failures - 1), 20);
  return Math.min(3600, policy.startBackoffSeconds * 2 ** exp) * 1000;
}

/** When an admitted job's gang must be running: its admission time plus its (or the policy's) start timeout. */
export function startDeadlineMs(
  job: TrainingJob,
  policy: Pick<FleetPolicySpec, 'startTimeoutSeconds'>,
): number | undefined {
  const admitted = findCondition(job.status?.conditions, 'Admitted');
  if (admitted?.status !== 'True') return undefined;
  // From the admission, or from the gang's last restart (Running True → False), whichever is later.
  const running = findCondition(job.status?.conditions, 'Running');
  const restartedAt = running?.status === 'False' ? Date.parse(running.lastTransitionTime) : NaN;
  const admittedAt = Date.parse(admitted.lastTransitionTime);
  const since = Number.isNaN(restartedAt) ? admittedAt : Math.max(admittedAt, restartedAt);
  if (Number.isNaN(since)) return undefined;
  return since + (job.spec.startTimeoutSeconds ?? policy.startTimeoutSeconds) * 1000;
}

/** Why the gang has not started, from the job reconciler's Running condition (a replica's own error). */
function notStartingWhy(job: TrainingJob): string {
  const running = findCondition(job.status?.conditions, 'Running');
  if (!running || running.status === 'True' || !running.message) return '';
  return running.reason && running.reason !== 'Starting'
    ? `${running.reason}: ${running.message}`
    : running.message;
}

/** `namespace/name`; a batch/v1 Job's view is `job.batch/namespace/name` (the two kinds may share names). */
export function jobKey(job: Pick<TrainingJob, 'metadata'>): string {
  const key = `${job.metadata.namespace ?? ''}/${job.metadata.name ?? ''}`;
  return isBatchView(job as TrainingJob) ? `${BATCH_KEY_PREFIX}${key}` : key;
}

/** The phase of a job from its metadata, spec and conditions. */
export function jobPhase(job: TrainingJob): JobPhase {
  if (job.metadata.deletionTimestamp) return 'deleting';
  const c = job.status?.conditions;
  if (isConditionTrue(c, 'Succeeded') || isConditionTrue(c, 'Failed')) return 'ended';
  if (job.spec.suspend) return 'suspended';
  const assigned = assignedNodes(job);
  if (assigned && isConditionTrue(c, 'Running')) return 'running';
  if (assigned && isConditionTrue(c, 'Admitted')) return 'admitted';
  return 'pending';
}

/** status.assignedNodes when it names one node per replica, else undefined. */
export function assignedNodes(job: TrainingJob): readonly string[] | undefined {
  const a = job.status?.assignedNodes;
  return a && a.length === job.spec.replicas && a.length > 0 ? a : undefined;
}

/** GPUs per node of a replica list (one entry per replica), in order of first appearance. */
export function sharesOf(nodes: readonly string[], gpusPerReplica: number): JobShare[] {
  const byNode = new Map<string, number>();
  for (const n of nodes) byNode.set(n, (byNode.get(n) ?? 0) + gpusPerReplica);
  return [...byNode].map(([node, gpus]) => ({ node, gpus }));
}

/** The replica list of a placement: each node repeated once per replica it holds, nodes in the given order. */
export function replicaNodes(shares: readonly JobShare[], gpusPerReplica: number): string[] {
  const out: string[] = [];
  for (const s of shares) for (let i = 0; i < Math.floor(s.gpus / gpusPerReplica); i++) out.push(s.node);
  return out;
}

function runtimeSeconds(job: TrainingJob, nowMs: number): number {
  const running = findCondition(job.status?.conditions, 'Running');
  if (running?.status !== 'True') return 0;
  const since = Date.parse(running.lastTransitionTime);
  return Number.isNaN(since) ? 0 : Math.max(0, Math.floor((nowMs - since) / 1000));
}

function bidNumber(text: string): number {
  try {
    return Decimal.parse(text).toNumber();
  } catch {
    return 0;
  }
}

export function buildSnapshot(input: SnapshotInput): SnapshotResult {
  const { nowMs, policy } = input;
  const abortCooldownMs = policy.drainTimeoutSeconds * 1000;

  const nodes = new Map<string, V1Node>();
  const resourceOf = new Map<string, string>(); // node → its GPU resource
  const poolOfNode = new Map<string, MiningPool>();
  const aborted = new Set<string>();
  const abortCause = new Map<string, string>(); // the node's drain-stalled annotation: which pod, and why
  for (const n of input.nodes) {
    const name = n.metadata?.name;
    if (!name) continue;
    const resource = nodeGpuResource(n, input.pools);
    if (!isGpuNode(n, resource)) continue;
    nodes.set(name, n);
    resourceOf.set(name, resource);
    const pool = poolForNode(n, input.pools);
    if (pool) poolOfNode.set(name, pool);
    const st = nodeState(n, policy);
    if (st.drainAbortedMs !== undefined && nowMs - st.drainAbortedMs < abortCooldownMs) {
      aborted.add(name);
      if (st.drainStalled) abortCause.set(name, st.drainStalled.slice(0, 500));
    }
  }

  // Jobs: phases, and which job holds GPUs where.
  const jobs = new Map<string, { job: TrainingJob; phase: JobPhase }>();
  const requeued = new Map<string, string>();
  const startFailed = new Map<string, StartFailure>();
  const jobSnaps: JobSnapshot[] = [];
  const holding = new Map<string, Set<string>>(); // node → jobs assigned there
  const phased: { job: TrainingJob; key: string; phase: JobPhase }[] = [];
  for (const job of input.jobs) {
    const key = jobKey(job);
    let phase = jobPhase(job);
    const assigned = assignedNodes(job);
    if (phase === 'admitted' && assigned) {
      const gaveUp = assigned.filter((n) => aborted.has(n));
      // A node cordoned before the gang started would keep its pods from scheduling: place it again now.
      const cordoned = assigned.filter((n) => nodes.get(n)?.spec?.unschedulable === true);
      const deadline = startDeadlineMs(job, policy);
      if (gaveUp.length > 0) {
        phase = 'pending';
        const why = gaveUp.flatMap((n) => abortCause.get(n) ?? []);
        requeued.set(
          key,
          `the drain of ${gaveUp.join(', ')} was aborted${why.length > 0 ? ` (${why.join('; ')})` : ''}`,
        );
      } else if (cordoned.length > 0) {
        phase = 'pending';
        requeued.set(key, `${cordoned.join(', ')} was cordoned before the gang started`);
      } else if (deadline !== undefined && nowMs >= deadline) {
        phase = 'pending';
        const failures = (job.status?.startFailures ?? 0) + 1;
        const why = notStartingWhy(job);
        const timeout = job.spec.startTimeoutSeconds ?? policy.startTimeoutSeconds;
        const reason = `the gang did not start within its start timeout of ${timeout} s${why ? ` (${why})` : ''}; rolled back, start failure ${failures}`;
        startFailed.set(key, { failures, retryAfterMs: nowMs + startBackoffMs(policy, failures), reason });
        requeued.set(key, reason);
      }
    } else if (phase === 'pending') {
      // Sent back to the queue by an aborted drain: it keeps saying so while the node cools down (read back
      // from its own Queued message, so the reason outlives the round that undid the admission).
      const m = /^the drain of (\S+(?:, \S+)*) was aborted/.exec(
        findCondition(job.status?.conditions, 'Queued')?.message ?? '',
      );
      const gaveUp = (m?.[1] ?? '').split(', ').filter((n) => aborted.has(n));
      const why = gaveUp.flatMap((n) => abortCause.get(n) ?? []);
      if (gaveUp.length > 0) {
        requeued.set(
          key,
          `the drain of ${gaveUp.join(', ')} was aborted${why.length > 0 ? ` (${why.join('; ')})` : ''}`,
        );
      }
    }
    phased.push({ job, key, phase });
  }

  // A double-booked node: the lower bids give their nodes up and are placed again.
  const overcommitted = findOvercommits(
    phased.flatMap(({ job, key, phase }) => {
      const assigned = assignedNodes(job);
      if ((phase !== 'admitted' && phase !== 'running') || !assigned) return [];
      const admitted = findCondition(job.status?.conditions, 'Admitted');
      return [
        {
          key,
          bid: bidNumber(job.spec.bidUsdPerGpuHour),
          running: phase === 'running',
          admittedMs: Date.parse(admitted?.lastTransitionTime ?? ''),
          shares: sharesOf(assigned, job.spec.gpusPerReplica),
        },
      ];
    }),
    (node) => {
      const n = nodes.get(node);
      return n ? nodeGpus(n, resourceOf.get(node)) : undefined;
    },
  );
  for (const p of phased) {
    const over = overcommitted.get(p.key);
    if (!over) continue;
    p.phase = 'pending';
    requeued.set(p.key, over.reason);
  }

  for (const { job, key, phase } of phased) {
    jobs.set(key, { job, phase });
    if (phase !== 'pending' && phase !== 'admitted' && phase !== 'running') continue;
    const assigned = assignedNodes(job);
    const shares = phase === 'pending' || !assigned ? [] : sharesOf(assigned, job.spec.gpusPerReplica);
    for (const s of shares) {
      let set = holding.get(s.node);
      if (!set) holding.set(s.node, (set = new Set()));
      set.add(key);
    }
    const snap: JobSnapshot = {
      key,
      replicas: job.spec.replicas,
      gpusPerReplica: job.spec.gpusPerReplica,
      bidUsdPerGpuHour: bidNumber(job.spec.bidUsdPerGpuHour),
      tier: job.spec.tier,
      state: phase,
      assigned: shares,
      runtimeSeconds: phase === 'running' ? runtimeSeconds(job, nowMs) : 0,
      minRuntimeSeconds: job.spec.minRuntimeSeconds,
    };
    if (job.spec.gpuProducts && job.spec.gpuProducts.length > 0) snap.products = job.spec.gpuProducts;
    if (job.spec.minGpuMemoryMiB !== undefined) snap.minGpuMemoryMiB = job.spec.minGpuMemoryMiB;
    if (job.spec.minComputeCapability !== undefined) {
      const [major, minor] = job.spec.minComputeCapability.split('.').map(Number);
      snap.minComputeCapability = (major ?? 0) * 100 + (minor ?? 0);
    }
    if (job.spec.minDriverMajor !== undefined) snap.minDriverMajor = job.spec.minDriverMajor;
    if (job.spec.nodeSelector && Object.keys(job.spec.nodeSelector).length > 0)
      snap.nodeSelector = job.spec.nodeSelector;
    const failed = startFailed.get(key);
    const retryAfter = failed ? failed.retryAfterMs : Date.parse(job.status?.retryAfterTime ?? '');
    if (phase === 'pending' && !Number.isNaN(retryAfter) && retryAfter > nowMs) {
      snap.notBeforeMs = retryAfter;
      const n = failed?.failures ?? job.status?.startFailures ?? 1;
      snap.notBeforeReason = `backing off after ${n === 1 ? 'a start failure' : `${n} start failures`}`;
    }
    jobSnaps.push(snap);
  }

  // GPUs on each node: our miners, and GPUs rigshift must not count on (foreign pods, leftover trainers).
  const mining = new Map<string, number>();
  const reserved = new Map<string, number>();
  const add = (m: Map<string, number>, node: string, gpus: number): void => {
    if (gpus > 0) m.set(node, (m.get(node) ?? 0) + gpus);
  };
  for (const pod of input.managedPods) {
    const node = podNode(pod);
    if (!node || !nodes.has(node) || isTerminal(pod)) continue;
    if (isMiner(pod)) {
      if (!isTerminating(pod)) add(mining, node, podGpus(pod, resourceOf.get(node)));
      continue;
    }
    const job = trainingJobKeyOf(pod);
    if (job === undefined || !holding.get(node)?.has(job))
      add(reserved, node, podGpus(pod, resourceOf.get(node)));
  }
  // A renter's batch Job's pods are not the operator's, but on the nodes the Job holds their GPUs are its own.
  const batchByUid = new Map<string, string>();
  for (const [key, { job }] of jobs)
    if (isBatchView(job) && job.metadata.uid) batchByUid.set(job.metadata.uid, key);
  const batchKeyOf = (pod: V1Pod): string | undefined => {
    const uid = jobOwnerUid(pod);
    return uid === undefined ? undefined : batchByUid.get(uid);
  };
  for (const pod of input.foreignPods) {
    const node = pod.spec?.nodeName;
    if (!node || !nodes.has(node) || isTerminal(pod)) continue;
    const batch = batchKeyOf(pod);
    if (batch !== undefined && holding.get(node)?.has(batch)) continue;
    add(reserved, node, podGpus(pod, resourceOf.get(node)));
  }

  const nodeSnaps: NodeSnapshot[] = [];
  for (const [name, n] of nodes) {
    const st = nodeState(n, policy);
    const pool = poolOfNode.get(name);
    let mode: NodeMode = st.mode ?? (pool ? 'mining' : 'idle');
    let drainingTo = st.drainingTo;
    let modeSinceMs = st.modeSinceMs ?? 0;
    // A drain the planner asked for that the node reconciler has not begun yet counts as begun.
    if (mode === 'mining' && !aborted.has(name) && (st.target === 'training' || st.target === 'idle')) {
      mode = 'draining';
      drainingTo = st.target;
      modeSinceMs = nowMs;
    }
    if (mode === 'draining' && !drainingTo) drainingTo = st.target === 'training' ? 'training' : 'idle';
    // A drain for training that no job needs any more (deleted, preempted, finished) is not held: shown as
    // mining, the planner may cancel it (or reuse the node) instead of finishing a drain for nothing.
    if (mode === 'draining' && drainingTo === 'training' && !holding.has(name)) {
      mode = 'mining';
      drainingTo = undefined;
    }
    const snap: NodeSnapshot = {
      name,
      product: nodeProduct(n) ?? '',
      gpus: nodeGpus(n, resourceOf.get(name)),
      gpuMemoryMiB: nodeGpuMemoryMiB(n),
      mode,
      modeSinceMs,
      miningGpus: mining.get(name) ?? 0,
      unschedulable: Boolean(n.spec?.unschedulable) || aborted.has(name),
    };
    if (mode === 'draining' && drainingTo) snap.drainingTo = drainingTo;
    const r = reserved.get(name);
    if (r) snap.reservedGpus = r;
    if (pool) snap.pool = poolName(pool);
    const cc = nodeComputeCapability(n);
    if (cc !== undefined) snap.computeCapability = cc;
    const driver = nodeDriverMajor(n);
    if (driver !== undefined) snap.driverMajor = driver;
    if (n.metadata?.labels) snap.labels = n.metadata.labels; // for jobs' nodeSelectors (shared, not copied)
    nodeSnaps.push(snap);
  }
  nodeSnaps.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  stillStopping(input, batchKeyOf, jobSnaps, nowMs);
  const quotas = jobQuotas(input, jobs, jobSnaps);

  const snapshot: Snapshot = {
    nowMs,
    nodes: nodeSnaps,
    pools: input.pools.filter((p) => !p.metadata.deletionTimestamp).map((p) => poolEconomics(p, nowMs)),
    jobs: jobSnaps,
    policy: plannerPolicy(policy),
  };
  if (quotas.length > 0) snapshot.quotas = quotas;
  return { snapshot, nodes, poolOfNode, jobs, requeued, startFailed, overcommitted };
}

/** The quotas' room, and each pending job's needs (or why it cannot be told) set on its snapshot. */
function jobQuotas(
  input: SnapshotInput,
  jobs: Map<string, { job: TrainingJob; phase: JobPhase }>,
  snaps: JobSnapshot[],
): NonNullable<Snapshot['quotas']> {
  const all = input.quotas ?? [];
  if (all.length === 0) return [];
  const limited = new Set(all.map((q) => q.metadata?.namespace ?? ''));
  const live = new Map<string, number>();
  for (const pod of input.managedPods) {
    const key = trainingJobKeyOf(pod);
    if (key && !isTerminal(pod) && !isTerminating(pod)) live.set(key, (live.get(key) ?? 0) + 1);
  }
  const quotaJobs: QuotaJob[] = [];
  for (const snap of snaps) {
    const job = jobs.get(snap.key)?.job;
    const ns = job?.metadata.namespace ?? '';
    // A batch Job's pods are the Job controller's: their quota refusals show on the Job, and its start deadline.
    if (!job || isBatchView(job) || !limited.has(ns)) continue;
    quotaJobs.push({
      key: snap.key,
      namespace: ns,
      phase: snap.state,
      replicas: job.spec.replicas,
      replica: buildTrainingPod(job, 0, 0, '', input.policy),
      livePods: live.get(snap.key) ?? 0,
    });
  }
  const view = quotaView(all, quotaJobs);
  for (const snap of snaps) {
    const blocked = view.blocked.get(snap.key);
    if (blocked !== undefined && snap.blockedCode === undefined) {
      snap.blockedCode = 'QuotaExceeded';
      snap.blockedReason = blocked;
    }
    const needs = view.needs.get(snap.key);
    if (needs) snap.quotaNeeds = needs;
  }
  return view.quotas;
}

/** A pod deleted this long ago and still there is stuck (a lost kubelet): its job no longer waits for it. */
export const STUCK_STOPPING_MS = 60_000;

/**
 * A pending job whose last run still has pods (preempted, rolled back, requeued) is not placed again until they
 * are gone: their GPUs are not free yet, and placing it elsewhere meanwhile would let a preempted job take the
 * nodes its preemptor is waiting for (the two then preempt each other for as long as pods linger). Bounded: a
 * pod deleted over a minute ago and still there no longer holds its job back.
 */
function stillStopping(
  input: SnapshotInput,
  batchKeyOf: (pod: V1Pod) => string | undefined,
  snaps: JobSnapshot[],
  nowMs: number,
): void {
  const pending = new Set(snaps.filter((s) => s.state === 'pending').map((s) => s.key));
  if (pending.size === 0) return;
  const left = new Map<string, Set<string>>();
  const count = (key: string | undefined, pod: V1Pod): void => {
    if (key === undefined || !pending.has(key) || isTerminal(pod)) return;
    const at = pod.metadata?.deletionTimestamp;
    if (at !== undefined && nowMs - new Date(at).getTime() > STUCK_STOPPING_MS) return;
    let nodes = left.get(key);
    if (!nodes) left.set(key, (nodes = new Set()));
    nodes.add(podNode(pod) ?? '(not scheduled)');
  };
  for (const pod of input.managedPods) if (!isMiner(pod)) count(trainingJobKeyOf(pod), pod);
  for (const pod of input.foreignPods) count(batchKeyOf(pod), pod);
  for (const snap of snaps) {
    const nodes = left.get(snap.key);
    if (!nodes) continue;
    snap.blockedCode = 'PodsStopping';
    snap.blockedReason = `the pods of its last run are still stopping on ${[...nodes].sort().join(', ')}; it is placed again once they are gone`;
  }
}
