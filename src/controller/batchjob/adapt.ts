import type { V1ConfigMap, V1Job, V1PodSpec } from '@kubernetes/client-node';
import { parseTrainingJob, type TrainingJob } from '../../api/v1alpha1/index.js';
import type { Condition } from '../../kube/status.js';
import { podGpus } from '../pool-keys.js';
import {
  BID_ANNOTATION,
  GRACE_ANNOTATION,
  LEDGER_ADMISSION,
  LEDGER_ORIGINAL,
  LEDGER_PROGRESS,
  MIN_RUNTIME_ANNOTATION,
  TIER_ANNOTATION,
} from './keys.js';

/**
 * A renter's batch/v1 Job seen as the planner sees a TrainingJob (pure). The Job says what is asked (its
 * parallelism, its pod template's GPUs, the bid annotations); the ledger (a ConfigMap in the operator's
 * namespace, which renters cannot write) holds what the operator decided and measured.
 */

/** The pod template's scheduling fields as the renter wrote them, restored when the Job is suspended again. */
export interface OriginalScheduling {
  nodeSelector?: Record<string, string>;
  tolerations?: NonNullable<V1PodSpec['tolerations']>;
  affinity?: V1PodSpec['affinity'];
}

/** The planner's part (as TrainingJob status: Queued, Admitted, Preempted, assignedNodes...). */
export interface LedgerAdmission {
  conditions?: Condition[];
  assignedNodes?: string[];
  waitingReason?: string;
  preemptions?: number;
  startFailures?: number;
  retryAfterTime?: string;
}

/** The Job reconciler's part: Running, times and earnings, and the tier the Job was first queued with. */
export interface LedgerProgress {
  conditions?: Condition[];
  tier?: string;
  startTime?: string;
  endTime?: string;
  gpuHours?: string;
  earnedUsd?: string;
  lastAccrualTime?: string;
}

export interface Ledger {
  /** The ConfigMap's resourceVersion (writes are conditional on it); undefined: no ledger yet. */
  resourceVersion?: string;
  admission?: LedgerAdmission;
  progress?: LedgerProgress;
  original?: OriginalScheduling;
}

function json<T>(text: string | undefined): T | undefined {
  if (!text) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}

export function readLedger(cm: V1ConfigMap | undefined): Ledger {
  if (!cm) return {};
  const d = cm.data ?? {};
  const l: Ledger = {};
  if (cm.metadata?.resourceVersion) l.resourceVersion = cm.metadata.resourceVersion;
  const admission = json<LedgerAdmission>(d[LEDGER_ADMISSION]);
  const progress = json<LedgerProgress>(d[LEDGER_PROGRESS]);
  const original = json<OriginalScheduling>(d[LEDGER_ORIGINAL]);
  if (admission) l.admission = admission;
  if (progress) l.progress = progress;
  if (original) l.original = original;
  return l;
}

/** Has the renter opted this Job in (the bid annotation)? Jobs without it are never touched. */
export function optedIn(job: V1Job): boolean {
  return job.metadata?.annotations?.[BID_ANNOTATION] !== undefined;
}

/** The Job's own terminal condition (written by the Job controller), if any. */
export function jobFinished(job: V1Job): { type: 'Complete' | 'Failed'; message: string } | undefined {
  for (const c of job.status?.conditions ?? []) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')
      return { type: c.type, message: c.message ?? c.reason ?? '' };
  }
  return undefined;
}

export type Adapted =
  | { ok: true; view: TrainingJob }
  | { ok: false; reason: 'NotSuspended' | 'BidRemoved' | 'InvalidJob'; message: string };

const FIELD_NAMES: [RegExp, string][] = [
  [/spec\.bidUsdPerGpuHour/g, `annotation ${BID_ANNOTATION}`],
  [/spec\.tier/g, `annotation ${TIER_ANNOTATION}`],
  [/spec\.minRuntimeSeconds/g, `annotation ${MIN_RUNTIME_ANNOTATION}`],
  [/spec\.checkpointGracePeriodSeconds/g, `annotation ${GRACE_ANNOTATION}`],
  [/spec\.replicas/g, 'spec.parallelism'],
  [/spec\.gpusPerReplica/g, 'the GPUs of spec.template'],
];

function intAnnotation(v: string | undefined): number | string | undefined {
  if (v === undefined) return undefined;
  return /^\d{1,9}$/.test(v.trim()) ? Number(v.trim()) : v;
}

/**
 * The Job as a TrainingJob (kind `Job`, so its planner key is `job.batch/ns/name`), or why it is not one.
 * The view's resourceVersion is the ledger's: the planner's writes go there.
 */
