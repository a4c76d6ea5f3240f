import type { KubernetesObject, V1Node } from '@kubernetes/client-node';
import {
  API_VERSION,
  type FleetPolicy,
  type FleetPolicySpec,
  type TrainingJob,
} from '../api/v1alpha1/index.js';
import { HELD_FOR_UNKNOWN_YIELD, plan, type NodePlan, type Plan } from '../planner/index.js';
import { apply } from '../kube/apply.js';
import { systemClock, type Clock } from '../kube/clock.js';
import type { KubeClient } from '../kube/client.js';
import { truncateUtf8, type EventRecorder } from '../kube/events.js';
import { setModeGauges, type OperatorMetrics } from '../kube/metrics.js';
import { isNotFound } from '../kube/rest.js';
import { mergeConditions, rfc3339, statusEqual } from '../kube/status.js';
import type { ReconcileFn, ReconcileResult } from '../kube/workqueue.js';
import type { Logger } from '../log.js';
import {
  admissionEvent,
  admissionStatus,
  admissionUpToDate,
  plannerSpoke,
  type AdmissionStatus,
  type JobOutcome,
} from './admission.js';
import type { Caches, Parsed } from './caches.js';
import type { Expectations } from './expectations.js';
import { cacheHold, freshnessReporter, type StaleCache } from './freshness.js';
import { FINALIZER, PLANNER_MANAGER, TARGET_MINING_GPUS, TARGET_MODE, TARGET_REASON } from './labels.js';
import { nodeState } from './nodes.js';
import { observeAdmission, setPendingGauges } from './job-metrics.js';
import { policyReporter, type PolicyReportDeps } from './policy-report.js';
import { batchJobViews, isBatchView, LEDGER_ADMISSION, writeLedger } from './batchjob/index.js';
import { buildSnapshot, jobKey, jobPhase, startDeadlineMs, type SnapshotResult } from './snapshot.js';

/** Key of the one fleet-wide planning item in its queue. */
export const FLEET_KEY = 'fleet';
/** Longest wait between two plans (prices, dwell and runtimes move on without events). */
const REPLAN_MS = 30_000;
/** Planning waits this long for the caches to echo its previous writes. */
const ECHO_WAIT_MS = 100;
/** While the caches are stale, how often to look again. */
const HOLD_RECHECK_MS = 1000;
const WRITE_CONCURRENCY = 16;
/**
 * A node's target reason alone (same mode, same GPUs) is rewritten only to say that the node is held for an
 * unknown yield, or no longer is, and only once that has lasted this long: a pool catching up with its own
 * spec change is held for milliseconds, and at a thousand nodes each rewrite is a thousand writes.
 */
export const REASON_SETTLE_MS = 10_000;
const ANNOTATION_MAX_BYTES = 1024;
const PACE_FROM_MS = 20;
/**
 * The operator's plans start at least this far apart. In a burst every job, pod and node change asks for a
 * plan (at 200 jobs, over a hundred a second, most of the operator's one thread); the plan waits this much
 * at most, against the minutes a switch pays back over.
 */
export const MIN_PLAN_INTERVAL_MS = 200;
const PACE_RATIO = 2;

export interface FleetDeps {
  client: Pick<KubeClient, 'rest' | 'mapper'>;
  caches: Caches;
  parsed: Parsed;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  expectations: Expectations;
  /** Informers whose watch is silent past its liveness bound (planning holds while any is). */
  staleCaches?: (() => StaleCache[]) | undefined;
  /** Where Events about a missing FleetPolicy go (the operator's Lease or Namespace). */
  policyRef?: PolicyReportDeps['policyRef'];
  /** --dry-run: plan and report only (the FleetPolicy's spec.dryRun does the same). */
  dryRun?: boolean;
  metrics?: OperatorMetrics | undefined;
  clock?: Clock;
  logger?: Logger | undefined;
  /**
   * Plans start at least this far apart (default 0): a burst of job, pod and node changes is planned in
   * batches rather than once per change. The operator uses MIN_PLAN_INTERVAL_MS.
   */
  minPlanIntervalMs?: number;
  /** Where renters' batch Jobs' ledgers live; absent: batch Jobs are not planned. */
  ledgerNamespace?: string | undefined;
}

