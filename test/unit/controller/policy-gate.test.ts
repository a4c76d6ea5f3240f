// Fail closed: without a valid FleetPolicy the node and job reconcilers write nothing to nodes or pods.
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { arrayStore, Parsed, type Caches } from '../../../src/controller/caches.js';
import { createJobReconciler } from '../../../src/controller/job.js';
import { createNodeReconciler } from '../../../src/controller/node.js';
import { effectivePolicy } from '../../../src/controller/policy.js';
import { FakeClock } from '../../../src/kube/clock.js';
import { ResourceMapper } from '../../../src/kube/resources.js';
import type { RestClient, RestRequest } from '../../../src/kube/rest.js';
import { NOW, job, minerPod, modeNode, policy, pool, trainerPod } from './operator-fixtures.js';

const invalid = { metadata: { name: 'default' }, spec: { drainTimeoutPolicy: 'Sometimes', dryRun: true } };

function world(stored: { object: unknown }) {
  const requests: RestRequest[] = [];
  const rest: RestClient = {
    kc: undefined as never,
    request: <T>(req: RestRequest) => {
      requests.push(req);
      const body = { ...(req.body as object), metadata: { resourceVersion: '99' } };
      return Promise.resolve({ statusCode: 200, headers: {}, body: body as T });
    },
  };
  // A node asked to train while it mines, a mining node without a miner, a deleted job with a live pod, and an
  // admitted job whose nodes train but has no pod yet: each would be written to with a policy.
  const nodes = [modeNode('a', 'mining', 'training'), modeNode('b', 'mining'), modeNode('c', 'training')];
  const deleted = job('gone', { replicas: 1 }, undefined, {
    deletionTimestamp: new Date(NOW).toISOString(),
    finalizers: ['rigshift.io/cleanup'],
  });
  const admitted = job(
    'run',
    { replicas: 1 },
    {
      assignedNodes: ['c'],
      conditions: [
        {
          type: 'Admitted',
          status: 'True',
          reason: 'Placed',
          message: '',
          lastTransitionTime: '2025-03-01T11:00:00Z',
        },
      ],
    },
    { finalizers: ['rigshift.io/cleanup'] },
  );
  const caches: Caches = {
    nodes: arrayStore(() => nodes),
    managedPods: arrayStore(() => [minerPod('m-a', 'a'), trainerPod('gone', 'c')]),
    foreignPods: arrayStore(() => []),
    jobs: arrayStore(() => [deleted, admitted] as unknown as KubernetesObject[]),
    pools: arrayStore(() => [pool() as unknown as KubernetesObject]),
    policy: () => effectivePolicy(undefined, stored.object),
  };
  const events: string[] = [];
  const record = (_o: unknown, reason: string) => {
    events.push(reason);
    return Promise.resolve();
  };
  const base = {
    client: { rest, mapper: new ResourceMapper(rest) },
    caches,
    parsed: new Parsed(),
    events: { normal: record, warning: record },
    clock: new FakeClock(NOW),
  };
  const node = createNodeReconciler({ ...base, minerGracePeriodSeconds: 1 });
  const jobs = createJobReconciler(base);
  const signal = new AbortController().signal;
  return {
    requests,
    events,
    async runAll() {
      for (const n of ['a', 'b', 'c']) await node(n, signal);
      for (const k of ['ml/gone', 'ml/run']) await jobs(k, signal);
    },
  };
}

describe('no valid policy: no node or pod writes', () => {
  it.each([
    ['missing', undefined],
    ['invalid', invalid],
  ])('FleetPolicy %s: the node and job reconcilers write nothing', async (_what, object) => {
    const w = world({ object });
    await w.runAll();
    expect(w.requests).toEqual([]);
    expect(w.events).toEqual([]);
  });

  it('the same world with a valid policy is written to (the check above can fail)', async () => {
    const w = world({ object: { metadata: { name: 'default' }, spec: policy() } });
    await w.runAll();
    const calls = w.requests.map((r) => `${r.method} ${r.path}`);
    expect(calls).toEqual(
      expect.arrayContaining([
        'PATCH /api/v1/nodes/a',
        'POST /api/v1/namespaces/farm/pods/m-a/eviction',
        'DELETE /api/v1/namespaces/ml/pods/gone-c',
      ]),
    );
  });
});
