// The fleet reconciler against an in-memory API server that records every request.
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject, V1Node } from '@kubernetes/client-node';
import { arrayStore, Parsed, type Caches } from '../../../src/controller/caches.js';
import { Expectations } from '../../../src/controller/expectations.js';
import { createFleetReconciler } from '../../../src/controller/fleet.js';
import { isWriteRace } from '../../../src/controller/retry.js';
import { buildSnapshot } from '../../../src/controller/snapshot.js';
import { plan } from '../../../src/planner/index.js';
import { effectivePolicy } from '../../../src/controller/policy.js';
import { FakeClock } from '../../../src/kube/clock.js';
import { ResourceMapper } from '../../../src/kube/resources.js';
import { ApiError, type RestClient, type RestRequest } from '../../../src/kube/rest.js';
import { NOW, minerPod, modeNode, policy, pool } from './operator-fixtures.js';
import type { FleetPolicySpec } from '../../../src/api/v1alpha1/index.js';

const rawJob = (name: string, spec: Record<string, unknown> = {}): KubernetesObject =>
  ({
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'TrainingJob',
    metadata: {
      name,
      namespace: 'ml',
      uid: `uid-${name}`,
      generation: 1,
      resourceVersion: '5',
      finalizers: ['rigshift.io/cleanup'],
    },
    spec: { image: 'train:1', replicas: 2, gpusPerReplica: 8, bidUsdPerGpuHour: '1.00', ...spec },
  }) as KubernetesObject;

interface Harness {
  requests: RestRequest[];
  run(): Promise<unknown>;
  expectations: Expectations;
  events: string[];
}

function harness(
  opts: {
    jobs?: KubernetesObject[];
    spec?: Partial<FleetPolicySpec>;
    clusterPolicy?: boolean;
    /** The cluster's FleetPolicy as stored, read each round: undefined in the box means none. */
    stored?: { object: unknown };
    fail?: (r: RestRequest) => Error | undefined;
    /** Informers whose watch is silent (read each round). */
    stale?: { name: string; silentMs: number }[];
  } = {},
): Harness {
  const names = ['n0', 'n1', 'n2', 'n3'];
  const pods = names.map((n) => minerPod(`m-${n}`, n));
  // Nodes as the last plan without jobs left them: mining, with the planner's reason.
  const bare = names.map((n) => modeNode(n, 'mining'));
  const input = {
    nowMs: NOW,
    nodes: bare,
    managedPods: pods,
    foreignPods: [],
    jobs: [],
    pools: [pool()],
    policy: policy(),
  };
  const reason = plan(buildSnapshot(input).snapshot).nodes[0]?.reason ?? '';
  expect(reason).toMatch(/^mining: mining yield 0.30 USD\/GPU-h beats idle/);
  const nodes: V1Node[] = names.map((n) =>
    modeNode(n, 'mining', 'mining', {
      'rigshift.io/target-reason': reason,
      'rigshift.io/target-mining-gpus': '8',
    }),
  );
  const requests: RestRequest[] = [];
  let rv = 100;
  const rest: RestClient = {
    kc: undefined as never,
    request: <T>(req: RestRequest) => {
      requests.push(req);
      const err = opts.fail?.(req);
      if (err) return Promise.reject(err);
      const body = {
        ...(req.body as object),
        metadata: { ...(req.body as { metadata?: object }).metadata, resourceVersion: String(++rv) },
      };
      return Promise.resolve({ statusCode: 200, headers: {}, body: body as T });
    },
  };
  const spec = { ...policy({ maxConcurrentDrains: 10 }), ...opts.spec };
  const policyObject = {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'FleetPolicy',
    metadata: { name: 'default', generation: 3 },
    spec,
  };
  const caches: Caches = {
    nodes: arrayStore(() => nodes),
    managedPods: arrayStore(() => pods),
    foreignPods: arrayStore(() => []),
    jobs: arrayStore(() => opts.jobs ?? []),
    pools: arrayStore(() => [pool() as unknown as KubernetesObject]),
    policy: () =>
      opts.stored
        ? effectivePolicy(undefined, opts.stored.object)
        : opts.clusterPolicy
          ? effectivePolicy(undefined, policyObject)
          : { spec, source: 'file' },
  };
  const expectations = new Expectations();
  const events: string[] = [];
  const record = (type: string) => (o: unknown, reason: string) => {
    events.push(`${type} ${reason} ${(o as { name: string }).name}`);
    return Promise.resolve();
  };
  const reconcile = createFleetReconciler({
    client: { rest, mapper: new ResourceMapper(rest) },
    caches,
    parsed: new Parsed(),
    events: { normal: record('Normal'), warning: record('Warning') },
    expectations,
    staleCaches: () => opts.stale ?? [],
    clock: new FakeClock(NOW),
    policyRef: () => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name: 'op', namespace: 'sys' }),
  });
  return { requests, run: () => reconcile('fleet', new AbortController().signal), expectations, events };
}