/** The fleet reconciler: snapshot from the caches, plan(), then the plan's decisions written to the cluster. */
export function createFleetReconciler(deps: FleetDeps): ReconcileFn {
  const clock = deps.clock ?? systemClock;
  let lastRevenueAt: number | undefined;
  const policyReport = policyReporter(deps);
  const freshness = freshnessReporter(deps);
  /** Nodes whose reason alone differs from the plan's: since when (see REASON_SETTLE_MS). */
  const reasonSince = new Map<string, { held: boolean; sinceMs: number }>();
  /** The last plan's end and cost (monotonic ms): planning is paced to a share of the operator's one thread. */
  let lastPlan = { endMs: -Infinity, costMs: 0 };

  return async (_key, signal): Promise<ReconcileResult> => {
    const now = clock.now();
    // Fail closed: a cache known to be stale, or one that has not shown our own writes for too long, is
    // never planned from.
    const stale = deps.staleCaches?.() ?? [];
    const hold = cacheHold(stale, deps.expectations.overdue(now));
    if (hold) {
      await freshness.holding(hold, stale, deps.caches.policy(), now);
      return { requeueAfterMs: HOLD_RECHECK_MS };
    }
    freshness.fresh();
    if (deps.expectations.outstanding() > 0) return { requeueAfterMs: ECHO_WAIT_MS };
    const policy = deps.caches.policy();
    // Fail closed: without a valid policy nothing is planned or written; the policy's return wakes this up.
    if (policy.source === 'none') {
      await policyReport.blocked(policy, now);
      return { requeueAfterMs: REPLAN_MS };
    }
    await policyReport.acting(policy.source);
    const dryRun = Boolean(deps.dryRun) || policy.spec.dryRun;
    // Every job, pod and node change asks for a plan; at a thousand nodes one costs 100 ms or more of the one
    // thread the reconcilers share. A plan that cost more than PACE_FROM_MS is followed by a pause of
    // PACE_RATIO times its cost, so that planning takes at most about a third of the thread.
    const paced = lastPlan.costMs > PACE_FROM_MS ? PACE_RATIO * lastPlan.costMs : 0;
    const gap = Math.max(paced, (deps.minPlanIntervalMs ?? 0) - lastPlan.costMs);
    const pause = lastPlan.endMs + gap - performance.now();
    if (pause > 0) return { requeueAfterMs: Math.ceil(pause) };
    const planning = performance.now();
    const view = buildSnapshot({
      nowMs: now,
      nodes: deps.caches.nodes.list(),
      managedPods: deps.caches.managedPods.list(),
      foreignPods: deps.caches.foreignPods.list(),
      jobs: [
        // A new job is planned once the job reconciler has taken it in (its finalizer), not in the same instant
        // (their two first writes raced: a 409 and a second plan). One planned before stays planned whatever
        // its finalizers (a renter removing it must not free its nodes); a dry run plans every job.
        ...deps.parsed.jobsOf(deps.caches.jobs).filter((j) => dryRun || takenIn(j)),
        ...(deps.ledgerNamespace === undefined
          ? []
          : batchJobViews(deps.caches, deps.ledgerNamespace, (job, reason, message) =>
              deps.logger?.debug({ job, reason, message }, 'batch job not planned'),
            )),
      ],
      pools: deps.parsed.poolsOf(deps.caches.pools),
      policy: policy.spec,
      quotas: deps.caches.quotas?.list() ?? [],
    });
    const decided = plan(view.snapshot);
    const planned = performance.now();
    lastPlan = { endMs: planned, costMs: planned - planning };
    deps.metrics?.planDuration.observe((planned - planning) / 1000);
    const outcomes = jobOutcomes(view, decided);

    const failures: unknown[] = [];
    const record = (err: unknown): void => {
      if (!isNotFound(err)) failures.push(err);
    };

    // Jobs first: a node is switched only once its job's admission is recorded (crash safety), and a job
    // whose status changed under us (409) stops this round before any node moves for it. Writes that give
    // nodes up (preemptions, requeues, ends) go before admissions, which may rely on them: any failure among
    // them stops the round before a job is admitted onto nodes another job may still hold.
    const releases: (() => Promise<void>)[] = [];
    const admissions: (() => Promise<void>)[] = [];
    for (const [key, { job, phase }] of view.jobs) {
      const outcome = outcomes.get(key);
      if (!outcome || phase === 'deleting') continue;
      const note = view.requeued.has(key) ? `${view.requeued.get(key) ?? ''}; ` : '';
      const over = dryRun ? undefined : view.overcommitted.get(key);
      const placedBefore = jobPhase(job); // the view's phase of an overcommitted job is already 'pending'
      // A placed job that gives its nodes up is preempted and placed again next round: a new run (its new pods
      // get new names) on nodes the planner picks from a status where it holds none, never moved in one write
      // (its pods of the old run would look lost to the progress reconciler).
      const release =
        over && (placedBefore === 'running' || placedBefore === 'admitted')
          ? ({
              kind: 'preempted',
              preemption: { job: key, by: over.keptBy[0], reason: over.reason },
            } as const)
          : undefined;
      const desired = dryRun
        ? dryRunStatus(job, admissionStatus(job, phase, outcome, note))
        : admissionStatus(job, phase, release ?? outcome, note);
      const failed = view.startFailed.get(key);
      if (failed && !dryRun) {
        desired.startFailures = failed.failures;
        desired.retryAfterTime = rfc3339(new Date(failed.retryAfterMs));
      }
      if (admissionUpToDate(job, desired)) continue;
      const warning = over
        ? { reason: 'Overcommitted', note: over.reason }
        : failed && !dryRun
          ? { reason: 'StartTimeout', note: failed.reason }
          : undefined;
      const write = (): Promise<void> => writeJob(deps, job, desired, clock, warning).catch(record);
      const admits =
        desired.conditions.some((c) => c.type === 'Admitted' && c.status === 'True') &&
        desired.assignedNodes !== undefined;
      (admits ? admissions : releases).push(write);
    }
    // At most WRITE_CONCURRENCY at once: a burst of two thousand jobs is two thousand status writes, and as
    // many requests in flight at once only queue up in the API server (and in the operator's memory).
    await forEachLimit(releases, WRITE_CONCURRENCY, (w) => w());
    if (failures.length > 0) throw aggregate('TrainingJob status', failures);
    await forEachLimit(admissions, WRITE_CONCURRENCY, (w) => w());
    if (failures.length > 0) throw aggregate('TrainingJob status', failures);

    let settleAtMs: number | undefined;
    if (!dryRun) {
      const draining = new Set(view.snapshot.nodes.filter((n) => n.mode === 'draining').map((n) => n.name));
      const nodeWrites: { p: NodePlan; node: V1Node }[] = [];
      const unsettled = new Set<string>();
      for (const p of decided.nodes) {
        const node = view.nodes.get(p.node);
        if (!node) continue;
        const change = targetChange(node, p, policy.spec, draining.has(p.node));
        if (change === 'target') nodeWrites.push({ p, node });
        if (change !== 'reason') continue;
        const held = isHeld(p.reason);
        let since = reasonSince.get(p.node);
        if (since?.held !== held) reasonSince.set(p.node, (since = { held, sinceMs: now }));
        unsettled.add(p.node);
        const at = since.sinceMs + REASON_SETTLE_MS;
        if (now >= at) nodeWrites.push({ p, node });
        else settleAtMs = Math.min(settleAtMs ?? at, at);
      }
      for (const n of reasonSince.keys()) if (!unsettled.has(n)) reasonSince.delete(n);
      await forEachLimit(nodeWrites, WRITE_CONCURRENCY, ({ p, node }) =>
        writeTarget(deps, node, p, policy.spec, clock, signal).catch(record),
      );
      if (failures.length > 0) throw aggregate('node target', failures);
    }

    if (policy.source === 'cluster' && policy.object) {
      await writePolicyStatus(deps, policy.object, view, decided, dryRun, now).catch(record);
    }
    observe(deps, view, policy.spec, now, lastRevenueAt);
    lastRevenueAt = now;
    deps.logger?.debug(
      {
        nodes: decided.nodes.length,
        placements: decided.placements.length,
        queued: decided.queued.length,
        drains: decided.drains.length,
        preemptions: decided.preemptions.length,
      },
      'fleet planned',
    );
    if (failures.length > 0) throw aggregate('FleetPolicy status', failures);
    const next = nextPlanMs(view, now, policy.spec);
    return { requeueAfterMs: settleAtMs === undefined ? next : Math.min(next, settleAtMs - now + 50) };
  };
}

