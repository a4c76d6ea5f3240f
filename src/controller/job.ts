import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { API_VERSION, findCondition, type TrainingJob } from '../api/v1alpha1/index.js';
import { plannerSpoke } from './admission.js';
import { apply } from '../kube/apply.js';
import { systemClock, type Clock } from '../kube/clock.js';
import type { KubeClient } from '../kube/client.js';
import { truncateUtf8, type EventRecorder } from '../kube/events.js';
import { Kinds, resourcePath } from '../kube/resources.js';
import { ApiError, isAlreadyExists, isConflict, isNotFound } from '../kube/rest.js';
import { mergeConditions } from '../kube/status.js';
import { splitKey, type ReconcileFn, type ReconcileResult } from '../kube/workqueue.js';
import type { OperatorMetrics } from '../kube/metrics.js';
import type { Logger } from '../log.js';
import type { Caches, Parsed } from './caches.js';
import { observeStart } from './job-metrics.js';
import { FIELD_MANAGER, FINALIZER, TRAINING_JOB_LABEL } from './labels.js';
import { nodeGpuResource, nodeState } from './nodes.js';
import { policyInForce } from './policy.js';
import { buildTrainingPod, isManaged, isTerminal, isTerminating, jobLabelValue } from './pods.js';
import { accrualAtDeletion, jobProgress, progressUpToDate, runOf, type ProgressStatus } from './progress.js';
import { ensureRendezvousService, needsService, type ServiceState } from './rendezvous/index.js';
import { assignedNodes, jobPhase } from './snapshot.js';
import { usageRecorded } from './usage/reconciler.js';

/** How long a job just admitted onto switching nodes goes without its Admitted state written. */
export const ADMITTED_STATE_DELAY_MS = 2000;
/** A refused replica is created again this soon (the quota or policy may change). */
const REFUSED_RETRY_MS = 10_000;
/** A job whose Service name is taken looks again this soon (an old Service is being garbage-collected). */
const SERVICE_RETRY_MS = 2_000;

function isRefusal(err: unknown): err is ApiError {
  return err instanceof ApiError && [400, 403, 422].includes(err.statusCode);
}

/**
 * Milliseconds until a finished job's ttlSecondsAfterFinished runs out (≤ 0: now), from status.endTime (else
 * when its Succeeded or Failed condition became True); undefined without a TTL or an end time.
 */
export function ttlRemainingMs(job: TrainingJob, nowMs: number): number | undefined {
  const ttl = job.spec.ttlSecondsAfterFinished;
  if (ttl === undefined) return undefined;
  const ended = (job.status?.conditions ?? []).find(
    (c) => (c.type === 'Succeeded' || c.type === 'Failed') && c.status === 'True',
  );
  const at = Date.parse(job.status?.endTime ?? ended?.lastTransitionTime ?? '');
  if (Number.isNaN(at)) return undefined;
  return at + ttl * 1000 - nowMs;
}

export interface JobDeps {
  client: Pick<KubeClient, 'rest' | 'mapper'>;
  caches: Caches;
  parsed: Parsed;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  dryRun?: boolean;
  clock?: Clock;
  logger?: Logger | undefined;
  metrics?: OperatorMetrics | undefined;
  /** Asks for the namespace's UsageRecord to be brought up to date (a deleted job waits for its line). */
  recordUsage?: (namespace: string) => void;
}

/** A deleted job whose usage cannot be recorded this long lets go anyway, with a Warning naming its usage. */
export const USAGE_RECORD_DEADLINE_MS = 120_000;
/** While it waits, the deleted job is looked at again this often (and on every UsageRecord event). */
const USAGE_RECORD_RETRY_MS = 1000;

/** Pods of a job: the operator's, labelled with the job, owned by this incarnation of it. */
export function podsOfJob(pods: readonly V1Pod[], job: TrainingJob): V1Pod[] {
  const label = jobLabelValue(job.metadata.name ?? '');
  return pods.filter(
    (p) =>
      isManaged(p) &&
      p.metadata?.labels?.[TRAINING_JOB_LABEL] === label &&
      (p.metadata.ownerReferences ?? []).some((o) => o.kind === 'TrainingJob' && o.uid === job.metadata.uid),
  );
}

