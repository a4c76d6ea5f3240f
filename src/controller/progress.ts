import type { V1Pod } from '@kubernetes/client-node';
import {
  findCondition,
  TRAINING_JOB_CONDITIONS,
  type TrainingJob,
  type TrainingJobState,
} from '../api/v1alpha1/index.js';
import { Decimal } from '../economics/decimal.js';
import { condition, deepEqual, rfc3339, type Condition } from '../kube/status.js';
import { RUN_LABEL } from './labels.js';
import { isTerminal, isTerminating, podNode, trainingPodName } from './pods.js';
import { assignedNodes, type JobPhase } from './snapshot.js';

/**
 * The job reconciler's part of a TrainingJob's status (field manager rigshift): Running, Succeeded and Failed,
 * state, replicas, times and earnings; and which pods must exist or go. A pure function of the job, its pods
 * and whether its nodes are ready.
 */

export const JOB_CONDITIONS = ['Running', 'Succeeded', 'Failed'] as const;
/** Earnings are brought up to date at least this often while a job runs. */
export const ACCRUE_EVERY_MS = 60_000;

export interface ProgressStatus {
  observedGeneration?: number;
  conditions: Condition[];
  state: TrainingJobState;
  readyReplicas: number;
  startTime?: string;
  endTime?: string;
  gpuHours?: string;
  earnedUsd?: string;
  lastAccrualTime?: string;
  restarts?: number;
}

export interface ReplicaPod {
  replica: number;
  node: string;
  name: string;
}

export interface Progress {
  status: ProgressStatus;
  /** Pods to create now (all of the gang at once). */
  create: ReplicaPod[];
  /** Pods to stop (checkpoint grace period): other runs, wrong nodes, or the job no longer runs. */
  stop: V1Pod[];
  /** Something worth an Event. */
  events: { type: 'Normal' | 'Warning'; reason: string; note: string }[];
  /** When to look again without an event. */
  requeueAfterMs?: number;
}

export interface ProgressInput {
  job: TrainingJob;
  phase: JobPhase;
  /** The job's own pods (any run, any phase). */
  pods: readonly V1Pod[];
  /** Every assigned node is in mode training. */
  nodesReady: boolean;
  nowMs: number;
}

/** The gang's incarnation: a new one (new pod names) after each preemption and each rolled-back start. */
export function runOf(job: TrainingJob): number {
  const st = job.status;
  return (st?.preemptions ?? 0) + (st?.startFailures ?? 0) + (st?.restarts ?? 0);
}

/** When a pod's containers stopped (the latest finishedAt), from the kubelet's own record. */
export function finishedAtMs(pod: V1Pod): number | undefined {
  let at: number | undefined;
  for (const c of pod.status?.containerStatuses ?? []) {
    const t = c.state?.terminated?.finishedAt;
    const ms = t === undefined ? NaN : new Date(t as unknown as string).getTime();
    if (!Number.isNaN(ms)) at = Math.max(at ?? ms, ms);
  }
  return at;
}

/** Container states that keep a replica from starting, as the kubelet reports them. */
const STUCK_WAITING = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'CrashLoopBackOff',
]);

/** Why a replica's pod is not starting, in the scheduler's or the kubelet's own words; undefined if it is. */
export function podProblem(pod: V1Pod): { reason: string; message: string } | undefined {
  const scheduled = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { reason: 'Unschedulable', message: scheduled.message ?? 'the scheduler cannot place it' };
  }
  const states = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const c of states) {
    const w = c.state?.waiting;
    if (w?.reason && STUCK_WAITING.has(w.reason)) {
      return { reason: w.reason, message: `container ${c.name}: ${w.message ?? w.reason}` };
    }
  }
  return undefined;
}

function isReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

function dec(text: string | undefined): Decimal {
  if (!text) return Decimal.ZERO;
  try {
    return Decimal.parse(text);
  } catch {
    return Decimal.ZERO;
  }
}

/** "1.5", "0.000123": fixed places, trailing zeros dropped. */
function plain(d: Decimal, places: number): string {
  const t = d.toFixed(places, 'halfUp');
  return t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t;
}

