import { findCondition, type TrainingJob } from '../api/v1alpha1/index.js';
import type { OperatorMetrics } from '../kube/metrics.js';
import type { Condition } from '../kube/status.js';

/**
 * Wait-time and preemption metrics of TrainingJobs, derived from status timestamps and observed by whoever
 * writes the transition, right after the (resourceVersion-conditional) write succeeded: a transition is
 * written once, so it is counted once, across restarts and leader changes (the next process finds the new
 * status and sees no transition). Pure but for the metric calls.
 */

type JobMetrics = Pick<
  OperatorMetrics,
  | 'admissionWait'
  | 'readyWait'
  | 'preemptions'
  | 'pendingJobs'
  | 'pendingMaxWait'
  | 'jobWait'
  | 'jobPreemptions'
>;

function ms(t: string | Date | undefined): number | undefined {
  if (t === undefined) return undefined;
  const v = new Date(t as string).getTime();
  return Number.isNaN(v) ? undefined : v;
}

/** Since when a job has waited for placement: the Queued condition's transition to True, else its creation. */
export function queuedSinceMs(job: TrainingJob): number | undefined {
  const q = findCondition(job.status?.conditions, 'Queued');
  const created = ms(job.metadata.creationTimestamp);
  if (q?.status === 'True') return ms(q.lastTransitionTime) ?? created;
  return created;
}

const isTrue = (cs: readonly Condition[] | undefined, type: string): boolean =>
  cs?.some((c) => c.type === type && c.status === 'True') ?? false;

/** After the planner wrote `after` over `before`: the admission wait and new preemptions, if any. */
export function observeAdmission(
  m: JobMetrics | undefined,
  before: TrainingJob,
  after: { conditions: readonly Condition[]; preemptions?: number | undefined },
  nowMs: number,
): void {
  if (!m) return;
  const labels = { job_namespace: before.metadata.namespace ?? '' };
  if (isTrue(after.conditions, 'Admitted') && !isTrue(before.status?.conditions, 'Admitted')) {
    const since = queuedSinceMs(before);
    if (since !== undefined) m.admissionWait.observe(labels, Math.max(0, nowMs - since) / 1000);
  }
  const added = (after.preemptions ?? 0) - (before.status?.preemptions ?? 0);
  if (added > 0) m.preemptions.inc(labels, added);
}

/** After the job reconciler wrote `after` over `before`: the wait from admission to running, if it started. */
export function observeStart(
  m: JobMetrics | undefined,
  before: TrainingJob,
  after: { conditions: readonly Condition[] },
  nowMs: number,
): void {
  if (!m) return;
  if (!isTrue(after.conditions, 'Running') || isTrue(before.status?.conditions, 'Running')) return;
  const admitted = findCondition(before.status?.conditions, 'Admitted');
  const since = admitted?.status === 'True' ? ms(admitted.lastTransitionTime) : undefined;
  if (since === undefined) return;
  m.readyWait.observe({ job_namespace: before.metadata.namespace ?? '' }, Math.max(0, nowMs - since) / 1000);
}

/** Gauges of the jobs waiting now (pending: neither admitted nor running, ended or suspended). */
export function setPendingGauges(
  m: JobMetrics,
  jobs: Iterable<{ job: TrainingJob; phase: string }>,
  nowMs: number,
): void {
  m.pendingJobs.reset();
  m.pendingMaxWait.reset();
  m.jobWait.reset();
  m.jobPreemptions.reset();
  const count = new Map<string, number>();
  const longest = new Map<string, number>();
  for (const { job, phase } of jobs) {
    const job_namespace = job.metadata.namespace ?? '';
    const training_job = job.metadata.name ?? '';
    if (phase !== 'deleting')
      m.jobPreemptions.set({ job_namespace, training_job }, job.status?.preemptions ?? 0);
    if (phase !== 'pending') continue;
    const since = queuedSinceMs(job);
    const waited = since === undefined ? 0 : Math.max(0, nowMs - since) / 1000;
    m.jobWait.set({ job_namespace, training_job }, waited);
    count.set(job_namespace, (count.get(job_namespace) ?? 0) + 1);
    longest.set(job_namespace, Math.max(longest.get(job_namespace) ?? 0, waited));
  }
  for (const [ns, n] of count) {
    m.pendingJobs.set({ job_namespace: ns }, n);
    m.pendingMaxWait.set({ job_namespace: ns }, longest.get(ns) ?? 0);
  }
}
