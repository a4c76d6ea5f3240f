import { describe, expect, it } from '@jest/globals';
import { effectiveResources, parseFleetPolicy, parseTrainingJob } from '../../../src/api/v1alpha1/index.js';
import { ttlRemainingMs } from '../../../src/controller/job.js';
import { buildTrainingPod } from '../../../src/controller/pods.js';
import { job, policy } from './operator-fixtures.js';

/** The QoS class the kubelet would give a pod (cpu and memory only, as Kubernetes counts it). */
function qos(p: ReturnType<typeof buildTrainingPod>): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const c = p.spec?.containers[0]?.resources ?? {};
  const req = { ...c.limits, ...c.requests } as Record<string, string>;
  const lim = (c.limits ?? {}) as Record<string, string>;
  const set = ['cpu', 'memory'].filter((r) => req[r] !== undefined || lim[r] !== undefined);
  if (set.length === 0) return 'BestEffort';
  const guaranteed = ['cpu', 'memory'].every((r) => lim[r] !== undefined && (req[r] ?? lim[r]) === lim[r]);
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

describe('a replica’s CPU and memory', () => {
  it('a job that sets none gets the FleetPolicy default: Burstable, never BestEffort', () => {
    const p = buildTrainingPod(job('llm'), 0, 0, 'gpu-1', policy());
    expect(p.spec?.containers[0]?.resources).toEqual({
      requests: { cpu: '1', memory: '2Gi', 'nvidia.com/gpu': '8' },
      limits: { 'nvidia.com/gpu': '8' },
    });
    expect(qos(p)).toBe('Burstable');
  });

  it('the job’s own requests and limits win per resource; equal ones make it Guaranteed', () => {
    const g = buildTrainingPod(
      job('llm', {
        resources: { requests: { cpu: '32', memory: '200Gi' }, limits: { cpu: '32', memory: '200Gi' } },
      }),
      0,
      0,
      'gpu-1',
      policy(),
    );
    expect(g.spec?.containers[0]?.resources).toEqual({
      requests: { cpu: '32', memory: '200Gi', 'nvidia.com/gpu': '8' },
      limits: { cpu: '32', memory: '200Gi', 'nvidia.com/gpu': '8' },
    });
    expect(qos(g)).toBe('Guaranteed');
  });

  it('pairs are never mixed: a job’s memory request above the default’s memory limit keeps no default limit', () => {
    const fallback = { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '4', memory: '8Gi' } };
    expect(effectiveResources({ requests: { memory: '64Gi' } }, fallback)).toEqual({
      requests: { cpu: '2', memory: '64Gi' },
      limits: { cpu: '4' },
    });
    expect(effectiveResources(undefined, fallback)).toEqual(fallback);
    expect(effectiveResources({ limits: { cpu: '8' } }, undefined)).toEqual({
      requests: {},
      limits: { cpu: '8' },
    });
  });

  it('requests above limits are refused with the field named; the FleetPolicy default may not be empty', () => {
    const bad = parseTrainingJob({
      metadata: { name: 'x', namespace: 'ml' },
      spec: {
        image: 'i',
        bidUsdPerGpuHour: '1',
        resources: { requests: { memory: '10Gi' }, limits: { memory: '8Gi' } },
      },
    });
    expect(bad.ok).toBe(false);
    expect(bad.ok ? '' : bad.error).toMatch(
      /spec\.resources\.requests\.memory must not exceed spec\.resources\.limits\.memory/,
    );
    const zero = parseTrainingJob({
      metadata: { name: 'x', namespace: 'ml' },
      spec: { image: 'i', bidUsdPerGpuHour: '1', resources: { requests: { cpu: '0' } } },
    });
    expect(zero.ok ? '' : zero.error).toMatch(
      /spec\.resources\.requests\.cpu must be a positive Kubernetes quantity/,
    );
    const empty = parseFleetPolicy({ metadata: { name: 'default' }, spec: { defaultTrainingResources: {} } });
    expect(empty.ok ? '' : empty.error).toMatch(/defaultTrainingResources must set a cpu or memory request/);
  });
});