export function jobProgress(input: ProgressInput): Progress {
  const { job, phase, pods } = input;
  const name = job.metadata.name ?? '';
  const gen = job.metadata.generation;
  const status = job.status ?? {};
  const nowSec = Math.floor(input.nowMs / 1000) * 1000;
  let run = runOf(job);
  const replicas = job.spec.replicas;
  const gpus = replicas * job.spec.gpusPerReplica;
  const events: Progress['events'] = [];

  const wasSucceeded = findCondition(status.conditions, 'Succeeded');
  const wasFailed = findCondition(status.conditions, 'Failed');
  const wasRunning = findCondition(status.conditions, 'Running')?.status === 'True';

  // Which pods should exist: the current run's replicas on their assigned nodes, while admitted.
  const assigned = assignedNodes(job);
  const active = (phase === 'admitted' || phase === 'running') && assigned !== undefined;
  const byName = new Map(pods.map((p) => [p.metadata?.name ?? '', p]));
  let wanted: ReplicaPod[] = [];
  let current: V1Pod[] = [];
  const isWanted = (p: V1Pod): boolean =>
    wanted.some((w) => w.name === p.metadata?.name && w.node === podNode(p));
  const choose = (): void => {
    wanted = active
      ? assigned.map((node, replica) => ({ replica, node, name: trainingPodName(name, run, replica) }))
      : [];
    current = wanted.map((w) => byName.get(w.name)).filter((p): p is V1Pod => p !== undefined && isWanted(p));
  };
  choose();

  let succeeded: Condition | undefined = wasSucceeded?.status === 'True' ? wasSucceeded : undefined;
  let failed: Condition | undefined = wasFailed?.status === 'True' ? wasFailed : undefined;
  let restarts = status.restarts ?? 0;
  /** When the gang stopped running, as its pods record it (billing ends there, not when the operator saw it). */
  let stoppedAtMs: number | undefined;
  if (!succeeded && !failed && active) {
    const failedPod = current.find((p) => p.status?.phase === 'Failed');
    // A replica of a gang that ran is lost when its pod is gone or being deleted by someone else. A live pod of
    // the replica's name on another node than the status names is not lost: the planner has moved the job (an
    // overcommit repair), which gives it a new run; restarting here too would count it twice.
    const lost = wasRunning
      ? wanted.find((w) => {
          const p = byName.get(w.name);
          return p === undefined || (isTerminating(p) && !isTerminal(p));
        })
      : undefined;
    if (failedPod || lost) {
      let why: string;
      if (failedPod) {
        const node = podNode(failedPod) ?? '?';
        why = `pod ${failedPod.metadata?.name} on ${node} failed: ${failedPod.status?.reason ?? failedPod.status?.message ?? 'container failed'}`;
        stoppedAtMs = finishedAtMs(failedPod);
      } else {
        const p = current.find((c) => c.metadata?.name === lost?.name);
        why = `replica ${lost?.replica} (pod ${lost?.name}) was lost: ${p ? 'deleted' : 'its pod is gone'}`;
        const del = p?.metadata?.deletionTimestamp;
        if (del) stoppedAtMs = new Date(del as unknown as string).getTime();
      }
      const limit = job.spec.backoffLimit;
      if (restarts < limit) {
        restarts++;
        run++;
        events.push({
          type: 'Warning',
          reason: 'GangRestarted',
          note: `${why}; restarting the whole gang (restart ${restarts} of at most ${limit})`,
        });
        choose();
      } else {
        const reason = limit === 0 ? 'PodFailed' : 'BackoffLimitExceeded';
        const tail =
          limit === 0 ? '' : `; the gang was already restarted ${restarts} times (backoffLimit ${limit})`;
        failed = condition('Failed', 'True', reason, `${why}${tail}`, gen);
        events.push({ type: 'Warning', reason: 'Failed', note: failed.message ?? '' });
      }
    } else if (current.length === replicas && current.every((p) => p.status?.phase === 'Succeeded')) {
      const ends = current.map(finishedAtMs).filter((t): t is number => t !== undefined);
      if (ends.length > 0) stoppedAtMs = Math.max(...ends);
      succeeded = condition(
        'Succeeded',
        'True',
        'AllReplicasSucceeded',
        `all ${replicas} replicas exited 0`,
        gen,
      );
      events.push({ type: 'Normal', reason: 'Succeeded', note: succeeded.message ?? '' });
    }
  }
  const ended = succeeded !== undefined || failed !== undefined;
  const ready = ended ? 0 : current.filter(isReady).length;
  let runningNow = !ended && active && ready === replicas;

  // Accrual: GPU-hours and earnings for the time the job ran since the last accrual.
  let gpuHours = dec(status.gpuHours);
  let earned = dec(status.earnedUsd);
  let last = status.lastAccrualTime;
  const lastMs = last ? Date.parse(last) : NaN;
  const transition = runningNow !== wasRunning;
  // A gang that stopped while the operator was away is billed until its pods stopped, not until now.
  const until =
    transition && stoppedAtMs !== undefined && !Number.isNaN(lastMs)
      ? Math.min(nowSec, Math.max(lastMs, Math.floor(stoppedAtMs / 1000) * 1000))
      : nowSec;
  if (wasRunning && !Number.isNaN(lastMs) && (transition || nowSec - lastMs >= ACCRUE_EVERY_MS)) {
    const ms = Math.max(0, until - lastMs);
    const hours = Decimal.fraction(BigInt(ms), 3_600_000n).times(Decimal.of(gpus));
    gpuHours = gpuHours.plus(hours);
    earned = earned.plus(hours.times(dec(job.spec.bidUsdPerGpuHour)));
    last = rfc3339(new Date(until));
  } else if (runningNow && !wasRunning) {
    last = rfc3339(new Date(nowSec));
  }

  // Deadline: total run time, from GPU-hours.
  if (runningNow && job.spec.maxRuntimeSeconds !== undefined && gpus > 0) {
    const ranSeconds = gpuHours.times(Decimal.of(3600)).div(Decimal.of(gpus)).toNumber();
    if (ranSeconds >= job.spec.maxRuntimeSeconds) {
      failed = condition(
        'Failed',
        'True',
        'DeadlineExceeded',
        `ran ${Math.round(ranSeconds)} s, the limit is ${job.spec.maxRuntimeSeconds} s`,
        gen,
      );
      events.push({ type: 'Warning', reason: 'DeadlineExceeded', note: failed.message ?? '' });
      runningNow = false;
    }
  }
  const terminal = succeeded !== undefined || failed !== undefined;

  // Pods: create the gang once its nodes are ready and an earlier run's pods are gone; stop what is not wanted.
  const keep = terminal ? () => false : isWanted;
  const leftovers = pods.filter((p) => !isTerminal(p) && !keep(p));
  const stop = leftovers.filter((p) => !isTerminating(p));
  const create: ReplicaPod[] = [];
  const restarting = restarts !== (status.restarts ?? 0); // the new run's pods once the status says so
  if (active && !terminal && input.nodesReady && leftovers.length === 0 && !restarting) {
    for (const w of wanted) if (!byName.has(w.name)) create.push(w);
  }

  // A replica that cannot start is said at once, in its own words (the gang is rolled back at its deadline).
  let problem: { reason: string; message: string } | undefined;
  if (active && !terminal && !runningNow) {
    for (const p of current) {
      const pr = podProblem(p);
      if (pr) {
        const replica = wanted.findIndex((w) => w.name === p.metadata?.name);
        problem = {
          reason: pr.reason,
          message: `replica ${replica} (pod ${p.metadata?.name} on ${podNode(p)}): ${pr.message}`,
        };
        break;
      }
    }
  }
  const running = runningNow
    ? condition('Running', 'True', 'AllReplicasRunning', `${replicas} of ${replicas} replicas running`, gen)
    : problem
      ? condition('Running', 'False', problem.reason, problem.message, gen)
      : condition(
          'Running',
          'False',
          notRunningReason(phase, terminal, succeeded !== undefined, active),
          notRunningMessage(ready, replicas, active, input.nodesReady),
          gen,
        );
  const before = findCondition(status.conditions, 'Running');
  if (problem && (before?.reason !== problem.reason || before.message !== problem.message)) {
    events.push({ type: 'Warning', reason: 'ReplicaNotStarting', note: problem.message });
  }
  if (runningNow && !wasRunning) {
    const where = current.map((p) => `${p.metadata?.name ?? ''} on ${podNode(p) ?? ''}`).join(', ');
    events.push({ type: 'Normal', reason: 'Running', note: `${running.message ?? ''}: ${where}` });
  }
  if (stop.length > 0) {
    events.push({
      type: 'Normal',
      reason: 'PodsStopped',
      note: `stopping ${stop.length} pod${stop.length === 1 ? '' : 's'} with a ${job.spec.checkpointGracePeriodSeconds} s checkpoint grace period (${phase}${terminal ? ', ended' : ''})`,
    });
  }

  const conditions = [
    running,
    succeeded ?? condition('Succeeded', 'False', 'NotFinished', '', gen),
    failed ?? condition('Failed', 'False', 'NotFailed', '', gen),
  ];
  const out: ProgressStatus = {
    conditions,
    state: stateOf(job, [
      ...(status.conditions ?? []).filter((c) => !(JOB_CONDITIONS as readonly string[]).includes(c.type)),
      ...conditions,
    ]),
    readyReplicas: ready,
  };
  if (gen !== undefined) out.observedGeneration = gen;
  const startTime = status.startTime ?? (runningNow ? rfc3339(new Date(nowSec)) : undefined);
  if (startTime) out.startTime = startTime;
  const endTime =
    status.endTime ?? (terminal ? rfc3339(new Date(Math.min(nowSec, stoppedAtMs ?? nowSec))) : undefined);
  if (endTime) out.endTime = endTime;
  if (status.gpuHours !== undefined || !gpuHours.eq(Decimal.ZERO)) out.gpuHours = plain(gpuHours, 9);
  if (status.earnedUsd !== undefined || !earned.eq(Decimal.ZERO)) out.earnedUsd = plain(earned, 6);
  if (last) out.lastAccrualTime = last;
  if (restarts > 0 || status.restarts !== undefined) out.restarts = restarts;

  let requeueAfterMs: number | undefined;
  if (runningNow) {
    const since = last ? Date.parse(last) : nowSec;
    requeueAfterMs = Math.max(1000, since + ACCRUE_EVERY_MS - input.nowMs);
  }
  const result: Progress = { status: out, create, stop, events };
  if (requeueAfterMs !== undefined) result.requeueAfterMs = requeueAfterMs;
  return result;
}