function takenIn(j: TrainingJob): boolean {
  return (
    Boolean(j.metadata.deletionTimestamp || j.metadata.finalizers?.includes(FINALIZER)) || plannerSpoke(j)
  );
}

/** The plan's verdict on every job of the snapshot, and the ended and suspended jobs. */
export function jobOutcomes(view: SnapshotResult, decided: Plan): Map<string, JobOutcome> {
  const out = new Map<string, JobOutcome>();
  for (const p of decided.placements) out.set(p.job, { kind: 'placed', placement: p });
  for (const w of decided.queued) out.set(w.job, { kind: 'waiting', wait: w, refused: false });
  for (const w of decided.refused) out.set(w.job, { kind: 'waiting', wait: w, refused: true });
  for (const p of decided.preemptions) out.set(p.job, { kind: 'preempted', preemption: p });
  for (const [key, { phase }] of view.jobs) {
    if (phase === 'ended') out.set(key, { kind: 'ended' });
    else if (phase === 'suspended') out.set(key, { kind: 'suspended' });
  }
  return out;
}

/** In a dry run nothing is admitted: the job stays queued and says where it would go. */
function dryRunStatus(job: TrainingJob, s: AdmissionStatus): AdmissionStatus {
  const admitted = s.conditions.find((c) => c.type === 'Admitted');
  if (admitted?.status !== 'True') return s;
  const message = `dry run: would be ${admitted.message}`;
  const gen = job.metadata.generation;
  const withGen = <T extends object>(c: T): T => (gen === undefined ? c : { ...c, observedGeneration: gen });
  return {
    conditions: [
      withGen({ type: 'Queued', status: 'True', reason: 'DryRun', message }),
      withGen({ type: 'Admitted', status: 'False', reason: 'DryRun', message }),
      s.conditions.find((c) => c.type === 'Preempted') ??
        withGen({ type: 'Preempted', status: 'False', reason: 'NotPreempted', message: '' }),
    ],
    waitingReason: message,
    ...(s.preemptions !== undefined ? { preemptions: job.status?.preemptions ?? 0 } : {}),
  };
}

