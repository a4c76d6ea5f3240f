// Renter limits: what a gang takes from its namespace's ResourceQuotas, and the planner waiting it
// (QuotaExceeded) without moving a node.
import { describe, expect, it } from '@jest/globals';
import type { V1ResourceQuota } from '@kubernetes/client-node';
import { buildTrainingPod } from '../../../src/controller/pods.js';
import { podUsage, quotaApplies, quotaView } from '../../../src/controller/quota.js';
import { buildSnapshot, type SnapshotInput } from '../../../src/controller/snapshot.js';
import { plan } from '../../../src/planner/index.js';
import { condition, job, minerPod, modeNode, policy, pool, trainerPod, NOW } from './operator-fixtures.js';

function quota(
  name: string,
  hard: Record<string, string>,
  used: Record<string, string> | undefined,
  spec: Partial<NonNullable<V1ResourceQuota['spec']>> = {},
  namespace = 'ml',
): V1ResourceQuota {
  return {
    metadata: { name, namespace },
    spec: { hard, ...spec },
    ...(used ? { status: { hard, used } } : {}),
  };
}

const replica = (over: Record<string, unknown> = {}) =>
  buildTrainingPod(job('j', over), 0, 0, 'n0', policy());

function input(over: Partial<SnapshotInput> = {}): SnapshotInput {
  const nodes = ['n0', 'n1', 'n2', 'n3'].map((n) => modeNode(n, 'mining'));
  return {
    nowMs: NOW,
    nodes,
    managedPods: nodes.map((n) => minerPod(`m-${n.metadata?.name}`, n.metadata?.name ?? '')),
    foreignPods: [],
    jobs: [job('big')],
    pools: [pool()],
    policy: policy({ maxConcurrentDrains: 10 }),
    ...over,
  };
}

describe('what one replica takes of a quota resource', () => {
  it.each([
    ['requests.nvidia.com/gpu', 8],
    ['limits.nvidia.com/gpu', 8],
    ['pods', 1],
    ['count/pods', 1],
    ['requests.cpu', 1], // the FleetPolicy's defaultTrainingResources
    ['cpu', 1],
    ['limits.cpu', 0],
    ['requests.storage', 0],
    ['count/services', 0],
  ])('%s → %d', (resource, amount) => {
    expect(podUsage(replica(), resource)).toBe(amount);
  });

  it('CPU and memory from the containers, a request defaulting to its limit', () => {
    const pod = replica();
    const c = pod.spec!.containers[0]!;
    c.resources = {
      requests: { cpu: '500m', memory: '2Gi', 'amd.com/gpu': '2' },
      limits: { cpu: '2', memory: '4Gi', 'amd.com/gpu': '2' },
    };
    expect(podUsage(pod, 'requests.cpu')).toBe(0.5);
    expect(podUsage(pod, 'cpu')).toBe(0.5);
    expect(podUsage(pod, 'limits.cpu')).toBe(2);
    expect(podUsage(pod, 'requests.memory')).toBe(2 * 2 ** 30);
    expect(podUsage(pod, 'limits.memory')).toBe(4 * 2 ** 30);
    expect(podUsage(pod, 'requests.amd.com/gpu')).toBe(2);
  });
});

describe('quota scopes', () => {
  const pod = replica();
  const sel = (scopeName: string, operator: string, values?: string[]) =>
    quota('q', { pods: '1' }, undefined, {
      scopeSelector: { matchExpressions: [{ scopeName, operator, ...(values ? { values } : {}) }] },
    });
  it.each([
    ['PriorityClass In the training class', sel('PriorityClass', 'In', ['rigshift-training']), true],
    ['PriorityClass In another class', sel('PriorityClass', 'In', ['gold']), false],
    ['PriorityClass NotIn the training class', sel('PriorityClass', 'NotIn', ['rigshift-training']), false],
    ['PriorityClass Exists', sel('PriorityClass', 'Exists'), true],
    ['PriorityClass DoesNotExist', sel('PriorityClass', 'DoesNotExist'), false],
    [
      'scope Terminating (replicas have no deadline)',
      quota('q', {}, undefined, { scopes: ['Terminating'] }),
      false,
    ],
    ['scope NotTerminating', quota('q', {}, undefined, { scopes: ['NotTerminating'] }), true],
    ['scope BestEffort (fail closed: counted)', quota('q', {}, undefined, { scopes: ['BestEffort'] }), true],
    [
      'scope NotBestEffort (fail closed: counted)',
      quota('q', {}, undefined, { scopes: ['NotBestEffort'] }),
      true,
    ],
    [
      'CrossNamespacePodAffinity',
      quota('q', {}, undefined, { scopes: ['CrossNamespacePodAffinity'] }),
      false,
    ],
    ['no scope', quota('q', {}, undefined), true],
  ])('%s: applies %s', (_what, q, applies) => {
    expect(quotaApplies(q, pod)).toBe(applies);
  });
});

