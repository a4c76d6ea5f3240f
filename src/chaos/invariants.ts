import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { DRAINING_TO, TAINT_VALUE } from '../controller/labels.js';
import { isMiner, isTerminal, isTerminating, podGpus, podNode } from '../controller/pods.js';

/**
 * What must hold on a farm at rest, whatever happened before: checked by the chaos run from the API server's
 * objects alone (a pure function of nodes, pods and TrainingJobs).
 */

export interface ChaosJob {
  metadata: { name?: string; namespace?: string; uid?: string; deletionTimestamp?: unknown };
  spec: { replicas: number; gpusPerReplica: number; startTimeoutSeconds?: number };
  status?: {
    assignedNodes?: string[];
    gpuHours?: string;
    earnedUsd?: string;
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
    }[];
  };
}

export interface Violation {
  rule: string;
  object: string;
  detail: string;
}

export interface InvariantInput {
  nodes: readonly V1Node[];
  /** Every pod on those nodes (any owner). */
  pods: readonly V1Pod[];
  jobs: readonly ChaosJob[];
  modeLabelKey: string;
  taintKey: string;
  nowMs: number;
  /** The farm's default start timeout (a job may set its own). */
  startTimeoutSeconds: number;
  /**
   * At rest every rule applies; while jobs arrive and end, a node may briefly train for a job that just
   * ended and a gang may be starting: only the rules that must hold at every instant apply.
   */
  atRest: boolean;
}

/** Rules that hold at every instant, not only at rest. */
export const STRUCTURAL_RULES = [
  'mode-label',
  'taint',
  'draining-annotation',
  'training-pod-placement',
  'gpu-overbooked',
  'double-booked',
  'miner-on-job-gpus',
] as const;

/** Time the operator has to notice a start deadline and roll the gang back. */
const START_SLACK_MS = 15_000;

const MODES = new Set(['mining', 'draining', 'training', 'idle']);

const cond = (j: ChaosJob, type: string) => j.status?.conditions?.find((c) => c.type === type);
const isTrue = (j: ChaosJob, type: string): boolean => cond(j, type)?.status === 'True';
const jobKey = (j: ChaosJob): string => `${j.metadata.namespace ?? ''}/${j.metadata.name ?? ''}`;

/** GPUs each admitted or running job holds per node. */
function bookedGpus(jobs: readonly ChaosJob[]): Map<string, { gpus: number; jobs: string[] }> {
  const out = new Map<string, { gpus: number; jobs: string[] }>();
  for (const j of jobs) {
    if (j.metadata.deletionTimestamp || isTrue(j, 'Succeeded') || isTrue(j, 'Failed')) continue;
    if (!isTrue(j, 'Admitted') && !isTrue(j, 'Running')) continue;
    for (const n of j.status?.assignedNodes ?? []) {
      const e = out.get(n) ?? { gpus: 0, jobs: [] };
      e.gpus += j.spec.gpusPerReplica;
      if (!e.jobs.includes(jobKey(j))) e.jobs.push(jobKey(j));
      out.set(n, e);
    }
  }
  return out;
}