export function adaptBatchJob(job: V1Job, ledger: Ledger): Adapted {
  const a = job.metadata?.annotations ?? {};
  const bid = a[BID_ANNOTATION];
  const known = ledger.admission !== undefined || ledger.progress !== undefined;
  if (bid === undefined) {
    return {
      ok: false,
      reason: 'BidRemoved',
      message: `annotation ${BID_ANNOTATION} was removed: the Job is held suspended until it is back`,
    };
  }
  if (!job.spec?.suspend && !known) {
    return {
      ok: false,
      reason: 'NotSuspended',
      message:
        'created without spec.suspend: true, so it started outside the market; rigshift manages a Job ' +
        'only if it is created suspended',
    };
  }
  const tmpl = job.spec?.template?.spec;
  // The renter's selector: as saved before the operator first pinned the template, else as found less the
  // operator's own keys (the cache may show the pinned template before the ledger that saved the original).
  const renter = ledger.original ?? {
    nodeSelector: Object.fromEntries(
      Object.entries(tmpl?.nodeSelector ?? {}).filter(([k]) => !k.startsWith('rigshift.io/')),
    ),
  };
  const parallelism = job.spec?.parallelism ?? 1;
  const completions = job.spec?.completions;
  const replicas =
    completions === undefined || completions === null ? parallelism : Math.min(parallelism, completions);
  const spec: Record<string, unknown> = {
    image: tmpl?.containers?.[0]?.image ?? 'unknown',
    replicas,
    gpusPerReplica: podGpus({ spec: tmpl ?? { containers: [] } }),
    bidUsdPerGpuHour: bid,
    // The tier the Job was first queued with: changing the annotation later cannot dodge a preemption.
    tier: ledger.progress?.tier ?? a[TIER_ANNOTATION],
    minRuntimeSeconds: intAnnotation(a[MIN_RUNTIME_ANNOTATION]),
    checkpointGracePeriodSeconds: intAnnotation(a[GRACE_ANNOTATION]),
  };
  if (renter.nodeSelector && Object.keys(renter.nodeSelector).length > 0)
    spec.nodeSelector = renter.nodeSelector;
  const conditions = [...(ledger.admission?.conditions ?? []), ...(ledger.progress?.conditions ?? [])];
  const finished = jobFinished(job);
  // The Job controller's verdict is final (and renters cannot write Job status).
  const terminal = finished
    ? [
        {
          type: finished.type === 'Complete' ? 'Succeeded' : 'Failed',
          status: 'True',
          reason: finished.type === 'Complete' ? 'Completed' : 'JobFailed',
          message: finished.message,
          lastTransitionTime: job.status?.completionTime ?? new Date(0).toISOString(),
        },
      ]
    : [];
  const { admission, progress } = ledger;
  const status: Record<string, unknown> = {
    conditions: [...conditions.filter((c) => !terminal.some((t) => t.type === c.type)), ...terminal],
    ...(admission?.assignedNodes && { assignedNodes: admission.assignedNodes }),
    ...(admission?.waitingReason && { waitingReason: admission.waitingReason }),
    ...(admission?.preemptions !== undefined && { preemptions: admission.preemptions }),
    ...(admission?.startFailures !== undefined && { startFailures: admission.startFailures }),
    ...(admission?.retryAfterTime && { retryAfterTime: admission.retryAfterTime }),
    ...(progress?.startTime && { startTime: progress.startTime }),
    ...(progress?.endTime && { endTime: progress.endTime }),
    ...(progress?.gpuHours && { gpuHours: progress.gpuHours }),
    ...(progress?.earnedUsd && { earnedUsd: progress.earnedUsd }),
    ...(progress?.lastAccrualTime && { lastAccrualTime: progress.lastAccrualTime }),
  };
  if (spec.gpusPerReplica === 0) {
    return { ok: false, reason: 'InvalidJob', message: 'the pod template requests no GPU: nothing to rent' };
  }
  const m = job.metadata ?? {};
  const parsed = parseTrainingJob({
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      ...(ledger.resourceVersion && { resourceVersion: ledger.resourceVersion }),
      ...(m.generation !== undefined && { generation: m.generation }),
      ...(m.creationTimestamp && { creationTimestamp: toTime(m.creationTimestamp) }),
      ...(m.deletionTimestamp && { deletionTimestamp: toTime(m.deletionTimestamp) }),
    },
    spec,
    status,
  });
  if (!parsed.ok) {
    let message = parsed.error.replace(/^TrainingJob /, 'Job ');
    for (const [re, to] of FIELD_NAMES) message = message.replace(re, to);
    return { ok: false, reason: 'InvalidJob', message };
  }
  const view = { ...parsed.value, apiVersion: 'batch/v1', kind: 'Job' } as unknown as TrainingJob;
  return { ok: true, view };
}

/** client-node gives Dates where the API has strings. */
function toTime(t: Date | string): string {
  return typeof t === 'string' ? t : t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Is this TrainingJob-shaped object the view of a batch/v1 Job? */
export function isBatchView(job: Pick<TrainingJob, 'kind'>): boolean {
  return (job as { kind?: string }).kind === 'Job';
}

/**
 * What the Job informer keeps: opted-in Jobs whole, every other Job only its name, uid and resourceVersion (a
 * cluster's Jobs are many; the ones rigshift never touches cost a few bytes each).
 */
export function trimBatchJob(job: V1Job): V1Job {
  if (optedIn(job)) return job;
  const m = job.metadata;
  return {
    metadata: {
      name: m?.name,
      namespace: m?.namespace,
      uid: m?.uid,
      resourceVersion: m?.resourceVersion,
      ...(m?.deletionTimestamp && { deletionTimestamp: m.deletionTimestamp }),
    },
    spec: { suspend: job.spec?.suspend, template: {} },
  };
}
