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
  opts: {
    spec?: Partial<FleetPolicySpec>;
    foreign?: V1Pod[];
    pdb?: boolean;
    /** Two PodDisruptionBudgets select the miners: the Eviction API answers 500. */
    severalPdbs?: boolean;
    jobs?: KubernetesObject[];
  } = {},
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
      if (opts.severalPdbs && req.path.endsWith('/eviction')) {
        const status = {
          reason: 'InternalError',
          message:
            'Internal error occurred: This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
        };
        return Promise.reject(new ApiError('POST', req.path, 500, status, undefined));
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
    // DrainStarted said where it goes and why; its end is the label, not one more Event.
    expect(h.events).toEqual([]);
  });

  it('queued again before its own node write reaches the cache: acts on nothing, looks again', async () => {
    const h = harness(modeNode('a', 'mining', 'training'), [minerPod('m1', 'a')]);
    await h.run();
    const first = h.requests.length;
    expect(first).toBeGreaterThan(0);
    // The cache still shows the node as it was before the write (the fake API's answer carries version 99).
    expect(await h.run()).toEqual({ requeueAfterMs: 2000 });
    expect(h.requests.length).toBe(first);
  });

  it('queued again before a miner’s eviction reaches the cache: evicted once, not twice', async () => {
    const h = harness(modeNode('a', 'draining', 'training', drainingSince(NOW - 1000)), [
      minerPod('m1', 'a'),
    ]);
    await h.run();
    await h.run();
    expect(calls(h)).toEqual(['POST /api/v1/namespaces/farm/pods/m1/eviction']);
  });

  it('a blocked eviction is reported, recorded on the node and retried; terminating miners are waited for', async () => {
    const going = minerPod('m0', 'a', 8, { deletionTimestamp: new Date(NOW) });
    const h = harness(
      modeNode('a', 'draining', 'training', drainingSince(NOW - 5000)),
      [going, minerPod('m1', 'a')],
      { pdb: true },
    );
    expect(await h.run()).toEqual({ requeueAfterMs: 1250 });
    expect(calls(h)).toEqual(['POST /api/v1/namespaces/farm/pods/m1/eviction', 'PATCH /api/v1/nodes/a']);
    expect(nodeWrites(h)[0]?.metadata.annotations['rigshift.io/drain-stalled']).toBe(
      "farm/m1: eviction refused by a PodDisruptionBudget: Cannot evict pod as it would violate the pod's " +
        'disruption budget.',
    );
    expect(nodeWrites(h)[0]?.metadata.labels['rigshift.io/mode']).toBe('draining');
    expect(h.events).toEqual(['DrainBlocked a']);
  });

  it('two budgets on one miner: the cause is named, not a bare error', async () => {
    const h = harness(
      modeNode('a', 'draining', 'training', drainingSince(NOW - 5000)),
      [minerPod('m1', 'a')],
      {
        severalPdbs: true,
      },
    );
    await h.run();
    expect(nodeWrites(h)[0]?.metadata.annotations['rigshift.io/drain-stalled']).toBe(
      'farm/m1: more than one PodDisruptionBudget selects it, so the Eviction API refuses to evict it',
    );
    expect(h.events).toEqual(['DrainBlocked a']);
  });

  it('a miner held by a finalizer past its grace is named before the timeout, and never evicted again', async () => {
    const held = minerPod('m1', 'a', 8, {
      deletionTimestamp: new Date(NOW - 2000),
      finalizers: ['example.com/hold'],
    });
    const h = harness(modeNode('a', 'draining', 'training', drainingSince(NOW - 5000)), [held]);
    await h.run();
    expect(calls(h)).toEqual(['PATCH /api/v1/nodes/a']);
    expect(nodeWrites(h)[0]?.metadata.annotations['rigshift.io/drain-stalled']).toBe(
      'farm/m1: Terminating, held by finalizer example.com/hold',
    );
    expect(h.events).toEqual(['DrainBlocked a']);
  });

  it('an unchanged stall is not written again', async () => {
    const held = minerPod('m1', 'a', 8, {
      deletionTimestamp: new Date(NOW - 2000),
      finalizers: ['example.com/hold'],
    });
    const node = modeNode('a', 'draining', 'training', {
      ...drainingSince(NOW - 5000),
      'rigshift.io/drain-stalled': 'farm/m1: Terminating, held by finalizer example.com/hold',
    });
    const h = harness(node, [held]);
    await h.run();
    expect(calls(h)).toEqual([]);
  });

  it.each<[string, string[], string[]]>([
    ['Wait', ['POST /api/v1/namespaces/farm/pods/m1/eviction', 'PATCH /api/v1/nodes/a'], ['DrainStalled a']],
    ['ForceEvict', ['DELETE /api/v1/namespaces/farm/pods/m1', 'PATCH /api/v1/nodes/a'], ['DrainForced a']],
    ['Abort', ['PATCH /api/v1/nodes/a'], ['DrainStalled a', 'DrainAborted a']],
  ])('past the drain timeout, policy %s', async (drainTimeoutPolicy, requests, events) => {
    const node = modeNode('a', 'draining', 'training', {
      ...drainingSince(NOW - 61_000),
      'rigshift.io/drain-stalled': 'farm/m1: eviction refused by a PodDisruptionBudget: keep',
    });
    const h = harness(node, [minerPod('m1', 'a')], {
      pdb: true,
      spec: { drainTimeoutPolicy: drainTimeoutPolicy as FleetPolicySpec['drainTimeoutPolicy'] },
    });
    await h.run();
    expect(calls(h)).toEqual(requests);
    expect(h.events).toEqual(events);
    if (drainTimeoutPolicy === 'ForceEvict') {
      expect(h.requests[0]?.body).toMatchObject({ gracePeriodSeconds: 0, preconditions: { uid: 'uid-m1' } });
      expect(nodeWrites(h)[0]?.metadata.annotations['rigshift.io/drain-stalled']).toBe(
        'farm/m1: deleted with grace 0 by policy ForceEvict, waiting for it to go',
      );
    }
    if (drainTimeoutPolicy === 'Abort') {
      const w = nodeWrites(h)[0];
      expect(w?.metadata.labels['rigshift.io/mode']).toBe('mining');
      expect(w?.metadata.annotations['rigshift.io/drain-aborted']).toBe(iso(NOW));
      // The cause found while draining stays on the node through the cool-down.
      expect(w?.metadata.annotations['rigshift.io/drain-stalled']).toBe(
        'farm/m1: eviction refused by a PodDisruptionBudget: keep',
      );
      expect(w?.spec.taints).toEqual([]);
    }
  });

  it('ForceEvict: a miner deleted with grace 0 that stays is reported, then the drain gives up at twice the timeout', async () => {
    const held = minerPod('m1', 'a', 8, {
      deletionTimestamp: new Date(NOW - 30_000),
      deletionGracePeriodSeconds: 0,
      finalizers: ['example.com/hold'],
    });
    const spec = { drainTimeoutPolicy: 'ForceEvict' as const };
    const h = harness(modeNode('a', 'draining', 'training', drainingSince(NOW - 90_000)), [held], { spec });
    expect(await h.run()).toEqual({ requeueAfterMs: 22_500 });
    expect(calls(h)).toEqual(['PATCH /api/v1/nodes/a']);
    expect(nodeWrites(h)[0]?.metadata.annotations['rigshift.io/drain-stalled']).toBe(
      'farm/m1: Terminating, held by finalizer example.com/hold, deleted with grace 0',
    );
    expect(h.events).toEqual(['DrainStalled a']);

    const later = harness(modeNode('a', 'draining', 'training', drainingSince(NOW - 120_000)), [held], {
      spec,
    });
    await later.run();
    const [w] = nodeWrites(later);
    expect(w?.metadata.labels['rigshift.io/mode']).toBe('mining');
    expect(w?.metadata.annotations['rigshift.io/drain-aborted']).toBe(iso(NOW));
    expect(w?.metadata.annotations['rigshift.io/drain-stalled']).toBe(
      'farm/m1: Terminating, held by finalizer example.com/hold',
    );
    expect(later.events).toEqual(['DrainStalled a', 'DrainAborted a']);
  });

  it('a terminating miner its node reports Failed no longer holds the drain (the kubelet said it stopped)', async () => {
    const done = minerPod('m1', 'a', 8, { deletionTimestamp: new Date(NOW - 30_000), finalizers: ['x/y'] });
    done.status = { phase: 'Failed' };
    const h = harness(modeNode('a', 'draining', 'training', drainingSince(NOW - 90_000)), [done]);
    await h.run();
    expect(nodeWrites(h).map((w) => w.metadata.labels['rigshift.io/mode'])).toEqual(['training']);
  });

  it.each<[string, number, number]>([
    ['young: every second', 2_000, 1000],
    ['older: a quarter of its age', 20_000, 5000],
    ['never past the timeout', 50_000, 10_000],
    ['long stalled: at most every 30 s', 600_000, 30_000],
  ])('a drain is looked at again with backoff (%s)', async (_n, ageMs, wantMs) => {
    const node = modeNode('a', 'draining', 'training', drainingSince(NOW - ageMs));
    const h = harness(node, [minerPod('m1', 'a')], { pdb: true });
    expect(await h.run()).toEqual({ requeueAfterMs: wantMs });
  });

  it('policy changed the mode label and taint keys: the node moves to them, the old ones go', async () => {
    const p = { modeLabelKey: 'farm.example/mode', reservedTaintKey: 'farm.example/busy' };
    const h = harness(modeNode('a', 'training', 'training'), [], { spec: p });
    await h.run();
    const [w] = nodeWrites(h);
    // Still training (read under the recorded old key): no drain, no switch, only the keys move.
    expect(w?.metadata.labels).toEqual({ 'farm.example/mode': 'training' });
    expect(w?.spec.taints).toEqual([{ key: 'farm.example/busy', value: 'training', effect: 'NoSchedule' }]);
    expect(w?.metadata.annotations).toMatchObject({
      'rigshift.io/mode-label-key': 'farm.example/mode',
      'rigshift.io/taint-key': 'farm.example/busy',
      'rigshift.io/mode-since': iso(NOW - 3_600_000),
    });
    expect(h.events).toEqual([]);
  });

  it('after an aborted drain the node keeps mining while the plan still says training', async () => {
    const node = modeNode('a', 'mining', 'training', { 'rigshift.io/drain-aborted': iso(NOW - 10_000) }, {});
    const name =
      buildMinerPod(pool(), 'a', 8, policy(), { terminationGracePeriodSeconds: 3 }).metadata?.name ?? '';
    const h = harness(node, [minerPod(name, 'a')]);
    // Looked at again when the cool-down ends (60 s drain timeout, aborted 10 s ago).
    expect(await h.run()).toEqual({ requeueAfterMs: 50_000 });
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
