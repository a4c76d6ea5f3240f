import { describe, expect, it } from '@jest/globals';
import type { V1ConfigMap, V1Job } from '@kubernetes/client-node';
import {
  adaptBatchJob,
  batchProgress,
  placedScheduling,
  readLedger,
  rendezvousAnnotations,
  schedulingIs,
  schedulingOf,
  schedulingPatch,
  trimBatchJob,
} from '../../../src/controller/batchjob/index.js';
import { jobKey, jobPhase } from '../../../src/controller/snapshot.js';

function job(over: Partial<V1Job['spec']> = {}, annotations: Record<string, string> = {}): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: 'train',
      namespace: 'team-a',
      uid: 'u1',
      resourceVersion: '7',
      annotations: { 'rigshift.io/bid-usd-per-gpu-hour': '1.20', ...annotations },
    },
    spec: {
      suspend: true,
      parallelism: 2,
      template: {
        spec: {
          nodeSelector: { zone: 'a' },
          containers: [{ name: 'c', image: 'img:1', resources: { limits: { 'nvidia.com/gpu': '8' } } }],
        },
      },
      ...over,
    },
  };
}

const ledger = (data: Record<string, unknown>): V1ConfigMap => ({
  metadata: { name: 'rigshift-job-u1', resourceVersion: '42' },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, JSON.stringify(v)])),
});

describe('adaptBatchJob', () => {
  it('reads a suspended Job as a gang of parallelism replicas with its template’s GPUs, keyed job.batch/ns/name', () => {
    const a = adaptBatchJob(
      job({}, { 'rigshift.io/tier': 'Interruptible', 'rigshift.io/min-runtime-seconds': '30' }),
      {},
    );
    if (!a.ok) throw new Error(a.message);
    expect(a.view.spec).toMatchObject({
      replicas: 2,
      gpusPerReplica: 8,
      bidUsdPerGpuHour: '1.20',
      tier: 'Interruptible',
      minRuntimeSeconds: 30,
      nodeSelector: { zone: 'a' },
    });
    expect(jobKey(a.view)).toBe('job.batch/team-a/train');
    expect(jobPhase(a.view)).toBe('pending');
  });

  it('takes its admission from the ledger (never from the Job, which the renter may edit)', () => {
    const l = readLedger(
      ledger({
        admission: {
          conditions: [
            {
              type: 'Admitted',
              status: 'True',
              reason: 'Placed',
              message: 'm',
              lastTransitionTime: '2026-01-01T00:00:00Z',
            },
          ],
          assignedNodes: ['n1', 'n2'],
        },
      }),
    );
    const forged = job({}, { 'rigshift.io/admission': '{"assignedNodes":["x","y"]}' });
    const a = adaptBatchJob(forged, l);
    if (!a.ok) throw new Error(a.message);
    expect(a.view.status?.assignedNodes).toEqual(['n1', 'n2']);
    expect(a.view.metadata.resourceVersion).toBe('42');
    expect(jobPhase(a.view)).toBe('admitted');
  });

  it('reads the renter’s selector without the operator’s keys when the ledger has no original yet', () => {
    const pinned = job();
    pinned.spec!.template.spec!.nodeSelector = { zone: 'a', 'rigshift.io/mode': 'training' };
    const a = adaptBatchJob(pinned, {});
    expect(a.ok && a.view.spec.nodeSelector).toEqual({ zone: 'a' });
    const saved = adaptBatchJob(
      pinned,
      readLedger(ledger({ 'original-scheduling': { nodeSelector: { zone: 'b' } } })),
    );
    expect(saved.ok && saved.view.spec.nodeSelector).toEqual({ zone: 'b' });
  });

  it('keeps the tier it was first queued with', () => {
    const l = readLedger(ledger({ progress: { tier: 'Interruptible' } }));
    const a = adaptBatchJob(job({}, { 'rigshift.io/tier': 'OnDemand' }), l);
    expect(a.ok && a.view.spec.tier).toBe('Interruptible');
  });

  it('refuses what it cannot rent, naming the annotation or field', () => {
    const bad = adaptBatchJob(job({}, { 'rigshift.io/bid-usd-per-gpu-hour': 'lots' }), {});
    expect(bad).toMatchObject({ ok: false, reason: 'InvalidJob' });
    expect(!bad.ok && bad.message).toMatch(/annotation rigshift.io\/bid-usd-per-gpu-hour/);
    const noGpu = job();
    noGpu.spec!.template.spec!.containers[0]!.resources = {};
    expect(adaptBatchJob(noGpu, {})).toMatchObject({ ok: false, message: expect.stringMatching(/no GPU/) });
    expect(adaptBatchJob(job({ suspend: false }), {})).toMatchObject({ ok: false, reason: 'NotSuspended' });
  });

  it('a Job whose annotation was removed after it was queued is held, not forgotten', () => {
    const j = job({ suspend: false });
    delete j.metadata!.annotations!['rigshift.io/bid-usd-per-gpu-hour'];
    const l = readLedger(ledger({ admission: { conditions: [] } }));
    expect(adaptBatchJob(j, l)).toMatchObject({ ok: false, reason: 'BidRemoved' });
  });

  it('finished Jobs read as Succeeded from the Job controller’s condition', () => {
    const j = job({ suspend: false });
    j.status = { conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: new Date() }] };
    const a = adaptBatchJob(j, readLedger(ledger({ admission: { conditions: [] } })));
    if (!a.ok) throw new Error(a.message);
    expect(jobPhase(a.view)).toBe('ended');
  });
});