/**
 * The TrainingJob reconciler, keyed `namespace/name`: a finalizer so deletion cleans up; the gang's pods once
 * the job is admitted and all its nodes train; Running, Succeeded and Failed; GPU-hours and earnings; stopping
 * pods (with the checkpoint grace period) when the job is preempted, suspended, over its deadline or deleted.
 */
export function createJobReconciler(deps: JobDeps): ReconcileFn {
  const clock = deps.clock ?? systemClock;
  const log = deps.logger;

  return async (key, signal): Promise<ReconcileResult | void> => {
    const { namespace, name } = splitKey(key);
    if (!namespace) return;
    const obj = deps.caches.jobs.get(namespace, name);
    if (!obj) return;
    const job = deps.parsed.job(obj);
    if (!job) return;
    // No valid policy: no pod is created or stopped, not even for a deleted job (the fleet reconciler says why).
    const policy = policyInForce(deps.caches.policy());
    if (!policy) return;
    const dryRun = Boolean(deps.dryRun) || policy.dryRun;
    const grouped = deps.caches.byNode?.podsOfJob;
    const pods = podsOfJob(grouped ? grouped.get(key) : deps.caches.managedPods.list(namespace), job);
    const phase = jobPhase(job);
    const ref = { apiVersion: API_VERSION, kind: 'TrainingJob', name, namespace, uid: job.metadata.uid };
    const finalizers = job.metadata.finalizers ?? [];

    if (phase === 'deleting') {
      if (!finalizers.includes(FINALIZER)) return;
      const live = pods.filter((p) => !isTerminal(p) && !isTerminating(p));
      for (const p of live) await stopPod(p, job.spec.checkpointGracePeriodSeconds);
      if (live.length > 0) {
        await deps.events.normal(
          ref,
          'PodsStopped',
          'Cleanup',
          `job deleted: stopping ${live.length} pod(s), then releasing its nodes`,
        );
      }
      // A running job is billed up to its deletion (conditional on the status it was computed from).
      const last = accrualAtDeletion(job, pods, clock.now());
      if (last) {
        try {
          await deps.client.rest.request({
            method: 'PATCH',
            path: resourcePath(Kinds.TrainingJob, { namespace, name, subresource: 'status' }),
            contentType: 'application/merge-patch+json',
            body: { metadata: { resourceVersion: job.metadata.resourceVersion }, status: last },
            query: { fieldManager: FIELD_MANAGER },
            signal,
          });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        // The updated job comes back through the cache; its usage is recorded from there.
        return;
      }
      // Its usage outlives it: the finalizer stays until the namespace's UsageRecord holds the job's totals.
      const records = deps.caches.usageRecords;
      if (records && !usageRecorded(job, records)) {
        const deletedMs = Date.parse(job.metadata.deletionTimestamp ?? '');
        const waitedMs = Number.isNaN(deletedMs) ? 0 : clock.now() - deletedMs;
        if (waitedMs < USAGE_RECORD_DEADLINE_MS) {
          deps.recordUsage?.(namespace);
          return { requeueAfterMs: USAGE_RECORD_RETRY_MS };
        }
        const used = `${job.status?.gpuHours ?? '0'} GPU-hours, ${job.status?.earnedUsd ?? '0'} USD`;
        await deps.events.warning(
          ref,
          'UsageNotRecorded',
          'Cleanup',
          `job deleted but its usage (${used}) could not be written to its namespace's UsageRecord within ${USAGE_RECORD_DEADLINE_MS / 1000} s; releasing it anyway`,
        );
        log?.error(
          { job: key, gpuHours: job.status?.gpuHours, earnedUsd: job.status?.earnedUsd },
          'usage not recorded',
        );
      }
      await setFinalizers(
        job,
        finalizers.filter((f) => f !== FINALIZER),
      );
      log?.info({ job: key, pods: live.length }, 'job deleted; pods stopped and finalizer removed');
      return;
    }
    if (dryRun) return;
    if (!finalizers.includes(FINALIZER)) {
      // Apply-time data only: the next reconcile sees the finalizer through the cache.
      await setFinalizers(job, [...finalizers, FINALIZER]);
      return;
    }

    // The planner speaks first (its Queued or Admitted condition): a status written before would only race
    // its admission (a 409 and a second plan) and be rewritten at once.
    if (!plannerSpoke(job)) return;

    // A finished job past its ttlSecondsAfterFinished is deleted (the deletion path above stops its pods).
    const ttlLeftMs = phase === 'ended' ? ttlRemainingMs(job, clock.now()) : undefined;
    if (ttlLeftMs !== undefined && ttlLeftMs <= 0) {
      await deps.events.normal(
        ref,
        'Expired',
        'Delete',
        `deleting the job ${job.spec.ttlSecondsAfterFinished} s after it ended (ttlSecondsAfterFinished)`,
      );
      await deleteJob(job);
      log?.info({ job: key, ttlSeconds: job.spec.ttlSecondsAfterFinished }, 'finished job expired; deleted');
      return;
    }

    const assigned = assignedNodes(job) ?? [];
    const nodesReady =
      assigned.length > 0 &&
      assigned.every((n) => {
        const node = deps.caches.nodes.get(undefined, n);
        return node !== undefined && nodeState(node, policy).mode === 'training';
      });
    const progress = jobProgress({ job, phase, pods, nodesReady, nowMs: clock.now() });
    // Just admitted, its nodes still switching: its state is written once they train (with its pods) or after
    // ADMITTED_STATE_DELAY_MS, not in between (on idle nodes that is a few hundred ms: a write saved per job).
    const admitted = findCondition(job.status?.conditions, 'Admitted');
    const admittedAt = admitted?.status === 'True' ? Date.parse(admitted.lastTransitionTime) : NaN;
    const sinceAdmittedMs = clock.now() - admittedAt;
    if (
      phase === 'admitted' &&
      !nodesReady &&
      job.status?.state !== 'Admitted' &&
      sinceAdmittedMs < ADMITTED_STATE_DELAY_MS &&
      progress.stop.length === 0 &&
      progress.events.length === 0
    ) {
      return { requeueAfterMs: ADMITTED_STATE_DELAY_MS - sinceAdmittedMs };
    }

    for (const p of progress.stop) await stopPod(p, job.spec.checkpointGracePeriodSeconds);
    const refused: { replica: number; name: string; message: string }[] = [];
    // The headless Service first: the replicas' hostnames resolve only under it.
    let service: ServiceState | undefined;
    if (progress.create.length > 0 && needsService(job)) {
      service = await ensureRendezvousService(deps.client.rest, job, signal);
      if (service.ready && service.created) log?.info({ job: key }, 'rendezvous service created');
    }
    if (service && !service.ready) {
      const { reason, message } = service;
      const before = job.status?.conditions?.find((c) => c.type === 'Running');
      progress.status.conditions = progress.status.conditions.map((c) =>
        c.type === 'Running' ? { ...c, status: 'False', reason, message } : c,
      );
      if (before?.reason !== reason || before.message !== message)
        progress.events.push({ type: 'Warning', reason, note: message });
      progress.requeueAfterMs = Math.min(progress.requeueAfterMs ?? SERVICE_RETRY_MS, SERVICE_RETRY_MS);
    } else if (progress.create.length > 0) {
      await Promise.all(
        progress.create.map(async (c) => {
          const onNode = deps.caches.nodes.get(undefined, c.node);
          const resource = onNode
            ? nodeGpuResource(onNode, deps.parsed.poolsOf(deps.caches.pools))
            : undefined;
          const pod = buildTrainingPod(job, runOf(job), c.replica, c.node, policy, resource);
          try {
            await deps.client.rest.request({
              method: 'POST',
              path: resourcePath(Kinds.Pod, { namespace }),
              body: pod,
              query: { fieldManager: FIELD_MANAGER },
              signal,
            });
          } catch (err) {
            if (isAlreadyExists(err)) return;
            // Refused by the API server (quota, admission webhook or policy, Pod Security): said on the job,
            // retried shortly; the start deadline rolls the gang back if it never passes.
            if (isRefusal(err))
              refused.push({ replica: c.replica, name: c.name, message: err.serverMessage });
            else throw err;
          }
        }),
      );
      log?.info(
        { job: key, pods: progress.create.map((c) => c.name), refused: refused.length },
        'training pods created',
      );
    }
    if (refused.length > 0) {
      const first = refused.sort((a, b) => a.replica - b.replica)[0] as (typeof refused)[number];
      const message = truncateUtf8(
        `replica ${first.replica} (pod ${first.name}) refused by the API server: ${first.message}`,
        1024,
      );
      const before = job.status?.conditions?.find((c) => c.type === 'Running');
      progress.status.conditions = progress.status.conditions.map((c) =>
        c.type === 'Running' ? { ...c, status: 'False', reason: 'PodRefused', message } : c,
      );
      if (before?.reason !== 'PodRefused' || before.message !== message)
        progress.events.push({ type: 'Warning', reason: 'PodRefused', note: message });
      progress.requeueAfterMs = Math.min(progress.requeueAfterMs ?? REFUSED_RETRY_MS, REFUSED_RETRY_MS);
    }
    await writeStatus(job, progress.status);
    for (const e of progress.events) {
      if (e.type === 'Warning') await deps.events.warning(ref, e.reason, 'Run', e.note);
      else await deps.events.normal(ref, e.reason, 'Run', e.note);
    }
    if (ttlLeftMs !== undefined) {
      progress.requeueAfterMs = Math.min(progress.requeueAfterMs ?? ttlLeftMs, ttlLeftMs);
    }
    return progress.requeueAfterMs === undefined ? undefined : { requeueAfterMs: progress.requeueAfterMs };

    async function stopPod(pod: V1Pod, graceSeconds: number): Promise<void> {
      try {
        await deps.client.rest.request({
          method: 'DELETE',
          path: resourcePath(Kinds.Pod, { namespace: pod.metadata?.namespace, name: pod.metadata?.name }),
          body: {
            apiVersion: 'v1',
            kind: 'DeleteOptions',
            gracePeriodSeconds: graceSeconds,
            preconditions: { uid: pod.metadata?.uid },
          },
          signal,
        });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }

    async function deleteJob(j: TrainingJob): Promise<void> {
      try {
        await deps.client.rest.request({
          method: 'DELETE',
          path: resourcePath(Kinds.TrainingJob, { namespace, name }),
          // Only this incarnation: a job recreated under the same name is not the one that expired.
          body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: j.metadata.uid } },
          signal,
        });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }

    async function setFinalizers(j: TrainingJob, list: string[]): Promise<void> {
      try {
        await deps.client.rest.request({
          method: 'PATCH',
          path: resourcePath(Kinds.TrainingJob, { namespace, name }),
          contentType: 'application/merge-patch+json',
          // The resourceVersion makes it conditional: no finalizer list is ever written over a newer one.
          body: { metadata: { resourceVersion: j.metadata.resourceVersion, finalizers: list } },
          signal,
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }

    async function writeStatus(j: TrainingJob, desired: ProgressStatus): Promise<void> {
      if (progressUpToDate(j, desired)) return;
      const status = {
        ...desired,
        conditions: mergeConditions(j.status?.conditions, desired.conditions, new Date(clock.now())),
      };
      try {
        await apply(
          deps.client,
          {
            apiVersion: API_VERSION,
            kind: 'TrainingJob',
            // Accrual adds time since lastAccrualTime: never over a status newer than the one it was computed from.
            metadata: { name, namespace, resourceVersion: j.metadata.resourceVersion },
            status,
          } as KubernetesObject,
          { fieldManager: FIELD_MANAGER, force: true, subresource: 'status', signal },
        );
        observeStart(deps.metrics, j, status, clock.now());
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
    }
  };
}
