import type { V1Job } from '@kubernetes/client-node';
import { findCondition, type TrainingJob } from '../../api/v1alpha1/index.js';
import { Decimal } from '../../economics/decimal.js';
import { condition, mergeConditions, rfc3339, type Condition } from '../../kube/status.js';
import type { LedgerProgress } from './adapt.js';
import { jobFinished } from './adapt.js';

/**
 * The Job reconciler's part of a renter Job's ledger (pure): Running, start and end times, GPU-hours and
 * earnings at the bid in force, accrued while every wanted pod is ready.
 */

/** Earnings are brought up to date at least this often while a Job runs (and at every transition). */
export const ACCRUE_EVERY_MS = 30_000;

export interface ProgressInput {
  job: V1Job;
  view: TrainingJob;
  /** The planner has the Job admitted on nodes. */
  admitted: boolean;
  nowMs: number;
}

/** Pods the Job wants running now: parallelism, or fewer when fewer completions are left. */
export function wantedPods(job: V1Job): number {
  const parallelism = job.spec?.parallelism ?? 1;
  const completions = job.spec?.completions;
  if (completions === undefined || completions === null) return parallelism;
  return Math.max(0, Math.min(parallelism, completions - (job.status?.succeeded ?? 0)));
}

export function batchProgress(input: ProgressInput): LedgerProgress {
  const { job, view, admitted, nowMs } = input;
  const before = view.status ?? {};
  const prev = findCondition(before.conditions, 'Running');
  const finished = jobFinished(job);
  const wanted = wantedPods(job);
  const ready = job.status?.ready ?? 0;
  const running = !finished && admitted && !job.spec?.suspend && wanted > 0 && ready >= wanted;
  let c: Condition;
  if (running) c = condition('Running', 'True', 'PodsReady', `${ready} pod(s) ready`);
  else if (finished)
    c = condition(
      'Running',
      'False',
      finished.type === 'Complete' ? 'Completed' : 'JobFailed',
      finished.message,
    );
  else if (job.spec?.suspend)
    c = condition('Running', 'False', 'Suspended', 'the Job is suspended until admitted');
  else c = condition('Running', 'False', 'Starting', `${ready} of ${wanted} pod(s) ready`);
  const now = new Date(Math.floor(nowMs / 1000) * 1000);
  const conditions = mergeConditions(before.conditions, [c], now);

  const out: LedgerProgress = { conditions, tier: view.spec.tier };
  const wasRunning = prev?.status === 'True';
  let gpuHours = dec(before.gpuHours);
  let earned = dec(before.earnedUsd);
  let last = before.lastAccrualTime;
  const lastMs = last ? Date.parse(last) : NaN;
  const due = running !== wasRunning || Boolean(finished) || now.getTime() - lastMs >= ACCRUE_EVERY_MS;
  if (wasRunning && !Number.isNaN(lastMs) && due) {
    // Until the Job ended (its completion time) or now.
    const endMs =
      finished && job.status?.completionTime ? Date.parse(String(job.status.completionTime)) : now.getTime();
    const until = Math.max(lastMs, Number.isNaN(endMs) ? now.getTime() : Math.min(endMs, now.getTime()));
    const gpus = view.spec.replicas * view.spec.gpusPerReplica;
    const hours = Decimal.fraction(BigInt(until - lastMs), 3_600_000n).times(Decimal.of(gpus));
    gpuHours = gpuHours.plus(hours);
    earned = earned.plus(hours.times(dec(view.spec.bidUsdPerGpuHour)));
    last = rfc3339(new Date(until));
  } else if (running) {
    last = rfc3339(now);
  }
  if (running || wasRunning || before.gpuHours) {
    out.gpuHours = gpuHours.toFixed(6);
    out.earnedUsd = earned.toFixed(6);
  }
  if (last) out.lastAccrualTime = last;
  const startTime = before.startTime ?? (running ? rfc3339(now) : undefined);
  if (startTime) out.startTime = startTime;
  if (finished)
    out.endTime =
      before.endTime ?? (job.status?.completionTime ? String(job.status.completionTime) : rfc3339(now));
  return out;
}

function dec(s: string | undefined): Decimal {
  try {
    return s ? Decimal.parse(s) : Decimal.of(0);
  } catch {
    return Decimal.of(0);
  }
}

/** What kubectl users see: the latest thing that happened, in one word. */
export function batchState(conditions: readonly Condition[] | undefined, job: V1Job): string {
  const f = jobFinished(job);
  if (f) return f.type === 'Complete' ? 'Succeeded' : 'Failed';
  const is = (t: string): boolean => conditions?.some((c) => c.type === t && c.status === 'True') ?? false;
  if (is('Running')) return 'Running';
  if (is('Admitted')) return 'Admitted';
  if (is('Preempted')) return 'Preempted';
  return 'Queued';
}
