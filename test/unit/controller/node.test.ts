// The node reconciler against in-memory caches and an API that records requests: the drain state machine.
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject, V1Node, V1Pod } from '@kubernetes/client-node';
import type { FleetPolicySpec } from '../../../src/api/v1alpha1/index.js';
import { arrayStore, Parsed, type Caches } from '../../../src/controller/caches.js';
import { createNodeReconciler } from '../../../src/controller/node.js';
import { buildMinerPod } from '../../../src/controller/pods.js';
import { FakeClock } from '../../../src/kube/clock.js';
import { ResourceMapper } from '../../../src/kube/resources.js';
import { ApiError, type RestClient, type RestRequest } from '../../../src/kube/rest.js';
import { NOW, foreignPod, iso, minerPod, modeNode, policy, pool, trainerPod } from './operator-fixtures.js';

interface Harness {
  requests: RestRequest[];
  events: string[];
  run(): Promise<unknown>;
}

function harness(
  node: V1Node,
  pods: V1Pod[],
  opts: { spec?: Partial<FleetPolicySpec>; foreign?: V1Pod[]; pdb?: boolean; jobs?: KubernetesObject[] } = {},
): Harness {
  const requests: RestRequest[] = [];
  const rest: RestClient = {
    kc: undefined as never,
    request: <T>(req: RestRequest) => {
      requests.push(req);
      if (opts.pdb && req.path.endsWith('/eviction')) {
        const budget = {
          reason: 'TooManyRequests',
          message: "Cannot evict pod as it would violate the pod's disruption budget.",
          details: {
            causes: [
              { type: 'DisruptionBudget', message: 'The disruption budget keep needs 1 healthy pods' },
            ],
          },
        };
        return Promise.reject(new ApiError('POST', req.path, 429, budget, undefined));
      }
      const body = {
        ...(req.body as object),
        metadata: { ...(req.body as { metadata?: object })?.metadata, resourceVersion: '99' },
      };
      return Promise.resolve({ statusCode: 200, headers: {}, body: body as T });
    },
  };
  const spec = { ...policy({ drainTimeoutSeconds: 60 }), ...opts.spec };
  const caches: Caches = {
    nodes: arrayStore(() => [node]),
    managedPods: arrayStore(() => pods),
    foreignPods: arrayStore(() => opts.foreign ?? []),
    jobs: arrayStore(() => opts.jobs ?? []),
    pools: arrayStore(() => [pool() as unknown as KubernetesObject]),
    policy: () => ({ spec, source: 'file' }),
  };
  const events: string[] = [];
  const record = (o: unknown, reason: string) => {
    events.push(`${reason} ${(o as { name: string }).name}`);
    return Promise.resolve();
  };
  const reconcile = createNodeReconciler({
    client: { rest, mapper: new ResourceMapper(rest) },
    caches,
    parsed: new Parsed(),
    events: { normal: record, warning: record },
    minerGracePeriodSeconds: 3,
    clock: new FakeClock(NOW),
  });
  return { requests, events, run: () => reconcile(node.metadata?.name ?? '', new AbortController().signal) };
}

type NodeBody = {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: { taints: unknown[] };
};
const nodeWrites = (h: Harness) =>
  h.requests
    .filter((r) => r.method === 'PATCH' && r.path.startsWith('/api/v1/nodes/'))
    .map((r) => r.body as NodeBody);
const calls = (h: Harness) => h.requests.map((r) => `${r.method} ${r.path}`);
const drainingSince = (ms: number) => ({
  'rigshift.io/draining-to': 'training',
  'rigshift.io/drain-started': iso(ms),
});