async function writeJob(
  deps: FleetDeps,
  job: TrainingJob,
  desired: AdmissionStatus,
  clock: Clock,
  warning?: { reason: string; note: string },
): Promise<void> {
  const now = new Date(clock.now());
  const status = { ...desired, conditions: mergeConditions(job.status?.conditions, desired.conditions, now) };
  if (isBatchView(job)) {
    await writeBatchAdmission(deps, job, status, now, warning);
    return;
  }
  const written = await apply(
    deps.client,
    {
      apiVersion: API_VERSION,
      kind: 'TrainingJob',
      metadata: {
        name: job.metadata.name ?? '',
        namespace: job.metadata.namespace,
        // Written only over the status it was planned from (two plans must never both admit onto a node).
        resourceVersion: job.metadata.resourceVersion,
      },
      status,
    } as KubernetesObject,
    { fieldManager: PLANNER_MANAGER, force: true, subresource: 'status' },
  );
  deps.expectations.expect('TrainingJob', jobKey(job), written.metadata.resourceVersion, clock.now());
  observeAdmission(deps.metrics, job, desired, now.getTime());
  const event = warning ? { type: 'Warning' as const, ...warning } : admissionEvent(job, desired);
  if (event) {
    const ref = {
      apiVersion: API_VERSION,
      kind: 'TrainingJob',
      name: job.metadata.name ?? '',
      namespace: job.metadata.namespace,
      uid: job.metadata.uid,
    };
    const emit = event.type === 'Warning' ? deps.events.warning : deps.events.normal;
    await emit.call(deps.events, ref, event.reason, 'Plan', event.note);
  }
}