describe('the rest of a replica’s pod spec', () => {
  const full = job('llm', {
    imagePullSecrets: [{ name: 'registry' }],
    serviceAccountName: 'trainer',
    runtimeClassName: 'gvisor',
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      supplementalGroups: [2000],
      readOnlyRootFilesystem: true,
    },
    tolerations: [
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'farm/maintenance', value: 'soon', effect: 'NoExecute', tolerationSeconds: 600 },
    ],
  });
  const p = buildTrainingPod(full, 0, 0, 'gpu-1', policy());

  it('carries the job’s pull secrets, ServiceAccount (token unmounted), runtime class and security context', () => {
    expect(p.spec?.imagePullSecrets).toEqual([{ name: 'registry' }]);
    expect(p.spec?.serviceAccountName).toBe('trainer');
    expect(p.spec?.automountServiceAccountToken).toBe(false);
    expect(p.spec?.runtimeClassName).toBe('gvisor');
    expect(p.spec?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      supplementalGroups: [2000],
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(p.spec?.containers[0]?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
    });
  });

  it('further tolerations after the operator’s own; priority and pinning stay the operator’s', () => {
    expect(p.spec?.tolerations).toEqual([
      { key: 'rigshift.io/reserved', operator: 'Equal', value: 'training', effect: 'NoSchedule' },
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      {
        key: 'farm/maintenance',
        operator: 'Equal',
        value: 'soon',
        effect: 'NoExecute',
        tolerationSeconds: 600,
      },
    ]);
    expect(p.spec?.priorityClassName).toBe('rigshift-training');
    expect(
      p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    ).toEqual([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['gpu-1'] }] }]);
  });

  it('the job’s nodeSelector is on the pod, next to the pin; the operator’s labels and a foreign product refused', () => {
    const zoned = buildTrainingPod(
      job('llm', { nodeSelector: { 'topology.kubernetes.io/zone': 'dc-2' } }),
      0,
      0,
      'gpu-1',
      policy(),
    );
    expect(zoned.spec?.nodeSelector).toEqual({ 'topology.kubernetes.io/zone': 'dc-2' });
    expect(p.spec?.nodeSelector).toBeUndefined();
    const parse = (spec: Record<string, unknown>) =>
      parseTrainingJob({
        metadata: { name: 'x', namespace: 'ml' },
        spec: { image: 'i', bidUsdPerGpuHour: '1', ...spec },
      });
    const own = parse({ nodeSelector: { 'rigshift.io/mode': 'mining' } });
    expect(own.ok ? '' : own.error).toMatch(/must not name rigshift\.io\/ labels/);
    const foreign = parse({
      gpuProducts: ['NVIDIA-GeForce-RTX-4090'],
      nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-GeForce-RTX-3090' },
    });
    expect(foreign.ok ? '' : foreign.error).toMatch(/must be one of spec\.gpuProducts/);
    expect(parse({ gpuProducts: ['A'], nodeSelector: { 'nvidia.com/gpu.product': 'A' } }).ok).toBe(true);
  });

  it('a toleration the API server would refuse is refused on the job, naming the field', () => {
    const t = (tol: Record<string, unknown>) =>
      parseTrainingJob({
        metadata: { name: 'x', namespace: 'ml' },
        spec: { image: 'i', bidUsdPerGpuHour: '1', tolerations: [tol] },
      });
    const msg = (r: ReturnType<typeof t>) => (r.ok ? '' : r.error);
    expect(msg(t({ key: 'a', operator: 'Exists', value: 'b' }))).toMatch(
      /with operator Exists, value must be empty/,
    );
    expect(msg(t({ value: 'b' }))).toMatch(/an empty key needs operator Exists/);
    expect(msg(t({ key: 'a', effect: 'NoSchedule', tolerationSeconds: 5 }))).toMatch(
      /only for effect NoExecute/,
    );
    expect(t({ operator: 'Exists' }).ok).toBe(true);
  });
});

describe('ttlSecondsAfterFinished', () => {
  const ended = (ttl: number | undefined, endTime?: string) =>
    job('llm', ttl === undefined ? {} : { ttlSecondsAfterFinished: ttl }, {
      ...(endTime ? { endTime } : {}),
      conditions: [
        {
          type: 'Succeeded',
          status: 'True',
          reason: 'AllReplicasSucceeded',
          message: '',
          lastTransitionTime: '2025-03-01T12:00:10Z',
        },
      ],
    });
  const now = Date.parse('2025-03-01T12:01:00Z');

  it('counts from status.endTime, else from when the job ended; nothing without a TTL', () => {
    expect(ttlRemainingMs(ended(120, '2025-03-01T12:00:00Z'), now)).toBe(60_000);
    expect(ttlRemainingMs(ended(30, '2025-03-01T12:00:00Z'), now)).toBe(-30_000);
    expect(ttlRemainingMs(ended(0, '2025-03-01T12:01:00Z'), now)).toBe(0);
    expect(ttlRemainingMs(ended(60), now)).toBe(10_000);
    expect(ttlRemainingMs(ended(undefined, '2025-03-01T12:00:00Z'), now)).toBeUndefined();
  });
});
