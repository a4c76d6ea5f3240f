// Wait-time and preemption metrics of TrainingJobs: derived from status timestamps, observed once per written
// transition (a replayed write over the new status observes nothing), per job_namespace.
import { describe, expect, it } from '@jest/globals';
import type { TrainingJob } from '../../../src/api/v1alpha1/index.js';
import { createMetrics } from '../../../src/kube/metrics.js';
import {
  observeAdmission,
  observeStart,
  queuedSinceMs,
  setPendingGauges,
} from '../../../src/controller/job-metrics.js';

const T0 = Date.parse('2026-05-01T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString().replace(/\.000Z$/, 'Z');
const cond = (type: string, status: 'True' | 'False', t: number) => ({
  type,
  status,
  reason: 'R',
  message: '',
  lastTransitionTime: at(t),
});

function job(status: TrainingJob['status'], name = 'llm'): TrainingJob {
  return {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name, namespace: 'team-a', creationTimestamp: at(0), uid: 'u1' },
    spec: {} as TrainingJob['spec'],
    status,
  } as TrainingJob;
}

async function value(m: ReturnType<typeof createMetrics>, name: string): Promise<string> {
  const text = await m.registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

describe('job metrics', () => {
  it('waits since the Queued transition, else since creation', () => {
    expect(queuedSinceMs(job(undefined))).toBe(T0);
    expect(queuedSinceMs(job({ conditions: [cond('Queued', 'True', 300)] }))).toBe(T0 + 300_000);
    expect(queuedSinceMs(job({ conditions: [cond('Queued', 'False', 300)] }))).toBe(T0);
  });

  it('observes the admission wait once: only on the write that turns Admitted True', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const queued = job({ conditions: [cond('Queued', 'True', 60), cond('Admitted', 'False', 60)] });
    const admitted = [cond('Queued', 'False', 660), cond('Admitted', 'True', 660)];
    observeAdmission(m, queued, { conditions: admitted }, T0 + 660_000);
    // The next process (a restart, a new leader) reads the admitted status: no transition, nothing observed.
    observeAdmission(m, job({ conditions: admitted }), { conditions: admitted }, T0 + 700_000);
    const text = await value(m, 'rigshift_job_admission_wait_time_seconds');
    expect(text).toContain('rigshift_job_admission_wait_time_seconds_count{job_namespace="team-a"} 1');
    expect(text).toContain('rigshift_job_admission_wait_time_seconds_sum{job_namespace="team-a"} 600');
    expect(text).toContain(
      'rigshift_job_admission_wait_time_seconds_bucket{le="300",job_namespace="team-a"} 0',
    );
    expect(text).toContain(
      'rigshift_job_admission_wait_time_seconds_bucket{le="600",job_namespace="team-a"} 1',
    );
  });

  it('counts each preemption written, not each plan that sees it', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const running = job({ conditions: [cond('Admitted', 'True', 0)], preemptions: 1 });
    const preempted = { conditions: [cond('Admitted', 'False', 900)], preemptions: 2 };
    observeAdmission(m, running, preempted, T0 + 900_000);
    observeAdmission(m, job({ ...preempted }), preempted, T0 + 960_000);
    expect(await value(m, 'rigshift_job_preemptions_total')).toBe(
      'rigshift_job_preemptions_total{job_namespace="team-a"} 1',
    );
  });

  it('observes admitted-until-ready from the Admitted transition, once', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const admitted = job({ conditions: [cond('Admitted', 'True', 100), cond('Running', 'False', 100)] });
    const running = [cond('Admitted', 'True', 100), cond('Running', 'True', 190)];
    observeStart(m, admitted, { conditions: running }, T0 + 190_000);
    observeStart(m, job({ conditions: running }), { conditions: running }, T0 + 250_000);
    const text = await value(m, 'rigshift_job_admitted_until_ready_wait_time_seconds');
    expect(text).toContain('_count{job_namespace="team-a"} 1');
    expect(text).toContain('_sum{job_namespace="team-a"} 90');
  });

  it('sets pending counts and the longest wait per namespace; per-job series only when exported', async () => {
    const m = createMetrics({ defaultMetrics: false, jobBids: true });
    const a = job({ conditions: [cond('Queued', 'True', 100)] }, 'a');
    const b = job({ conditions: [cond('Queued', 'True', 1000)], preemptions: 2 }, 'b');
    const c = job({ conditions: [cond('Running', 'True', 0)] }, 'c');
    setPendingGauges(
      m,
      [
        { job: a, phase: 'pending' },
        { job: b, phase: 'pending' },
        { job: c, phase: 'running' },
      ],
      T0 + 4600_000,
    );
    const text = await m.registry.metrics();
    expect(text).toContain('rigshift_pending_jobs{job_namespace="team-a"} 2');
    expect(text).toContain('rigshift_pending_job_max_wait_seconds{job_namespace="team-a"} 4500');
    expect(text).toContain('rigshift_job_wait_seconds{job_namespace="team-a",training_job="b"} 3600');
    expect(text).toContain('rigshift_job_preemptions{job_namespace="team-a",training_job="b"} 2');
    setPendingGauges(m, [{ job: c, phase: 'running' }], T0 + 4700_000);
    expect(await m.registry.metrics()).not.toContain('rigshift_pending_jobs{');
  });
});