/**
 * A batch Job's admission goes to its ledger (renters can edit their Jobs, not the operator's namespace), its
 * Event to the Job.
 */
async function writeBatchAdmission(
  deps: FleetDeps,
  job: TrainingJob,
  status: AdmissionStatus,
  now: Date,
  warning?: { reason: string; note: string },
): Promise<void> {
  const ns = job.metadata.namespace ?? '';
  const name = job.metadata.name ?? '';
  const written = await writeLedger(
    deps.client,
    deps.ledgerNamespace ?? '',
    { namespace: ns, name, uid: job.metadata.uid ?? '' },
    { [LEDGER_ADMISSION]: JSON.stringify(status) },
    // Written only over the ledger it was planned from (two plans must never both admit onto a node).
    { fieldManager: PLANNER_MANAGER, resourceVersion: job.metadata.resourceVersion },
  );
  deps.expectations.expect('BatchJobLedger', jobKey(job), written.metadata?.resourceVersion, now.getTime());
  observeAdmission(deps.metrics, job, status, now.getTime());
  const event = warning ? { type: 'Warning' as const, ...warning } : admissionEvent(job, status);
  if (event) {
    const ref = { apiVersion: 'batch/v1', kind: 'Job', name, namespace: ns, uid: job.metadata.uid };
    const emit = event.type === 'Warning' ? deps.events.warning : deps.events.normal;
    await emit.call(deps.events, ref, event.reason, 'Plan', event.note);
  }
}

/**
 * How a node's target annotations differ from the plan: `target` (mode or mining GPUs, or no reason yet:
 * written now), `reason` (only whether it is held for an unknown yield, or a first target that is such a hold:
 * written once settled), or `none`.
 * The reason shown is the one the node was sent to its target for; the planner's wording of why it stays
 * (prices move, jobs come and go on a shared node) is in the FleetPolicy's and jobs' status, not rewritten
 * on every node.
 */
export function targetChange(
  node: V1Node,
  p: NodePlan,
  policy: Parameters<typeof nodeState>[1],
  draining = false,
): 'target' | 'reason' | 'none' {
  const st = nodeState(node, policy);
  // A node's first target waits as long for a yield not known yet (at start the pools' first prices follow
  // within a second: the reason given is then the real one, not a hold rewritten soon after).
  if (st.target === undefined && isHeld(p.reason)) return 'reason';
  if (st.target !== p.mode || st.targetMiningGpus !== p.miningGpus || st.targetReason === undefined)
    return 'target';
  // While a node drains towards its target, the reason it was sent there stays the one shown.
  if (draining) return 'none';
  return isHeld(st.targetReason) === isHeld(p.reason) ? 'none' : 'reason';
}

const isHeld = (reason: string): boolean => reason.includes(HELD_FOR_UNKNOWN_YIELD);

