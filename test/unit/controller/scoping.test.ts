// Pool namespaces: only MiningPools in the namespaces the farm configured are seen by the planner and the node
// reconciler; a pool elsewhere gets a status and one Warning Event saying it is ignored, and nothing else.
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { arrayStore } from '../../../src/controller/caches.js';
import type { PoolStatus } from '../../../src/controller/pool-yields.js';
import {
  POOL_IGNORED_REASON,
  PoolScope,
  reconcileIgnoredPool,
  scopedPoolReconciler,
  type IgnoredPoolDeps,
} from '../../../src/controller/scoping.js';
import { parseRunOptions } from '../../../src/cli/run.js';
import { buildProgram } from '../../../src/cli/index.js';
import { FakeClock } from '../../../src/kube/clock.js';
import { ResourceMapper } from '../../../src/kube/resources.js';
import type { RestClient, RestRequest } from '../../../src/kube/rest.js';

type Pool = KubernetesObject & { status?: PoolStatus };

const pool = (namespace: string, name = 'etc'): Pool => ({
  apiVersion: 'rigshift.io/v1alpha1',
  kind: 'MiningPool',
  metadata: { name, namespace, uid: `${namespace}-${name}`, generation: 3, resourceVersion: '1' },
});

describe('PoolScope', () => {
  const scope = new PoolScope(['farm', 'farm-b']);
  const store = arrayStore(() => [pool('farm'), pool('team-a'), pool('farm-b', 'rvn')]);

  it('shows the planner and the node reconciler only pools in the pool namespaces', () => {
    const seen = scope.filter(store);
    expect(seen.list().map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)).toEqual([
      'farm/etc',
      'farm-b/rvn',
    ]);
    expect(seen.list('team-a')).toEqual([]);
    expect(seen.get('team-a', 'etc')).toBeUndefined();
    expect(seen.get('farm', 'etc')?.metadata?.uid).toBe('farm-etc');
  });

  it('says where pools count and what happens to this one', () => {
    expect(scope.reason('team-a')).toBe(
      "MiningPools are honoured only in namespaces farm, farm-b (the operator's --pool-namespace, Helm value " +
        'operator.poolNamespaces); this one in team-a is ignored: no node mines for it and its prices are not read',
    );
    expect(() => new PoolScope([])).toThrow(/at least one/);
  });
});

interface Harness {
  obj: Pool | undefined;
  writes: PoolStatus[];
  events: string[];
  deps: IgnoredPoolDeps;
}

function harness(initial: Pool): Harness {
  const h: Harness = { obj: initial, writes: [], events: [], deps: undefined as never };
  const rest: RestClient = {
    kc: undefined as never,
    request: <T>(req: RestRequest) => {
      expect(req).toMatchObject({
        method: 'PATCH',
        path: '/apis/rigshift.io/v1alpha1/namespaces/team-a/miningpools/etc/status',
      });
      const status = (req.body as { status: PoolStatus }).status;
      h.writes.push(status);
      h.obj = { ...h.obj!, status };
      return Promise.resolve({ statusCode: 200, headers: {}, body: h.obj as T });
    },
  };
  h.deps = {
    scope: new PoolScope(['farm']),
    getPool: (ns, name) =>
      h.obj?.metadata?.namespace === ns && h.obj.metadata.name === name ? h.obj : undefined,
    listPods: () => [],
    client: { rest, mapper: new ResourceMapper(rest) },
    events: {
      warning: (_obj, reason, _action, note) => {
        h.events.push(`${reason}: ${note}`);
        return Promise.resolve();
      },
    },
    clock: new FakeClock(Date.parse('2026-01-01T00:00:00Z')),
  };
  return h;
}

describe('a MiningPool outside the pool namespaces', () => {
  it('is marked not Ready and yield unknown, once, with one Warning Event naming the pool namespaces', async () => {
    const h = harness({ ...pool('team-a'), status: { yields: [{ product: 'x', usdPerGpuHour: '9' }] } });
    await reconcileIgnoredPool(h.deps, 'team-a/etc');
    expect(h.writes).toHaveLength(1);
    const status = h.writes[0]!;
    expect(status.yields).toBeUndefined();
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', POOL_IGNORED_REASON],
      ['YieldKnown', 'False', POOL_IGNORED_REASON],
    ]);
    expect(status.conditions?.[0]?.message).toMatch(/honoured only in namespace farm .* ignored/);
    expect(status.observedGeneration).toBe(3);
    expect(h.events).toEqual([`PoolIgnored: ${h.deps.scope.reason('team-a')}`]);

    await reconcileIgnoredPool(h.deps, 'team-a/etc');
    expect(h.writes).toHaveLength(1);
    expect(h.events).toHaveLength(1);
  });

  it('never reaches the pool reconciler, while pools inside do', async () => {
    const h = harness(pool('team-a'));
    const honoured: string[] = [];
    const fn = scopedPoolReconciler((key) => {
      honoured.push(key);
      return Promise.resolve();
    }, h.deps);
    await fn('team-a/etc', new AbortController().signal);
    await fn('farm/etc', new AbortController().signal);
    expect(honoured).toEqual(['farm/etc']);
    expect(h.events).toHaveLength(1);
  });
});

describe('rigshift run --pool-namespace', () => {
  const option = buildProgram()
    .commands.find((c) => c.name() === 'run')!
    .options.find((o) => o.long === '--pool-namespace')!;
  const parse = (values: string[]) =>
    values.reduce<string[] | undefined>((prev, v) => option.parseArg!(v, prev) as string[], undefined);

  it('is repeatable and comma-separated', () => {
    expect(parse(['farm', 'a, b'])).toEqual(['farm', 'a', 'b']);
  });

  it('refuses names that are not namespaces, and namespaces outside --namespace', () => {
    expect(parseRunOptions({ poolNamespace: ['Farm'] })).toEqual({
      ok: false,
      error: '--pool-namespace: not a namespace name',
    });
    const outside = parseRunOptions({ namespace: 'team-a', poolNamespace: ['farm'] });
    expect(outside.ok).toBe(false);
    expect(parseRunOptions({ namespace: 'farm', poolNamespace: ['farm'] }).ok).toBe(true);
  });
});