function notRunningReason(phase: JobPhase, terminal: boolean, succeeded: boolean, active: boolean): string {
  if (terminal) return succeeded ? 'Completed' : 'Failed';
  if (phase === 'suspended') return 'Suspended';
  if (phase === 'deleting') return 'Deleting';
  if (active) return 'Starting';
  return 'NotAdmitted';
}

function notRunningMessage(ready: number, replicas: number, active: boolean, nodesReady: boolean): string {
  if (!active) return '';
  // One message from admission until a first replica runs: the nodes becoming ready and the pods being created
  // are seen on the nodes and pods, not worth a status write each.
  if (!nodesReady || ready === 0)
    return 'waiting for its nodes to switch to training and its replicas to start';
  return `${ready} of ${replicas} replicas running`;
}

/** status.state: Suspended, else the latest condition in lifecycle order that is True. */
export function stateOf(job: TrainingJob, conditions: readonly Condition[]): TrainingJobState {
  const trueOf = (t: string) => conditions.some((c) => c.type === t && c.status === 'True');
  if (trueOf('Succeeded')) return 'Succeeded';
  if (trueOf('Failed')) return 'Failed';
  if (job.spec.suspend) return 'Suspended';
  let state: TrainingJobState = 'Queued';
  for (const t of TRAINING_JOB_CONDITIONS) if (trueOf(t)) state = t;
  // Preempted stays True until the job runs again; while it waits it is shown as Preempted.
  if (trueOf('Running')) state = 'Running';
  return state;
}