const clip = (s: string): string => truncateUtf8(s, ANNOTATION_MAX_BYTES);

async function writeTarget(
  deps: FleetDeps,
  node: V1Node,
  p: NodePlan,
  policy: Parameters<typeof nodeState>[1],
  clock: Clock,
  signal: AbortSignal,
): Promise<void> {
  const before = nodeState(node, policy);
  const name = node.metadata?.name ?? '';
  const written = await apply(
    deps.client,
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        resourceVersion: node.metadata?.resourceVersion,
        annotations: {
          [TARGET_MODE]: p.mode,
          [TARGET_REASON]: clip(p.reason),
          [TARGET_MINING_GPUS]: String(p.miningGpus),
        },
      },
    },
    { fieldManager: PLANNER_MANAGER, force: true, signal },
  );
  deps.expectations.expect('Node', name, written.metadata.resourceVersion, clock.now());
  // A node's first target (a new node, or a first start) is no switch: logged, not an Event.
  if (before.target === undefined) {
    deps.logger?.debug({ node: name, to: p.mode, reason: p.reason }, 'node target set');
  } else if (before.target !== p.mode) {
    // No Event here: the node reconciler's own (DrainStarted, ModeChanged) names the same reason.
    const from = before.target;
    deps.logger?.info({ node: name, from, to: p.mode, reason: p.reason }, 'node target changed');
  }
}

async function writePolicyStatus(
  deps: FleetDeps,
  policy: FleetPolicy,
  view: SnapshotResult,
  decided: Plan,
  dryRun: boolean,
  now: number,
): Promise<void> {
  const counts = { mining: 0, draining: 0, training: 0, idle: 0 };
  for (const n of view.snapshot.nodes) counts[n.mode]++;
  const modeOf = new Map(view.snapshot.nodes.map((n) => [n.name, n.mode]));
  const actions = decided.nodes
    .filter((p) => p.changed && modeOf.get(p.node) !== p.mode)
    .slice(0, 100)
    .map((p) => ({ node: p.node, from: modeOf.get(p.node) ?? 'idle', to: p.mode, reason: clip(p.reason) }));
  const gen = policy.metadata.generation;
  const conditions = mergeConditions(
    policy.status?.conditions,
    [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Planning',
        message: `planning ${view.snapshot.nodes.length} GPU nodes`,
        observedGeneration: gen,
      },
      dryRun
        ? {
            type: 'DryRun',
            status: 'True',
            reason: 'DryRun',
            message: 'plans are reported, not carried out',
            observedGeneration: gen,
          }
        : { type: 'DryRun', status: 'False', reason: 'Acting', message: '', observedGeneration: gen },
    ],
    new Date(now),
  );
  const desired = {
    ...(gen !== undefined ? { observedGeneration: gen } : {}),
    conditions,
    nodesByMode: counts,
    plannedActions: actions,
  };
  const current = policy.status ?? {};
  const { lastPlanTime: _t, ...rest } = current as typeof current & { lastPlanTime?: string };
  // lastPlanTime alone does not justify a write; it is refreshed with any other change.
  if (statusEqual(rest, desired)) return;
  await apply(
    deps.client,
    {
      apiVersion: API_VERSION,
      kind: 'FleetPolicy',
      metadata: { name: policy.metadata.name ?? 'default' },
      status: { ...desired, lastPlanTime: rfc3339(new Date(now)) },
    } as KubernetesObject,
    { fieldManager: PLANNER_MANAGER, force: true, subresource: 'status' },
  );
}

