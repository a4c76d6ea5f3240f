/**
 * Names of the batch/v1 Job integration. A renter opts a Job in with the bid annotation; everything else the
 * operator writes on the Job is for display, never read back (renters can edit their Jobs' metadata).
 */

/** Set by the renter: what they pay per GPU-hour (decimal string). Its presence opts the Job in. */
export const BID_ANNOTATION = 'rigshift.io/bid-usd-per-gpu-hour';
export const TIER_ANNOTATION = 'rigshift.io/tier';
export const MIN_RUNTIME_ANNOTATION = 'rigshift.io/min-runtime-seconds';
export const GRACE_ANNOTATION = 'rigshift.io/checkpoint-grace-period-seconds';

/** Written by the operator on the Job for kubectl users (label: `kubectl get jobs -L rigshift.io/state`). */
export const STATE_LABEL = 'rigshift.io/state';
export const STATE_ANNOTATION = 'rigshift.io/state';
export const MESSAGE_ANNOTATION = 'rigshift.io/message';
export const NODES_ANNOTATION = 'rigshift.io/assigned-nodes';
export const GPU_HOURS_ANNOTATION = 'rigshift.io/gpu-hours';
export const EARNED_ANNOTATION = 'rigshift.io/earned-usd';
export const PREEMPTIONS_ANNOTATION = 'rigshift.io/preemptions';

/** Planner keys of batch Jobs: distinct from TrainingJobs' `namespace/name`. */
export const BATCH_KEY_PREFIX = 'job.batch/';

/** The ledger: one ConfigMap per opted-in Job in the operator's namespace, where renters cannot write. */
export const LEDGER_LABEL = 'rigshift.io/ledger';
export const LEDGER_LABEL_VALUE = 'batch-job';
export const LEDGER_JOB_NAMESPACE = 'rigshift.io/job-namespace';
export const LEDGER_JOB_NAME = 'rigshift.io/job-name';
export const LEDGER_JOB_UID = 'rigshift.io/job-uid';
/** Ledger data keys, each owned by one field manager. */
export const LEDGER_ADMISSION = 'admission';
export const LEDGER_PROGRESS = 'progress';
export const LEDGER_ORIGINAL = 'original-scheduling';

/** Template annotations carrying the rendezvous of an Indexed Job (env through the downward API). */
export const RENDEZVOUS_PREFIX = 'rigshift.io/';
/** Set on every pod of an Indexed Job by the Job controller: the replica's rank. */
export const COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';

export function batchKey(namespace: string, name: string): string {
  return `${BATCH_KEY_PREFIX}${namespace}/${name}`;
}

export function isBatchKey(key: string): boolean {
  return key.startsWith(BATCH_KEY_PREFIX);
}

/** `job.batch/ns/name` → `ns/name`. */
export function batchJobRef(key: string): string {
  return key.slice(BATCH_KEY_PREFIX.length);
}

export function ledgerName(uid: string): string {
  return `rigshift-job-${uid}`;
}