export function checkInvariants(input: InvariantInput): Violation[] {
  const out: Violation[] = [];
  const add = (rule: string, object: string, detail: string): void => {
    out.push({ rule, object, detail });
  };
  const booked = bookedGpus(input.jobs);
  const live = input.pods.filter((p) => !isTerminal(p) && !isTerminating(p));

  for (const n of input.nodes) {
    const name = n.metadata?.name ?? '';
    const mode = n.metadata?.labels?.[input.modeLabelKey];
    const capacity = Number(n.status?.allocatable?.['nvidia.com/gpu'] ?? 0);
    const tainted = (n.spec?.taints ?? []).some((t) => t.key === input.taintKey && t.value === TAINT_VALUE);
    if (!mode || !MODES.has(mode)) {
      add('mode-label', `node/${name}`, `mode label is '${mode ?? ''}'`);
      continue;
    }
    const wantTaint = mode === 'draining' || mode === 'training';
    if (tainted !== wantTaint) {
      add('taint', `node/${name}`, `mode ${mode} but ${tainted ? 'tainted' : 'not tainted'}`);
    }
    if (mode === 'draining' && !n.metadata?.annotations?.[DRAINING_TO]) {
      add('draining-annotation', `node/${name}`, 'draining without a draining-to annotation');
    }
    const here = live.filter((p) => podNode(p) === name);
    const trainers = here.filter((p) => p.metadata?.labels?.['rigshift.io/trainingjob'] !== undefined);
    if (mode !== 'training' && trainers.length > 0) {
      add(
        'training-pod-placement',
        `node/${name}`,
        `mode ${mode} runs ${trainers.map((p) => p.metadata?.name).join(', ')}`,
      );
    }
    const podGpuSum = here.reduce((s, p) => s + podGpus(p), 0);
    if (podGpuSum > capacity) {
      add('gpu-overbooked', `node/${name}`, `pods request ${podGpuSum} GPUs of ${capacity}`);
    }
    const jobs = booked.get(name);
    if (jobs && jobs.gpus > capacity) {
      add(
        'double-booked',
        `node/${name}`,
        `jobs ${jobs.jobs.join(', ')} hold ${jobs.gpus} GPUs of ${capacity}`,
      );
    }
    const minerGpus = here.filter(isMiner).reduce((s, p) => s + podGpus(p), 0);
    if (jobs && minerGpus + jobs.gpus > capacity) {
      add(
        'miner-on-job-gpus',
        `node/${name}`,
        `miners use ${minerGpus} GPUs while jobs hold ${jobs.gpus} of ${capacity}`,
      );
    }
    if (input.atRest && mode === 'training' && !jobs) {
      add('tainted-without-job', `node/${name}`, 'training (tainted) with no job assigned');
    }
  }

  for (const j of input.atRest ? input.jobs : []) {
    if (j.metadata.deletionTimestamp) continue;
    const key = `trainingjob/${jobKey(j)}`;
    if (isTrue(j, 'Running') || isTrue(j, 'Succeeded')) continue;
    if (isTrue(j, 'Failed')) {
      if (!cond(j, 'Failed')?.message) add('job-state', key, 'Failed without a reason');
      continue;
    }
    if (isTrue(j, 'Queued')) {
      if (!cond(j, 'Queued')?.message) add('job-state', key, 'waiting without a reason');
      continue;
    }
    if (cond(j, 'Queued')?.reason === 'Suspended') continue;
    if (isTrue(j, 'Admitted')) {
      // A gang may be starting (drains in waves, scheduling): only past its start deadline is it stuck.
      const since = Date.parse(cond(j, 'Admitted')?.lastTransitionTime ?? '');
      const timeout = (j.spec.startTimeoutSeconds ?? input.startTimeoutSeconds) * 1000;
      if (Number.isNaN(since) || input.nowMs - since > timeout + START_SLACK_MS) {
        add(
          'job-state',
          key,
          `admitted ${Number.isNaN(since) ? '' : `${Math.round((input.nowMs - since) / 1000)} s ago `}and not running, past its start timeout`,
        );
      }
      continue;
    }
    add('job-state', key, 'neither running, ended nor waiting with a reason');
  }
  return out;
}

/** Remembers each job's usage: counters that go backwards are a violation that stays. */
export class UsageTracker {
  private readonly seen = new Map<string, { gpuHours: number; earnedUsd: number }>();
  readonly violations: Violation[] = [];

  observe(jobs: readonly ChaosJob[]): void {
    for (const j of jobs) {
      // By uid: a job deleted and created again under its name starts from zero, rightly.
      const key = j.metadata.uid ?? jobKey(j);
      const now = { gpuHours: Number(j.status?.gpuHours ?? 0), earnedUsd: Number(j.status?.earnedUsd ?? 0) };
      const before = this.seen.get(key);
      if (before && (now.gpuHours < before.gpuHours || now.earnedUsd < before.earnedUsd)) {
        this.violations.push({
          rule: 'usage-backwards',
          object: `trainingjob/${jobKey(j)}`,
          detail: `gpuHours ${before.gpuHours} → ${now.gpuHours}, earnedUsd ${before.earnedUsd} → ${now.earnedUsd}`,
        });
      }
      this.seen.set(key, {
        gpuHours: Math.max(now.gpuHours, before?.gpuHours ?? 0),
        earnedUsd: Math.max(now.earnedUsd, before?.earnedUsd ?? 0),
      });
    }
  }
}