/** Gauges and revenue counters from the snapshot and the plan. */
function observe(
  deps: FleetDeps,
  view: SnapshotResult,
  policy: FleetPolicySpec,
  now: number,
  lastAt: number | undefined,
): void {
  const m = deps.metrics;
  if (!m) return;
  const counts: Record<string, { nodes: number; gpus: number }> = {};
  for (const n of view.snapshot.nodes) {
    const c = (counts[n.mode] ??= { nodes: 0, gpus: 0 });
    c.nodes++;
    c.gpus += n.gpus;
  }
  setModeGauges(m, counts);
  m.trainingBid.reset();
  for (const j of view.snapshot.jobs) {
    const [job_namespace = '', training_job = ''] = j.key.replace(/^job\.batch\//, '').split('/');
    m.trainingBid.set({ job_namespace, training_job }, j.bidUsdPerGpuHour);
  }
  setPendingGauges(m, view.jobs.values(), now);
  m.drainsPastTimeout.set(drainsPastTimeout(view, policy, now));
  if (lastAt === undefined) return;
  const hours = Math.max(0, now - lastAt) / 3_600_000;
  const yieldOf = new Map<string, number>();
  for (const pool of view.snapshot.pools)
    for (const p of pool.products)
      if (p.miningUsdPerGpuHour !== null) yieldOf.set(`${pool.name}|${p.product}`, p.miningUsdPerGpuHour);
  let mining = 0;
  for (const n of view.snapshot.nodes) {
    const y = n.pool === undefined ? undefined : yieldOf.get(`${n.pool}|${n.product}`);
    if (y !== undefined && y > 0) mining += y * n.miningGpus * hours;
  }
  let training = 0;
  for (const j of view.snapshot.jobs)
    if (j.state === 'running') training += j.bidUsdPerGpuHour * j.replicas * j.gpusPerReplica * hours;
  if (mining > 0) m.revenue.inc({ mode: 'mining' }, mining);
  if (training > 0) m.revenue.inc({ mode: 'training' }, training);
}

/** Draining nodes whose drain started longer ago than the policy's drain timeout (stalled, whatever the policy). */
export function drainsPastTimeout(
  view: Pick<SnapshotResult, 'nodes'>,
  policy: FleetPolicySpec,
  now: number,
): number {
  let n = 0;
  for (const node of view.nodes.values()) {
    const st = nodeState(node, policy);
    if (st.mode !== 'draining' || st.drainStartedMs === undefined) continue;
    if (now - st.drainStartedMs > policy.drainTimeoutSeconds * 1000) n++;
  }
  return n;
}

/** When to plan again without an event: the next end of a dwell or of a minimum runtime, at most REPLAN_MS. */
function nextPlanMs(view: SnapshotResult, now: number, spec: FleetPolicySpec): number {
  let next = REPLAN_MS;
  const dwellMs = view.snapshot.policy.minDwellSeconds * 1000;
  for (const n of view.snapshot.nodes) {
    const left = n.modeSinceMs + dwellMs - now;
    if (left > 0) next = Math.min(next, left + 50);
  }
  for (const j of view.snapshot.jobs) {
    if (j.state !== 'running' || j.tier !== 'Interruptible') continue;
    const left = (j.minRuntimeSeconds - j.runtimeSeconds) * 1000;
    if (left > 0) next = Math.min(next, left + 1000);
  }
  // Start deadlines and the ends of start backoffs are kept to the second, not to the next 30 s tick.
  for (const j of view.snapshot.jobs) {
    if (j.notBeforeMs !== undefined && j.notBeforeMs > now) next = Math.min(next, j.notBeforeMs - now + 50);
  }
  for (const { job, phase } of view.jobs.values()) {
    if (phase !== 'admitted') continue;
    const deadline = startDeadlineMs(job, spec);
    if (deadline !== undefined && deadline > now) next = Math.min(next, deadline - now + 50);
  }
  return Math.max(100, next);
}

async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) await fn(items[i++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function aggregate(what: string, errors: unknown[]): Error {
  const first = errors[0];
  const text = first instanceof Error ? first.message : String(first);
  return new Error(`${errors.length} ${what} write(s) failed, first: ${text}`, { cause: first });
}