/** Does the job's status already say this (the job reconciler's fields only)? */
export function progressUpToDate(job: TrainingJob, desired: ProgressStatus): boolean {
  const s = (job.status ?? {}) as Record<string, unknown>;
  for (const d of desired.conditions) {
    const c = findCondition(job.status?.conditions, d.type);
    if (!c) return false;
    const { lastTransitionTime: _a, ...have } = { ...c, message: c.message ?? '' };
    const { lastTransitionTime: _b, ...want } = { ...d, message: d.message ?? '' };
    if (!deepEqual(have, want)) return false;
  }
  const fields = [
    'observedGeneration',
    'state',
    'readyReplicas',
    'startTime',
    'endTime',
    'gpuHours',
    'earnedUsd',
    'lastAccrualTime',
    'restarts',
  ] as const;
  return fields.every((f) => (s[f] ?? undefined) === (desired[f] ?? undefined));
}

export { RUN_LABEL };

/**
 * A running job that is deleted: its last accrual, up to the deletion (when the renter stopped it), or to its
 * pods' own end when every pod of it had already finished. Undefined when nothing is left to accrue (so a
 * second call, after the write, adds nothing).
 */
export function accrualAtDeletion(
  job: TrainingJob,
  pods: readonly V1Pod[],
  nowMs: number,
): Pick<ProgressStatus, 'gpuHours' | 'earnedUsd' | 'lastAccrualTime'> | undefined {
  const status = job.status;
  if (findCondition(status?.conditions, 'Running')?.status !== 'True') return undefined;
  const lastMs = Date.parse(status?.lastAccrualTime ?? '');
  const deletedMs = Date.parse(job.metadata.deletionTimestamp ?? '');
  if (Number.isNaN(lastMs) || Number.isNaN(deletedMs)) return undefined;
  let until = Math.min(nowMs, deletedMs);
  const run = pods.filter((p) => p.metadata?.labels?.[RUN_LABEL] === String(runOf(job)));
  const ends = run.map(finishedAtMs);
  if (run.length > 0 && ends.every((t) => t !== undefined)) until = Math.min(until, Math.max(...ends));
  until = Math.floor(until / 1000) * 1000;
  if (until <= lastMs) return undefined;
  const gpus = job.spec.replicas * job.spec.gpusPerReplica;
  const hours = Decimal.fraction(BigInt(until - lastMs), 3_600_000n).times(Decimal.of(gpus));
  return {
    gpuHours: plain(dec(status?.gpuHours).plus(hours), 9),
    earnedUsd: plain(dec(status?.earnedUsd).plus(hours.times(dec(job.spec.bidUsdPerGpuHour))), 6),
    lastAccrualTime: rfc3339(new Date(until)),
  };
}
