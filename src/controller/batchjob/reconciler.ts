import type { V1ConfigMap, V1Job } from '@kubernetes/client-node';
import { findCondition } from '../../api/v1alpha1/index.js';
import { systemClock, type Clock } from '../../kube/clock.js';
import type { KubeClient } from '../../kube/client.js';
import { truncateUtf8, type EventRecorder, type ObjectReference } from '../../kube/events.js';
import { Kinds, resourcePath } from '../../kube/resources.js';
import { isNotFound } from '../../kube/rest.js';
import { deepEqual, type Condition } from '../../kube/status.js';
import { splitKey, type ReconcileFn, type ReconcileResult } from '../../kube/workqueue.js';
import type { Logger } from '../../log.js';
import type { Caches } from '../caches.js';
import { FIELD_MANAGER } from '../labels.js';
import { nodeState } from '../nodes.js';
import { policyInForce } from '../policy.js';
import { assignedNodes, jobPhase } from '../snapshot.js';
import {
  adaptBatchJob,
  jobFinished,
  optedIn,
  readLedger,
  type Ledger,
  type LedgerProgress,
} from './adapt.js';
import {
  EARNED_ANNOTATION,
  GPU_HOURS_ANNOTATION,
  LEDGER_JOB_UID,
  LEDGER_ORIGINAL,
  LEDGER_PROGRESS,
  MESSAGE_ANNOTATION,
  NODES_ANNOTATION,
  PREEMPTIONS_ANNOTATION,
  STATE_ANNOTATION,
  STATE_LABEL,
} from './keys.js';
import { deleteLedger, findLedger, ledgersOf, writeLedger } from './ledger.js';
import { DEFAULT_JOB_GRANTS, grantedNodes, grantValue, sameGrant, setGrant } from './grants.js';
import { batchProgress, batchState } from './progress.js';
import {
  placedScheduling,
  rendezvousAnnotations,
  schedulingIs,
  schedulingOf,
  schedulingPatch,
} from './template.js';

/** While a Job runs, its earnings are brought up to date this often. */
const RUNNING_RECHECK_MS = 30_000;

export interface BatchJobDeps {
  client: Pick<KubeClient, 'rest' | 'mapper'>;
  caches: Caches;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  /** Where the Jobs' ledgers live (the operator's namespace). */
  ledgerNamespace: string;
  /** The JobGrants the renter GPU policy reads (in the ledger namespace). */
  jobGrants?: string | undefined;
  dryRun?: boolean;
  clock?: Clock;
  logger?: Logger | undefined;
}

/**
 * The batch/v1 Job reconciler, keyed `namespace/name`. A Job opted in (bid annotation) and created suspended is
 * queued by the planner like a TrainingJob. Once admitted and every assigned node trains, its template gets
 * the training nodes' selector, affinity and toleration and it is unsuspended (the Job controller creates the
 * pods); when its admission is withdrawn (preempted, rolled back) it is suspended again (the Job controller
 * deletes the pods) and, once stopped, its template gets the renter's own fields back. Jobs without the
 * annotation and without a ledger are never written.
 */
