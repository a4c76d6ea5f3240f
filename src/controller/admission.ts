import { findCondition, type TrainingJob } from '../api/v1alpha1/index.js';
import type { JobWait, Placement, Preemption } from '../planner/index.js';
import { condition, deepEqual, type Condition } from '../kube/status.js';
import { replicaNodes, type JobPhase } from './snapshot.js';

/**
 * The planner's part of a TrainingJob's status (field manager rigshift-planner): conditions Queued, Admitted
 * and Preempted, assignedNodes, waitingReason, preemptions. The job reconciler owns the rest. Pure.
 */

export const PLANNER_CONDITIONS = ['Queued', 'Admitted', 'Preempted'] as const;

export interface AdmissionStatus {
  conditions: Condition[];
  assignedNodes?: string[];
  waitingReason?: string;
  preemptions?: number;
  startFailures?: number;
  retryAfterTime?: string;
}

/** Has the planner written its part of the job's status yet (a Queued or Admitted condition)? */
export function plannerSpoke(job: Pick<TrainingJob, 'status'>): boolean {
  return (job.status?.conditions ?? []).some((c) => c.type === 'Queued' || c.type === 'Admitted');
}

/** What the plan says about one job. */
export type JobOutcome =
  | { kind: 'placed'; placement: Placement }
  | { kind: 'waiting'; wait: JobWait; refused: boolean }
  | { kind: 'preempted'; preemption: Preemption }
  | { kind: 'ended' }
  | { kind: 'suspended' };

/** One transition worth an Event. */
export interface AdmissionEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
}

/** The planner's status for a job; `note` prefixes messages (e.g. why an admission was undone). */
export function admissionStatus(
  job: TrainingJob,
  phase: JobPhase,
  outcome: JobOutcome,
  note = '',
): AdmissionStatus {
  const gen = job.metadata.generation;
  const current = job.status?.conditions;
  const preemptions = job.status?.preemptions;
  const keepPreempted = (fallback: Condition): Condition => {
    const p = findCondition(current, 'Preempted');
    return p?.status === 'True' ? condition('Preempted', 'True', p.reason, p.message, gen) : fallback;
  };
  const notPreempted = condition('Preempted', 'False', 'NotPreempted', '', gen);
  const out = (conditions: Condition[], extra: Omit<AdmissionStatus, 'conditions'> = {}): AdmissionStatus => {
    const s: AdmissionStatus = { conditions, ...extra };
    if (preemptions !== undefined && s.preemptions === undefined) s.preemptions = preemptions;
    const st = job.status;
    if (st?.startFailures !== undefined) s.startFailures = st.startFailures;
    if (st?.retryAfterTime !== undefined) s.retryAfterTime = st.retryAfterTime;
    return s;
  };

  switch (outcome.kind) {
    case 'placed': {
      const p = outcome.placement;
      const kept = !p.isNew && job.status?.assignedNodes?.length === job.spec.replicas;
      const nodes = kept
        ? [...(job.status?.assignedNodes ?? [])]
        : replicaNodes(p.nodes, job.spec.gpusPerReplica);
      const admitted = findCondition(current, 'Admitted');
      // A kept placement keeps the message it was admitted with (the planner's wording changes as it runs).
      const message = kept && admitted?.status === 'True' ? admitted.message : note + p.reason;
      return out(
        [
          condition('Queued', 'False', 'Admitted', '', gen),
          condition('Admitted', 'True', 'Placed', message, gen),
          // A preemption is cleared once the job runs again; a job never preempted keeps its condition as it is
          // (one status write less per start).
          phase === 'running' && findCondition(current, 'Preempted')?.status === 'True'
            ? condition('Preempted', 'False', 'Running', '', gen)
            : keepPreempted(
                findCondition(current, 'Preempted')?.reason === 'Running'
                  ? condition('Preempted', 'False', 'Running', '', gen)
                  : notPreempted,
              ),
        ],
        { assignedNodes: nodes },
      );
    }
    case 'waiting': {
      const w = outcome.wait;
      const message = note + w.reason;
      return out(
        [
          condition('Queued', 'True', w.code, message, gen),
          condition('Admitted', 'False', w.code, message, gen),
          keepPreempted(notPreempted),
        ],
        { waitingReason: message },
      );
    }
    case 'preempted': {
      const p = outcome.preemption;
      const reason = p.by ? 'Outbid' : 'BidBelowYield';
      return out(
        [
          condition('Queued', 'True', 'Preempted', p.reason, gen),
          condition('Admitted', 'False', 'Preempted', p.reason, gen),
          condition('Preempted', 'True', reason, p.reason, gen),
        ],
        { waitingReason: `preempted: ${p.reason}`, preemptions: (preemptions ?? 0) + 1 },
      );
    }
    case 'ended':
      return out([
        condition('Queued', 'False', 'Ended', '', gen),
        condition('Admitted', 'False', 'Ended', '', gen),
        condition('Preempted', 'False', 'Ended', '', gen),
      ]);
    case 'suspended':
      return out([
        condition('Queued', 'False', 'Suspended', 'spec.suspend is true', gen),
        condition('Admitted', 'False', 'Suspended', 'spec.suspend is true', gen),
        keepPreempted(notPreempted),
      ]);
  }
}

function strip(c: Condition): Omit<Condition, 'lastTransitionTime'> {
  const { lastTransitionTime: _t, ...rest } = c;
  return rest;
}

/** Does the job's status already say this (the planner's fields only)? */
export function admissionUpToDate(job: TrainingJob, desired: AdmissionStatus): boolean {
  const s = job.status ?? {};
  for (const d of desired.conditions) {
    const c = findCondition(s.conditions, d.type);
    if (!c) return false;
    const have = strip({ ...c, message: c.message ?? '' });
    if (!deepEqual(have, strip({ ...d, message: d.message ?? '' }))) return false;
  }
  return (
    deepEqual(s.assignedNodes ?? undefined, desired.assignedNodes) &&
    (s.waitingReason ?? undefined) === desired.waitingReason &&
    (s.preemptions ?? undefined) === desired.preemptions &&
    (s.startFailures ?? undefined) === desired.startFailures &&
    (s.retryAfterTime ?? undefined) === desired.retryAfterTime
  );
}

/** The Event a change of admission is worth, if any. */
export function admissionEvent(job: TrainingJob, desired: AdmissionStatus): AdmissionEvent | undefined {
  const before = job.status?.conditions;
  const now = (t: string) => desired.conditions.find((c) => c.type === t);
  const was = (t: string) => findCondition(before, t);
  const preempted = now('Preempted');
  if (preempted?.status === 'True' && was('Preempted')?.status !== 'True') {
    return { type: 'Warning', reason: 'Preempted', note: preempted.message ?? '' };
  }
  const admitted = now('Admitted');
  if (admitted?.status === 'True' && was('Admitted')?.status !== 'True') {
    return { type: 'Normal', reason: 'Admitted', note: admitted.message ?? '' };
  }
  // Placed again elsewhere in one plan (a node lost or cordoned before the gang started): said, too.
  const placedBefore = job.status?.assignedNodes;
  if (admitted?.status === 'True' && placedBefore && !deepEqual(placedBefore, desired.assignedNodes)) {
    return { type: 'Normal', reason: 'Admitted', note: admitted.message ?? '' };
  }
  const queued = now('Queued');
  const q = was('Queued');
  if (queued?.status === 'True' && (q?.status !== 'True' || q.reason !== queued.reason)) {
    return { type: 'Normal', reason: 'Queued', note: queued.message ?? '' };
  }
  return undefined;
}
