import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { miningCounts, poolKeyForPod, poolKeysForConfigMap } from '../../../src/controller/pool-keys.js';

function pod(
  name: string,
  opts: {
    pool?: string;
    owned?: boolean;
    phase?: string;
    node?: string;
    gpus?: string[];
    deleting?: boolean;
  } = {},
): V1Pod {
  const labels: Record<string, string> = {};
  if (opts.pool) labels['rigshift.io/miningpool'] = opts.pool;
  if (opts.owned ?? true) labels['app.kubernetes.io/managed-by'] = 'rigshift';
  return {
    metadata: {
      name,
      namespace: 'farm',
      labels,
      ...(opts.deleting && { deletionTimestamp: new Date('2025-03-01T00:00:00Z') }),
    },
    spec: {
      ...(opts.node !== undefined && { nodeName: opts.node }),
      containers: (opts.gpus ?? ['8']).map((g, i) => ({
        name: `c${i}`,
        resources: { limits: { 'nvidia.com/gpu': g } },
      })),
    },
    status: { phase: opts.phase ?? 'Running' },
  };
}

describe('miningCounts', () => {
  it.each([
    ['no pods', [], 0, 0],
    [
      'two running miners on two nodes',
      [pod('a', { pool: 'etc', node: 'n1' }), pod('b', { pool: 'etc', node: 'n2', gpus: ['6'] })],
      2,
      14,
    ],
    ['two containers of one pod', [pod('a', { pool: 'etc', node: 'n1', gpus: ['4', '2'] })], 1, 6],
    ['another pool', [pod('a', { pool: 'rvn', node: 'n1' })], 0, 0],
    ['a pod rigshift does not own', [pod('a', { pool: 'etc', node: 'n1', owned: false })], 0, 0],
    ['a pending pod', [pod('a', { pool: 'etc', phase: 'Pending' })], 0, 0],
    ['a terminating pod', [pod('a', { pool: 'etc', node: 'n1', deleting: true })], 0, 0],
    ['a finished pod', [pod('a', { pool: 'etc', node: 'n1', phase: 'Succeeded' })], 0, 0],
  ])('%s', (_name, pods, nodes, gpus) => {
    expect(miningCounts(pods, 'etc')).toEqual({ nodes, gpus });
  });

  it('takes requests when a container has no GPU limit', () => {
    const p = pod('a', { pool: 'etc', node: 'n1' });
    p.spec!.containers[0]!.resources = { requests: { 'nvidia.com/gpu': '3' } };
    expect(miningCounts([p], 'etc')).toEqual({ nodes: 1, gpus: 3 });
  });
});

describe('queue keys', () => {
  it('maps a mining pod to its pool', () => {
    expect(poolKeyForPod(pod('a', { pool: 'etc' }))).toBe('farm/etc');
    expect(poolKeyForPod(pod('a'))).toBeUndefined();
  });

  it('maps a ConfigMap to the pools of its namespace that read it', () => {
    const mp = (namespace: string, name: string, revenue: object, electricity: object) => ({
      metadata: { namespace, name },
      spec: { revenueUsdPerMhsDay: revenue, electricityUsdPerKwh: electricity },
    });
    const ref = (name: string) => ({ configMapKeyRef: { name, key: 'k' } });
    const pools = [
      mp('farm', 'a', ref('prices'), { value: '1' }),
      mp('farm', 'b', { value: '1' }, ref('prices')),
      mp('farm', 'c', ref('other'), { value: '1' }),
      mp('elsewhere', 'd', ref('prices'), ref('prices')),
    ];
    expect(poolKeysForConfigMap({ metadata: { namespace: 'farm', name: 'prices' } }, pools)).toEqual([
      'farm/a',
      'farm/b',
    ]);
  });
});