describe('node reconciler', () => {
  it('mining → training: taints and marks the node draining, then evicts its miners (never a foreign pod)', async () => {
    const h = harness(modeNode('a', 'mining', 'training'), [minerPod('m1', 'a')], {
      foreign: [foreignPod('agent', 'a', 0)],
    });
    const result = await h.run();
    const [w] = nodeWrites(h);
    expect(w?.metadata.labels).toEqual({ 'rigshift.io/mode': 'draining' });
    expect(w?.metadata.annotations).toMatchObject({
      'rigshift.io/draining-to': 'training',
      'rigshift.io/drain-started': iso(NOW),
    });
    expect(w?.spec.taints).toEqual([
      { key: 'rigshift.io/reserved', value: 'training', effect: 'NoSchedule' },
    ]);
    expect(calls(h)).toEqual(['PATCH /api/v1/nodes/a', 'POST /api/v1/namespaces/farm/pods/m1/eviction']);
    expect(h.requests[1]?.body).toMatchObject({ deleteOptions: { preconditions: { uid: 'uid-m1' } } });
    expect(h.events).toEqual(['DrainStarted a']);
    expect(result).toEqual({ requeueAfterMs: 1000 });
  });

  it('a drain with no miner left ends in the target mode', async () => {
    const h = harness(modeNode('a', 'draining', 'training', drainingSince(NOW - 5000)), []);
    await h.run();
    expect(
      nodeWrites(h).map((w) => [
        w.metadata.labels['rigshift.io/mode'],
        w.metadata.annotations['rigshift.io/draining-to'],
      ]),
    ).toEqual([['training', undefined]]);
    expect(h.events).toEqual(['ModeChanged a']);
  });

  it('a blocked eviction is reported and retried; terminating miners are waited for, not evicted again', async () => {
    const going = minerPod('m0', 'a', 8, { deletionTimestamp: new Date(NOW) });
    const h = harness(
      modeNode('a', 'draining', 'training', drainingSince(NOW - 5000)),
      [going, minerPod('m1', 'a')],
      { pdb: true },
    );
    expect(await h.run()).toEqual({ requeueAfterMs: 1000 });
    expect(calls(h)).toEqual(['POST /api/v1/namespaces/farm/pods/m1/eviction']);
    expect(h.events).toEqual(['DrainBlocked a']);
  });

  it.each<[string, string[], string[]]>([
    ['Wait', ['POST /api/v1/namespaces/farm/pods/m1/eviction'], ['DrainStalled a']],
    ['ForceEvict', ['DELETE /api/v1/namespaces/farm/pods/m1'], ['DrainForced a']],
    ['Abort', ['PATCH /api/v1/nodes/a'], ['DrainAborted a']],
  ])('past the drain timeout, policy %s', async (drainTimeoutPolicy, requests, events) => {
    const node = modeNode('a', 'draining', 'training', drainingSince(NOW - 61_000));
    const h = harness(node, [minerPod('m1', 'a')], {
      pdb: true,
      spec: { drainTimeoutPolicy: drainTimeoutPolicy as FleetPolicySpec['drainTimeoutPolicy'] },
    });
    await h.run();
    expect(calls(h)).toEqual(requests);
    expect(h.events).toEqual(events);
    if (drainTimeoutPolicy === 'Abort') {
      const w = nodeWrites(h)[0];
      expect(w?.metadata.labels['rigshift.io/mode']).toBe('mining');
      expect(w?.metadata.annotations['rigshift.io/drain-aborted']).toBe(iso(NOW));
      expect(w?.spec.taints).toEqual([]);
    }
  });

  it('after an aborted drain the node keeps mining while the plan still says training', async () => {
    const node = modeNode('a', 'mining', 'training', { 'rigshift.io/drain-aborted': iso(NOW - 10_000) }, {});
    const name =
      buildMinerPod(pool(), 'a', 8, policy(), { terminationGracePeriodSeconds: 3 }).metadata?.name ?? '';
    const h = harness(node, [minerPod(name, 'a')]);
    await h.run();
    expect(calls(h).filter((c) => c.includes('eviction'))).toEqual([]);
    expect(nodeWrites(h).map((w) => w.metadata.labels['rigshift.io/mode'])).not.toContain('draining');
  });

  it('a drain the plan no longer wants is cancelled: back to mining, untainted', async () => {
    const h = harness(modeNode('a', 'draining', 'mining', drainingSince(NOW - 5000)), [minerPod('m1', 'a')]);
    await h.run();
    const [w] = nodeWrites(h);
    expect(w?.metadata.labels['rigshift.io/mode']).toBe('mining');
    expect(w?.spec.taints).toEqual([]);
    expect(h.events).toEqual(['ModeChanged a']);
  });

  it('training → mining: untaints at once, starts the miner only once the trainers are gone', async () => {
    const trainer = trainerPod('done', 'a', 8, 'Running', { deletionTimestamp: new Date(NOW) });
    const h = harness(modeNode('a', 'training', 'mining'), [trainer]);
    await h.run();
    expect(nodeWrites(h)[0]?.metadata.labels['rigshift.io/mode']).toBe('mining');
    expect(calls(h).filter((c) => c.includes('/pods'))).toEqual([]);

    const h2 = harness(modeNode('a', 'mining', 'mining', { 'rigshift.io/target-mining-gpus': '8' }), []);
    await h2.run();
    const create = h2.requests.find((r) => r.path.includes('/pods/'));
    expect(create?.method).toBe('PATCH');
    expect(create?.query).toMatchObject({ fieldManager: 'rigshift' });
    expect(create?.path).toMatch(/^\/api\/v1\/namespaces\/farm\/pods\/etc-a-[0-9a-f]{10}$/);
  });

  it('a miner of the wrong size is replaced; the right one is left alone', async () => {
    const node = modeNode('a', 'mining', 'mining', { 'rigshift.io/target-mining-gpus': '8' });
    const h = harness(node, [minerPod('old', 'a', 6)]);
    await h.run();
    expect(calls(h)).toEqual([
      'POST /api/v1/namespaces/farm/pods/old/eviction',
      expect.stringMatching(/^PATCH \/api\/v1\/namespaces\/farm\/pods\/etc-a-/),
    ]);
    const created = h.requests[1]?.path.split('/').pop() ?? '';
    const h2 = harness(node, [minerPod(created, 'a', 8)]);
    await h2.run();
    expect(calls(h2)).toEqual([]);
  });

  it('cordoned nodes and dry runs are left exactly as they are', async () => {
    const cordoned = harness(modeNode('a', 'mining', 'training', {}, { unschedulable: true }), [
      minerPod('m1', 'a'),
    ]);
    await cordoned.run();
    expect(cordoned.requests).toEqual([]);
    const dry = harness(modeNode('a', 'mining', 'training'), [minerPod('m1', 'a')], {
      spec: { dryRun: true },
    });
    await dry.run();
    expect(dry.requests).toEqual([]);
  });
});