const patches = (h: Harness) => h.requests.filter((r) => r.method === 'PATCH').map((r) => r.path);

describe('fleet reconciler', () => {
  it('records the admission (over the version it planned from) before any node is sent to training', async () => {
    const h = harness({ jobs: [rawJob('big')] });
    const result = await h.run();
    const paths = patches(h);
    expect(paths[0]).toBe('/apis/rigshift.io/v1alpha1/namespaces/ml/trainingjobs/big/status');
    expect(paths.slice(1).sort()).toEqual(['/api/v1/nodes/n0', '/api/v1/nodes/n1']);
    const job = h.requests[0];
    expect(job?.query).toMatchObject({ fieldManager: 'rigshift-planner', force: true });
    expect(job?.body).toMatchObject({
      metadata: { name: 'big', namespace: 'ml', resourceVersion: '5' },
      status: { assignedNodes: ['n0', 'n1'] },
    });
    const node = h.requests[1];
    expect(node?.body).toMatchObject({
      metadata: {
        resourceVersion: '10',
        annotations: { 'rigshift.io/target-mode': 'training', 'rigshift.io/target-mining-gpus': '0' },
      },
    });
    // One Event for the job; the nodes' own Events come from the node reconciler (DrainStarted).
    expect(h.events).toEqual(['Normal Admitted big']);
    expect(result).toMatchObject({ requeueAfterMs: expect.any(Number) });
  });

  it('does not plan again before the caches echo its writes', async () => {
    const h = harness({ jobs: [rawJob('big')] });
    await h.run();
    const n = h.requests.length;
    expect(await h.run()).toEqual({ requeueAfterMs: 100 });
    expect(h.requests).toHaveLength(n);
    for (const r of h.requests) {
      const m = (r.body as { metadata: { name: string; namespace?: string } }).metadata;
      const key = m.namespace ? `${m.namespace}/${m.name}` : m.name;
      h.expectations.observe(r.path.includes('trainingjobs') ? 'TrainingJob' : 'Node', key, '999999');
    }
    await h.run();
    expect(h.requests.length).toBeGreaterThan(n);
  });

  it('a write race on a job stops the round before any node moves', async () => {
    const conflict = new ApiError(
      'PATCH',
      '/x',
      409,
      { reason: 'Conflict', message: 'the object has been modified' },
      undefined,
    );
    const h = harness({
      jobs: [rawJob('big')],
      fail: (r) => (r.path.includes('trainingjobs') ? conflict : undefined),
    });
    const err = await h.run().catch((e: unknown) => e);
    expect(isWriteRace(err)).toBe(true);
    expect(patches(h).filter((p) => p.startsWith('/api/v1/nodes'))).toEqual([]);
  });

  it('a write race on a job giving nodes up stops the round before any admission', async () => {
    const conflict = new ApiError('PATCH', '/x', 409, { reason: 'Conflict', message: 'modified' }, undefined);
    const done = {
      ...rawJob('done'),
      status: {
        conditions: [
          {
            type: 'Admitted',
            status: 'True',
            reason: 'Placed',
            message: '',
            lastTransitionTime: '2024-01-01T00:00:00Z',
          },
          {
            type: 'Succeeded',
            status: 'True',
            reason: 'Done',
            message: '',
            lastTransitionTime: '2024-01-01T01:00:00Z',
          },
        ],
      },
    } as KubernetesObject;
    const h = harness({
      jobs: [done, rawJob('big')],
      fail: (r) => (r.path.endsWith('/trainingjobs/done/status') ? conflict : undefined),
    });
    const err = await h.run().catch((e: unknown) => e);
    expect(isWriteRace(err)).toBe(true);
    expect(patches(h)).toEqual(['/apis/rigshift.io/v1alpha1/namespaces/ml/trainingjobs/done/status']);
  });

  it('holds still while an echo of its own writes is overdue, or a cache is stale', async () => {
    const h = harness({ jobs: [rawJob('big')] });
    h.expectations.expect('Node', 'n0', '7', NOW - 10_000);
    expect(await h.run()).toEqual({ requeueAfterMs: 1000 });
    expect(h.requests).toEqual([]);
    h.expectations.observe('Node', 'n0', '7');
    const stale = [{ name: 'nodes', silentMs: 95_000 }];
    const held = harness({ jobs: [rawJob('big')], clusterPolicy: true, stale });
    expect(await held.run()).toEqual({ requeueAfterMs: 1000 });
    // Only the FleetPolicy's Ready=False says why; no job or node is written.
    expect(patches(held)).toEqual(['/apis/rigshift.io/v1alpha1/fleetpolicies/default/status']);
    expect(held.requests[0]?.body).toMatchObject({
      status: { conditions: [{ type: 'Ready', status: 'False', reason: 'CachesStale' }] },
    });
    stale.length = 0;
    await h.run();
    await held.run();
    expect(patches(h).length).toBeGreaterThan(0);
    expect(patches(held).some((p) => p.includes('/trainingjobs/big/'))).toBe(true);
  });

  it('dry run: the job says where it would go, no node is touched', async () => {
    const h = harness({ jobs: [rawJob('big')], spec: { dryRun: true } });
    await h.run();
    expect(patches(h)).toEqual(['/apis/rigshift.io/v1alpha1/namespaces/ml/trainingjobs/big/status']);
    const status = (
      h.requests[0]?.body as {
        status: { conditions: { type: string; status: string; reason: string }[]; waitingReason: string };
      }
    ).status;
    expect(status.conditions.find((c) => c.type === 'Queued')).toMatchObject({
      status: 'True',
      reason: 'DryRun',
    });
    expect(status.waitingReason).toMatch(/^dry run: would be placed on n0 \(8 GPUs\), n1 \(8 GPUs\)/);
  });

  it('reports on the cluster’s FleetPolicy: nodes by mode and the planned switches', async () => {
    const h = harness({ jobs: [rawJob('big')], clusterPolicy: true });
    await h.run();
    const req = h.requests.find((r) => r.path === '/apis/rigshift.io/v1alpha1/fleetpolicies/default/status');
    const status = (req?.body as { status: Record<string, unknown> }).status;
    expect(status).toMatchObject({
      observedGeneration: 3,
      nodesByMode: { mining: 4, draining: 0, training: 0, idle: 0 },
      plannedActions: [
        { node: 'n0', from: 'mining', to: 'training' },
        { node: 'n1', from: 'mining', to: 'training' },
      ],
    });
    expect(status.conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Ready', status: 'True' }),
        expect.objectContaining({ type: 'DryRun', status: 'False' }),
      ]),
    );
  });

  it('nothing changed, nothing written', async () => {
    const h = harness();
    await h.run();
    expect(patches(h)).toEqual([]);
  });

  it('fails closed without a FleetPolicy: no job or node written, a Warning on the Lease; acts once it exists', async () => {
    const stored: { object: unknown } = { object: undefined };
    const h = harness({ jobs: [rawJob('big')], stored });
    expect(await h.run()).toEqual({ requeueAfterMs: 30_000 });
    expect(h.requests).toEqual([]);
    expect(h.events).toEqual(['Warning PolicyMissing op']);
    stored.object = {
      apiVersion: 'rigshift.io/v1alpha1',
      kind: 'FleetPolicy',
      metadata: { name: 'default', generation: 1 },
      spec: { minDwellSeconds: 0, switchingSeconds: 0, hysteresisPercent: 0, maxConcurrentDrains: 10 },
    };
    await h.run();
    expect(patches(h)).toEqual(
      expect.arrayContaining([
        '/apis/rigshift.io/v1alpha1/namespaces/ml/trainingjobs/big/status',
        '/api/v1/nodes/n0',
      ]),
    );
    expect(h.events).toEqual(expect.arrayContaining(['Normal PolicyInForce op', 'Normal Admitted big']));
  });

  it('fails closed on an invalid FleetPolicy: only its Ready=False condition is written, naming the field', async () => {
    const stored = {
      object: {
        apiVersion: 'rigshift.io/v1alpha1',
        kind: 'FleetPolicy',
        metadata: { name: 'default', generation: 2 },
        spec: { hysteresisPercent: 500, dryRun: true },
      },
    };
    const h = harness({ jobs: [rawJob('big')], stored });
    await h.run();
    expect(patches(h)).toEqual(['/apis/rigshift.io/v1alpha1/fleetpolicies/default/status']);
    const status = (h.requests[0]?.body as { status: { conditions: Record<string, unknown>[] } }).status;
    expect(status.conditions).toEqual([
      expect.objectContaining({
        type: 'Ready',
        status: 'False',
        reason: 'PolicyInvalid',
        observedGeneration: 2,
        message: expect.stringMatching(/spec\.hysteresisPercent.*nothing is switched, drained or started/),
      }),
    ]);
    expect(h.events).toEqual(['Warning PolicyInvalid default']);
  });
});