describe('pod template scheduling', () => {
  const original = schedulingOf(job().spec!.template.spec);
  const placed = placedScheduling(original, {
    nodes: ['n2', 'n1', 'n2'],
    modeLabelKey: 'rigshift.io/mode',
    taintKey: 'rigshift.io/reserved',
  });

  it('ANDs the training nodes with the renter’s selector and tolerates the reserved taint', () => {
    expect(placed.nodeSelector).toEqual({ zone: 'a', 'rigshift.io/mode': 'training' });
    expect(placed.tolerations).toEqual([
      { key: 'rigshift.io/reserved', operator: 'Equal', value: 'training', effect: 'NoSchedule' },
    ]);
    expect(
      placed.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    ).toEqual([
      { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1', 'n2'] }] },
    ]);
  });

  it('restores exactly the renter’s fields with a merge patch', () => {
    const patch = schedulingPatch(placed as never, original);
    expect(patch).toEqual({
      nodeSelector: { zone: 'a', 'rigshift.io/mode': null },
      tolerations: null,
      affinity: null,
    });
    expect(schedulingIs({ containers: [], ...placed }, placed)).toBe(true);
    expect(schedulingIs({ containers: [], ...original }, placed)).toBe(false);
  });

  it('gives an Indexed Job the rendezvous values as template annotations', () => {
    const j = job({ completionMode: 'Indexed' });
    j.spec!.template.spec!.subdomain = 'train';
    const a = rendezvousAnnotations(j, 8);
    expect(a['rigshift.io/MASTER_ADDR']).toBe('train-0.train.team-a.svc');
    expect(a['rigshift.io/WORLD_SIZE']).toBe('2');
    expect(a['rigshift.io/PET_NPROC_PER_NODE']).toBe('8');
    expect(a['rigshift.io/PET_RDZV_ENDPOINT']).toBe('train-0.train.team-a.svc:29500');
    expect(rendezvousAnnotations(job(), 8)).toEqual({});
  });
});

describe('batchProgress', () => {
  it('accrues GPU-hours and earnings at the bid while every wanted pod is ready', () => {
    const j = job({ suspend: false });
    j.status = { ready: 2, active: 2 };
    const since = Date.parse('2026-01-01T00:00:00Z');
    const l = readLedger(
      ledger({
        progress: {
          conditions: [
            {
              type: 'Running',
              status: 'True',
              reason: 'PodsReady',
              message: '',
              lastTransitionTime: '2026-01-01T00:00:00Z',
            },
          ],
          lastAccrualTime: '2026-01-01T00:00:00Z',
          gpuHours: '0.000000',
          earnedUsd: '0.000000',
          tier: 'OnDemand',
        },
      }),
    );
    const a = adaptBatchJob(j, l);
    if (!a.ok) throw new Error(a.message);
    const p = batchProgress({ job: j, view: a.view, admitted: true, nowMs: since + 30 * 60_000 });
    expect(p.gpuHours).toBe('8.000000'); // 16 GPUs × 0.5 h
    expect(p.earnedUsd).toBe('9.600000');
    expect(p.conditions?.[0]).toMatchObject({ type: 'Running', status: 'True' });
  });
});

it('trims Jobs that are not opted in to their identity', () => {
  const j = job();
  delete j.metadata!.annotations;
  expect(trimBatchJob(j)).toEqual({
    metadata: { name: 'train', namespace: 'team-a', uid: 'u1', resourceVersion: '7' },
    spec: { suspend: true, template: {} },
  });
  const opted = job();
  expect(trimBatchJob(opted)).toBe(opted);
});