export function createBatchJobReconciler(deps: BatchJobDeps): ReconcileFn {
  const clock = deps.clock ?? systemClock;
  const log = deps.logger;
  const ledgerNs = deps.ledgerNamespace;
  const grants = { namespace: ledgerNs, name: deps.jobGrants ?? DEFAULT_JOB_GRANTS };
  /** Grants or revokes (null) a Job's GPU pods on nodes; written only when it changes. */
  const ensureGrant = async (
    uid: string,
    nodes: readonly string[] | null,
    signal: AbortSignal,
  ): Promise<void> => {
    const have = grantedNodes(deps.caches.jobGrants, grants, uid);
    if ((nodes === null && have === undefined) || (nodes !== null && sameGrant(have, grantValue(nodes))))
      return;
    await setGrant(deps.client, grants, uid, nodes, signal);
  };

  return async (key, signal): Promise<ReconcileResult | void> => {
    const { namespace, name } = splitKey(key);
    if (!namespace) return;
    const jobNs: string = namespace;
    const job = deps.caches.batchJobs?.get(namespace, name);
    const uid = job?.metadata?.uid ?? '';
    // Ledgers of a deleted Job, or of an earlier Job of the same name, go.
    for (const old of ledgersOf(deps.caches.ledgers, namespace, name)) {
      if (old.metadata?.name === findLedger(deps.caches.ledgers, ledgerNs, uid)?.metadata?.name) continue;
      const oldUid = old.metadata?.annotations?.[LEDGER_JOB_UID];
      if (oldUid) await ensureGrant(oldUid, null, signal);
      await deleteLedger(deps.client, old, signal);
    }
    if (!job) return;
    const cm = findLedger(deps.caches.ledgers, ledgerNs, uid);
    if (!optedIn(job) && !cm) return; // never touched
    const policy = policyInForce(deps.caches.policy());
    if (!policy || deps.dryRun || policy.dryRun) return;
    if (job.metadata?.deletionTimestamp) return; // its pods go with it (garbage collector)
    const ledger = readLedger(cm);
    const ref: ObjectReference = { apiVersion: 'batch/v1', kind: 'Job', namespace, name, uid };
    const adapted = adaptBatchJob(job, ledger);
    if (!adapted.ok) {
      await ensureGrant(uid, null, signal);
      if (adapted.reason === 'BidRemoved' && !job.spec?.suspend) {
        await suspend(job);
        await deps.events.warning(ref, 'Suspended', 'Suspend', adapted.message);
        return;
      }
      if (await mirror(job, { state: 'NotAdmitted', message: adapted.message }))
        await deps.events.warning(ref, adapted.reason, 'Validate', adapted.message);
      return;
    }
    const view = adapted.view;
    const phase = jobPhase(view);
    const nodes = assignedNodes(view);
    const admitted = (phase === 'admitted' || phase === 'running') && nodes !== undefined;
    const finished = jobFinished(job);

    if (finished || !admitted) await ensureGrant(uid, null, signal);
    if (!finished) {
      if (admitted) {
        const placed = placedScheduling(ledger.original ?? schedulingOf(job.spec?.template?.spec), {
          nodes,
          modeLabelKey: policy.modeLabelKey,
          taintKey: policy.reservedTaintKey,
        });
        const ready = nodes.every((n) => {
          const node = deps.caches.nodes.get(undefined, n);
          return node !== undefined && nodeState(node, policy).mode === 'training';
        });
        // Kubernetes lets a suspended Job's template change only while status.startTime is unset; a Job that
        // ran before keeps it, so it is cleared first (as Kueue does).
        if (job.spec?.suspend && ready && job.status?.startTime) {
          await clearStartTime(job);
          return;
        }
        if (job.spec?.suspend && ready) {
          // The renter's fields first (a crash after this write restores exactly them), then the Job.
          if (!ledger.original) {
            const original = schedulingOf(job.spec.template?.spec);
            const written = await writeOwn(ledger, { [LEDGER_ORIGINAL]: JSON.stringify(original) });
            ledger.original = original;
            ledger.resourceVersion = written.metadata?.resourceVersion;
          }
          // The renter GPU policy lets the Job controller create its pods, pinned to these nodes.
          await ensureGrant(uid, nodes, signal);
          await patchJob(job, {
            spec: {
              suspend: false,
              template: {
                metadata: { annotations: rendezvousAnnotations(job, view.spec.gpusPerReplica) },
                spec: schedulingPatch(job.spec.template?.spec, placed),
              },
            },
          });
          await deps.events.normal(
            ref,
            'Unsuspended',
            'Start',
            `admitted on ${[...new Set(nodes)].join(', ')}, which now train: node selector, affinity and toleration set, Job unsuspended`,
          );
          log?.info({ job: key, nodes }, 'batch job unsuspended');
          return;
        }
        if (!job.spec?.suspend && !schedulingIs(job.spec?.template?.spec, placed)) {
          // Suspended and edited by hand while admitted: stopped, then started again on its own nodes.
          await suspend(job);
          await deps.events.warning(
            ref,
            'SchedulingChanged',
            'Suspend',
            'the pod template no longer pins the admitted training nodes: suspended, started again once pinned',
          );
          return;
        }
      } else if (!job.spec?.suspend) {
        const preempted = findCondition(view.status?.conditions, 'Preempted');
        const why =
          preempted?.status === 'True'
            ? `preempted: ${preempted.message ?? ''}`
            : (view.status?.waitingReason ?? 'not admitted');
        await suspend(job);
        await deps.events.warning(ref, 'Suspended', 'Suspend', `${why}; suspended and queued again`);
        log?.info({ job: key, why }, 'batch job suspended');
        return;
      } else if (ledger.original && !schedulingIs(job.spec.template?.spec, ledger.original)) {
        // Stopped: the renter's own scheduling fields back, so the Job is as they wrote it while it waits.
        if (job.status?.startTime) await clearStartTime(job);
        else
          await patchJob(job, {
            spec: { template: { spec: schedulingPatch(job.spec.template?.spec, ledger.original) } },
          });
        return;
      }
    }

    const progress = batchProgress({ job, view, admitted, nowMs: clock.now() });
    await writeProgress(ledger, progress);
    const shown = mergeShown(view.status?.conditions, progress);
    const state = batchState(shown, job);
    const shownType = state === 'Admitted' ? 'Admitted' : 'Running';
    const message =
      state === 'Queued' || state === 'Preempted'
        ? (view.status?.waitingReason ?? '')
        : (shown.find((c) => c.type === shownType)?.message ?? '');
    await mirror(job, {
      state,
      message,
      nodes: admitted ? (nodes ?? []).join(',') : undefined,
      gpuHours: progress.gpuHours,
      earned: progress.earnedUsd,
      preemptions: view.status?.preemptions,
    });
    if (progress.conditions?.some((c) => c.type === 'Running' && c.status === 'True'))
      return { requeueAfterMs: RUNNING_RECHECK_MS };
    return undefined;

    async function patchJob(j: V1Job, body: Record<string, unknown>): Promise<void> {
      try {
        await deps.client.rest.request({
          method: 'PATCH',
          path: resourcePath(Kinds.Job, { namespace, name }),
          contentType: 'application/merge-patch+json',
          // Conditional: never written over a Job newer than the one this was decided from.
          body: {
            ...body,
            metadata: { ...(body.metadata as object), resourceVersion: j.metadata?.resourceVersion },
          },
          query: { fieldManager: FIELD_MANAGER },
          signal,
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }

    async function clearStartTime(j: V1Job): Promise<void> {
      try {
        await deps.client.rest.request({
          method: 'PATCH',
          path: resourcePath(Kinds.Job, { namespace, name, subresource: 'status' }),
          contentType: 'application/merge-patch+json',
          body: { metadata: { resourceVersion: j.metadata?.resourceVersion }, status: { startTime: null } },
          query: { fieldManager: FIELD_MANAGER },
          signal,
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }

    async function suspend(j: V1Job): Promise<void> {
      await patchJob(j, { spec: { suspend: true } });
    }

    async function writeProgress(l: Ledger, p: LedgerProgress): Promise<void> {
      if (l.progress && deepEqual(l.progress, p)) return;
      await writeOwn(l, { [LEDGER_PROGRESS]: JSON.stringify(p) });
    }

    /**
     * The reconciler's keys of the ledger, all of them in every apply: server-side apply drops the keys a
     * manager owned and leaves out.
     */
    async function writeOwn(l: Ledger, change: Record<string, string>): Promise<V1ConfigMap> {
      const data: Record<string, string> = {};
      if (l.progress) data[LEDGER_PROGRESS] = JSON.stringify(l.progress);
      if (l.original) data[LEDGER_ORIGINAL] = JSON.stringify(l.original);
      return writeLedger(
        deps.client,
        ledgerNs,
        { namespace: jobNs, name, uid },
        { ...data, ...change },
        { fieldManager: FIELD_MANAGER, resourceVersion: l.resourceVersion, signal },
      );
    }

    /** The state on the Job for kubectl users (display only: never read back). True when it changed. */
    async function mirror(
      j: V1Job,
      s: {
        state: string;
        message: string;
        nodes?: string | undefined;
        gpuHours?: string | undefined;
        earned?: string | undefined;
        preemptions?: number | undefined;
      },
    ): Promise<boolean> {
      const want: Record<string, string | null> = {
        [STATE_ANNOTATION]: s.state,
        [MESSAGE_ANNOTATION]: truncateUtf8(s.message, 1024),
        [NODES_ANNOTATION]: s.nodes ?? null,
        [GPU_HOURS_ANNOTATION]: s.gpuHours ?? null,
        [EARNED_ANNOTATION]: s.earned ?? null,
        [PREEMPTIONS_ANNOTATION]: s.preemptions ? String(s.preemptions) : null,
      };
      const have = j.metadata?.annotations ?? {};
      const changed =
        j.metadata?.labels?.[STATE_LABEL] !== s.state ||
        Object.entries(want).some(([k, v]) => (have[k] ?? null) !== v);
      if (!changed) return false;
      await patchJob(j, { metadata: { labels: { [STATE_LABEL]: s.state }, annotations: want } });
      return true;
    }
  };
}

/** The view's conditions with the reconciler's fresh ones in place of the old. */
function mergeShown(conditions: readonly Condition[] | undefined, p: LedgerProgress): Condition[] {
  const fresh = p.conditions ?? [];
  return [...(conditions ?? []).filter((c) => !fresh.some((r) => r.type === c.type)), ...fresh];
}