describe('quotaView', () => {
  const qj = (key: string, phase: 'pending' | 'admitted' | 'running', livePods = 0) => ({
    key: `ml/${key}`,
    namespace: 'ml',
    phase,
    replicas: 2,
    replica: replica(),
    livePods,
  });

  it("a pending gang's needs; quotas of other namespaces and unrelated resources ignored", () => {
    const v = quotaView(
      [
        quota(
          'gpus',
          { 'requests.nvidia.com/gpu': '16', 'count/services': '2' },
          {
            'requests.nvidia.com/gpu': '8',
            'count/services': '0',
          },
        ),
        quota(
          'elsewhere',
          { 'requests.nvidia.com/gpu': '0' },
          { 'requests.nvidia.com/gpu': '0' },
          {},
          'other',
        ),
      ],
      [qj('a', 'pending')],
    );
    expect(v.needs.get('ml/a')).toEqual([
      { quota: 'ml/gpus', resource: 'requests.nvidia.com/gpu', amount: 16 },
    ]);
    expect(v.quotas).toEqual([
      { key: 'ml/gpus', resources: [{ resource: 'requests.nvidia.com/gpu', hard: 16, used: 8, held: 0 }] },
    ]);
    expect(v.blocked.size).toBe(0);
  });

  it('an admitted gang holds what its missing pods will take; a running one holds nothing more', () => {
    const v = quotaView(
      [
        quota(
          'gpus',
          { 'requests.nvidia.com/gpu': '64', pods: '10' },
          { 'requests.nvidia.com/gpu': '24', pods: '3' },
        ),
      ],
      [qj('a', 'admitted', 1), qj('b', 'running', 2), qj('c', 'admitted', 0)],
    );
    const rooms = v.quotas[0]?.resources;
    expect(rooms).toContainEqual({ resource: 'requests.nvidia.com/gpu', hard: 64, used: 24, held: 8 + 16 });
    expect(rooms).toContainEqual({ resource: 'pods', hard: 10, used: 3, held: 1 + 2 });
  });

  it('a quota the quota controller has not counted yet blocks (fail closed)', () => {
    const v = quotaView(
      [quota('gpus', { 'requests.nvidia.com/gpu': '16' }, undefined)],
      [qj('a', 'pending')],
    );
    expect(v.blocked.get('ml/a')).toBe(
      'ResourceQuota gpus in ns ml: requests.nvidia.com/gpu not counted yet by the quota controller',
    );
  });
});

describe('through buildSnapshot and plan()', () => {
  it('a 2×8 gang in a namespace whose quota allows 8 GPUs waits QuotaExceeded and no node moves', () => {
    const q = quota('gpus', { 'requests.nvidia.com/gpu': '16' }, { 'requests.nvidia.com/gpu': '8' });
    const p = plan(buildSnapshot(input({ quotas: [q] })).snapshot);
    expect(p.placements).toEqual([]);
    expect(p.drains).toEqual([]);
    expect(p.nodes.every((n) => n.mode === 'mining' && !n.changed)).toBe(true);
    expect(p.queued).toEqual([
      {
        job: 'ml/big',
        code: 'QuotaExceeded',
        reason: 'ResourceQuota gpus in ns ml: requests.nvidia.com/gpu needs 16, 8 free (8 used of 16)',
      },
    ]);
  });

  it('the CPU and memory a replica requests (spec.resources) count against requests.cpu / requests.memory', () => {
    const q = quota(
      'compute',
      { 'requests.cpu': '6', 'requests.memory': '64Gi' },
      { 'requests.cpu': '500m', 'requests.memory': '40Gi' },
    );
    const big = job('big', { resources: { requests: { cpu: '4', memory: '16Gi' } } });
    const p = plan(buildSnapshot(input({ quotas: [q], jobs: [big] })).snapshot);
    expect(p.placements).toEqual([]);
    expect(p.queued[0]?.reason).toBe(
      'ResourceQuota compute in ns ml: requests.cpu needs 8, 5.5 free (0.5 used of 6); ' +
        'ResourceQuota compute in ns ml: requests.memory needs 32Gi, 24Gi free (40Gi used of 64Gi)',
    );
  });

  it('raised, the same gang is placed', () => {
    const q = quota('gpus', { 'requests.nvidia.com/gpu': '32' }, { 'requests.nvidia.com/gpu': '8' });
    const p = plan(buildSnapshot(input({ quotas: [q] })).snapshot);
    expect(p.placements.map((x) => x.job)).toEqual(['ml/big']);
  });

  it('a quota scoped to another PriorityClass does not hold it back', () => {
    const q = quota(
      'gpus',
      { 'requests.nvidia.com/gpu': '0' },
      { 'requests.nvidia.com/gpu': '0' },
      {
        scopeSelector: {
          matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['gold'] }],
        },
      },
    );
    expect(plan(buildSnapshot(input({ quotas: [q] })).snapshot).placements).toHaveLength(1);
  });

  it('two gangs that each fit but not together: the higher bid is placed, the other waits', () => {
    const q = quota('pods', { 'count/pods': '3' }, { 'count/pods': '0' });
    const jobs = [job('hi', { bidUsdPerGpuHour: '2.00' }), job('lo', { bidUsdPerGpuHour: '1.50' })];
    const p = plan(buildSnapshot(input({ quotas: [q], jobs })).snapshot);
    expect(p.placements.map((x) => x.job)).toEqual(['ml/hi']);
    expect(p.queued).toEqual([
      {
        job: 'ml/lo',
        code: 'QuotaExceeded',
        reason:
          'ResourceQuota pods in ns ml: count/pods needs 2, 1 free (0 used of 3, 2 held for admitted jobs)',
      },
    ]);
  });

  it("an admitted gang's pods not created yet are held: a new gang does not take them", () => {
    const since = NOW - 60_000;
    const admitted = job(
      'first',
      { bidUsdPerGpuHour: '2.00' },
      { assignedNodes: ['n0', 'n1'], conditions: [condition('Admitted', 'True', since)] },
    );
    const q = quota('gpus', { 'requests.nvidia.com/gpu': '24' }, { 'requests.nvidia.com/gpu': '8' });
    const pods = [...input().managedPods, trainerPod('first', 'n0')];
    const p = plan(
      buildSnapshot(input({ quotas: [q], jobs: [admitted, job('second')], managedPods: pods })).snapshot,
    );
    expect(p.queued[0]).toMatchObject({ job: 'ml/second', code: 'QuotaExceeded' });
    expect(p.queued[0]?.reason).toContain('needs 16, 8 free (8 used of 24, 8 held for admitted jobs)');
  });
});
