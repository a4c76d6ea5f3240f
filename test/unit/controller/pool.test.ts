// The pool reconciler against an in-memory API (status writes recorded), a fake clock and a scripted fetch.
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { PoolReconciler, type PoolReconcilerDeps } from '../../../src/controller/pool.js';
import type { PoolStatus } from '../../../src/controller/pool-yields.js';
import { FakeClock } from '../../../src/kube/clock.js';
import type { ObjectReference } from '../../../src/kube/events.js';
import { createMetrics } from '../../../src/kube/metrics.js';
import { ResourceMapper } from '../../../src/kube/resources.js';
import { ApiError, type RestClient, type RestRequest } from '../../../src/kube/rest.js';

const t0 = Date.parse('2025-03-01T12:00:00Z');
const KEY = 'farm/etc';

type Pool = KubernetesObject & { spec: Record<string, unknown>; status?: PoolStatus };

function newPool(revenue: object, electricity: object = { value: '0.085' }): Pool {
  return {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'MiningPool',
    metadata: { name: 'etc', namespace: 'farm', uid: 'u1', generation: 1, resourceVersion: '1' },
    spec: {
      coin: 'ETC',
      algorithm: 'etchash',
      stratum: { primary: 'stratum+tcp://etc.example.org:1010' },
      wallet: '0xabc',
      miner: { image: 'miner:1' },
      poolFeePercent: '1.0',
      gpuProfiles: [
        { product: 'RTX-4090', hashrate: '124.7M', miningWatts: 249, trainingWatts: 450, idleWatts: 25 },
        { product: 'RTX-3090', hashrate: '122.15M', miningWatts: 290, trainingWatts: 350, idleWatts: 25 },
      ],
      revenueUsdPerMhsDay: revenue,
      electricityUsdPerKwh: electricity,
    },
  };
}

const HTTP = {
  http: { url: 'http://prices.test/etc', fieldPath: 'price', refreshSeconds: 60, maxAgeSeconds: 120 },
};

interface Harness {
  clock: FakeClock;
  reconciler: PoolReconciler;
  /** The object on the "server" (and in the cache: the informer is instant here). */
  pool: Pool | undefined;
  configMaps: Map<string, Record<string, string>>;
  pods: V1Pod[];
  writes: PoolStatus[];
  events: string[];
  changed: string[];
  fetches: number;
  answer: () => Response;
  failWrites?: ApiError;
  metrics: ReturnType<typeof createMetrics>;
}

function harness(initial: Pool): Harness {
  const h = {
    clock: new FakeClock(t0),
    pool: initial,
    configMaps: new Map(),
    pods: [],
    writes: [],
    events: [],
    changed: [],
    fetches: 0,
    answer: () => Response.json({ price: '0.01' }),
    metrics: createMetrics({ defaultMetrics: false }),
  } as unknown as Harness;
  const rest: RestClient = {
    kc: undefined as never,
    request: <T>(req: RestRequest) => {
      if (h.failWrites) return Promise.reject(h.failWrites);
      expect(req).toMatchObject({
        method: 'PATCH',
        path: '/apis/rigshift.io/v1alpha1/namespaces/farm/miningpools/etc/status',
      });
      const body = req.body as { status: PoolStatus };
      h.writes.push(body.status);
      // The operator is the only status writer, so an apply replaces the status.
      const rv = String(Number(h.pool!.metadata!.resourceVersion) + 1);
      h.pool = { ...h.pool!, metadata: { ...h.pool!.metadata, resourceVersion: rv }, status: body.status };
      return Promise.resolve({ statusCode: 200, headers: {}, body: h.pool as T });
    },
  };
  const deps: PoolReconcilerDeps = {
    getPool: (ns, name) =>
      h.pool?.metadata?.namespace === ns && h.pool.metadata.name === name ? h.pool : undefined,
    getConfigMap: (_ns, name) => {
      const data = h.configMaps.get(name);
      return data && { data };
    },
    listPods: () => h.pods,
    client: { rest, mapper: new ResourceMapper(rest) },
    events: {
      warning: (obj, reason, _action, note) => {
        h.events.push(`Warning ${reason} ${nameOf(obj)}: ${note}`);
        return Promise.resolve();
      },
      normal: (obj, reason, _action, note) => {
        h.events.push(`Normal ${reason} ${nameOf(obj)}: ${note}`);
        return Promise.resolve();
      },
    },
    metrics: h.metrics,
    clock: h.clock,
    onPoolChanged: (key) => h.changed.push(key),
    sources: {
      egress: { allowedHosts: ['prices.test'], allowHttpHosts: ['prices.test'], allowPrivateHosts: [] },
      resolve: () => Promise.resolve([{ address: '203.0.114.7', family: 4 }]),
      fetch: (() => {
        h.fetches++;
        return Promise.resolve(h.answer());
      }) as typeof fetch,
    },
  };
  h.reconciler = new PoolReconciler(deps);
  return h;
}

const nameOf = (o: KubernetesObject | ObjectReference) =>
  'metadata' in o ? o.metadata?.name : (o as ObjectReference).name;
const cond = (h: Harness, type: string) => h.pool?.status?.conditions?.find((c) => c.type === type);
const yields = (h: Harness) => h.pool?.status?.yields?.map((y) => `${y.product} ${y.usdPerGpuHour}`);
async function gauges(h: Harness): Promise<string[]> {
  const m = await h.metrics.miningYield.get();
  return m.values.map((v) => `${String(v.labels.pool)} ${String(v.labels.product)} ${v.value}`);
}
const reasons = (h: Harness) => h.events.map((e) => e.split(':')[0]);

// 0.01 USD/MH/s-day, 0.085 USD/kWh, 1% fee: 4090 → 0.030274, 3090 → 0.025737 (see pool-yields.test.ts).
const KNOWN = ['RTX-4090 0.030274', 'RTX-3090 0.025737'];

describe('PoolReconciler', () => {
  let h: Harness;

  describe('static prices', () => {
    beforeEach(() => {
      h = harness(newPool({ value: '0.01' }));
    });

    it('writes yields, prices and conditions once, then nothing while nothing changes', async () => {
      expect(await h.reconciler.reconcile(KEY)).toBeUndefined(); // nothing timed: no requeue
      expect(h.writes).toHaveLength(1);
      expect(h.pool?.status).toMatchObject({
        observedGeneration: 1,
        revenueUsdPerMhsDay: '0.01',
        electricityUsdPerKwh: '0.085',
        inputsReadTime: '2025-03-01T12:00:00Z',
        miningNodes: 0,
        miningGpus: 0,
      });
      expect(yields(h)).toEqual(KNOWN);
      expect(cond(h, 'Ready')).toMatchObject({ status: 'True', reason: 'SpecValid', observedGeneration: 1 });
      expect(cond(h, 'YieldKnown')).toMatchObject({
        status: 'True',
        reason: 'PricesKnown',
        message: 'revenueUsdPerMhsDay 0.01 from value 0.01; electricityUsdPerKwh 0.085 from value 0.085',
        lastTransitionTime: '2025-03-01T12:00:00Z',
      });
      expect(h.changed).toEqual([KEY]);
      expect(await gauges(h)).toEqual(['farm/etc RTX-4090 0.030274', 'farm/etc RTX-3090 0.025737']);

      await h.clock.advance(3_600_000);
      await h.reconciler.reconcile(KEY);
      expect(h.writes).toHaveLength(1);
      expect(h.changed).toEqual([KEY]);
      expect(h.events).toEqual([]);
    });

    it('counts the running mining pods of the pool', async () => {
      const miner = (name: string, node: string, gpus: string, pool = 'etc'): V1Pod => ({
        metadata: {
          name,
          namespace: 'farm',
          labels: { 'rigshift.io/miningpool': pool, 'app.kubernetes.io/managed-by': 'rigshift' },
        },
        spec: {
          nodeName: node,
          containers: [{ name: 'm', resources: { limits: { 'nvidia.com/gpu': gpus } } }],
        },
        status: { phase: 'Running' },
      });
      h.pods = [miner('a', 'n1', '8'), miner('b', 'n2', '6'), miner('c', 'n3', '8', 'other')];
      await h.reconciler.reconcile(KEY);
      expect(h.pool?.status).toMatchObject({ miningNodes: 2, miningGpus: 14 });
      h.pods = h.pods.slice(1);
      await h.reconciler.reconcile(KEY);
      expect(h.pool?.status).toMatchObject({ miningNodes: 1, miningGpus: 6 });
      expect(h.writes).toHaveLength(2);
    });

    it('follows a spec change with observedGeneration', async () => {
      await h.reconciler.reconcile(KEY);
      h.pool = { ...h.pool!, metadata: { ...h.pool!.metadata, generation: 2 } };
      h.pool.spec = { ...h.pool.spec, revenueUsdPerMhsDay: { value: '0.02' } };
      await h.reconciler.reconcile(KEY);
      expect(h.pool.status).toMatchObject({ observedGeneration: 2, revenueUsdPerMhsDay: '0.02' });
      // 124.7 × 0.02 / 24 × 0.99 − 0.021165 = 0.0817125; 122.15 → 0.1007737 − 0.02465 = 0.07612375
      expect(yields(h)).toEqual(['RTX-4090 0.081713', 'RTX-3090 0.076124']);
      expect(cond(h, 'YieldKnown')?.observedGeneration).toBe(2);
    });

    it('forgets a deleted pool: gauges gone, fleet told', async () => {
      await h.reconciler.reconcile(KEY);
      h.pool = undefined;
      await h.reconciler.reconcile(KEY);
      expect(await gauges(h)).toEqual([]);
      expect(h.changed).toEqual([KEY, KEY]);
    });

    it('treats a 404 on the status write as a deleted pool', async () => {
      h.failWrites = new ApiError('PATCH', '/x', 404, { message: 'not found' }, undefined);
      await expect(h.reconciler.reconcile(KEY)).resolves.toBeUndefined();
      expect(h.changed).toEqual([KEY]);
      expect(await gauges(h)).toEqual([]);
    });

    it('throws other write errors so the queue retries, without Events', async () => {
      h.pool = newPool({ value: 'x' });
      h.failWrites = new ApiError('PATCH', '/x', 500, { message: 'etcd down' }, undefined);
      await expect(h.reconciler.reconcile(KEY)).rejects.toThrow(/etcd down/);
      expect(h.events).toEqual([]);
      h.failWrites = undefined;
    });

    it('reports an object that does not parse in both conditions', async () => {
      h.pool = newPool({ value: '0.01' });
      delete h.pool.spec.gpuProfiles;
      await h.reconciler.reconcile(KEY);
      expect(cond(h, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
      expect(cond(h, 'YieldKnown')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
      expect(cond(h, 'YieldKnown')?.message).toMatch(/^MiningPool farm\/etc: spec\.gpuProfiles: /);
      expect(reasons(h)).toEqual(['Warning YieldUnknown etc']);
    });
  });

  describe('a ConfigMap price', () => {
    beforeEach(() => {
      h = harness(newPool({ configMapKeyRef: { name: 'prices', key: 'revenue' } }));
      h.configMaps.set('prices', { revenue: '0.01' });
    });

    it('turns unknown at once on a bad edit, with one Warning, and recovers with a Normal Event', async () => {
      await h.reconciler.reconcile(KEY);
      expect(yields(h)).toEqual(KNOWN);

      await h.clock.advance(1000);
      h.configMaps.set('prices', { revenue: 'garbage' });
      await h.reconciler.reconcile(KEY);
      expect(cond(h, 'YieldKnown')).toMatchObject({
        status: 'False',
        reason: 'NotANumber',
        message: "revenueUsdPerMhsDay from ConfigMap prices key revenue: value 'garbage' is not a number",
        lastTransitionTime: '2025-03-01T12:00:01Z',
      });
      expect(h.pool?.status?.yields).toBeUndefined(); // a ConfigMap value is not held
      expect(h.pool?.status?.revenueUsdPerMhsDay).toBeUndefined();
      expect(h.pool?.status?.inputsReadTime).toBe('2025-03-01T12:00:00Z'); // the last successful read
      expect(await gauges(h)).toEqual([]);
      expect(h.events).toEqual([
        "Warning YieldUnknown etc: yield unknown: revenueUsdPerMhsDay from ConfigMap prices key revenue: value 'garbage' is not a number",
      ]);

      // Reconciling again (the status write's own watch event) repeats nothing.
      await h.reconciler.reconcile(KEY);
      expect(h.events).toHaveLength(1);
      expect(h.writes).toHaveLength(2);

      // Another problem is another Warning.
      h.configMaps.delete('prices');
      await h.reconciler.reconcile(KEY);
      expect(cond(h, 'YieldKnown')).toMatchObject({
        reason: 'Missing',
        message: 'revenueUsdPerMhsDay from ConfigMap prices key revenue: ConfigMap prices not found',
      });
      expect(reasons(h)).toEqual(['Warning YieldUnknown etc', 'Warning YieldUnknown etc']);

      await h.clock.advance(1000);
      h.configMaps.set('prices', { revenue: '0.01' });
      await h.reconciler.reconcile(KEY);
      expect(yields(h)).toEqual(KNOWN);
      expect(cond(h, 'YieldKnown')).toMatchObject({
        status: 'True',
        lastTransitionTime: '2025-03-01T12:00:02Z',
      });
      expect(h.pool?.status?.inputsReadTime).toBe('2025-03-01T12:00:02Z');
      expect(reasons(h)).toEqual([
        'Warning YieldUnknown etc',
        'Warning YieldUnknown etc',
        'Normal YieldKnown etc',
      ]);
      expect(await gauges(h)).toHaveLength(2);
    });

    it('does not repeat a Warning after a restart when the status already says unknown', async () => {
      h.configMaps.set('prices', { revenue: 'garbage' });
      await h.reconciler.reconcile(KEY);
      expect(h.events).toHaveLength(1);
      const restarted = harness(h.pool!);
      restarted.configMaps.set('prices', { revenue: 'garbage' });
      await restarted.reconciler.reconcile(KEY);
      expect(restarted.events).toEqual([]);
      expect(restarted.writes).toEqual([]);
    });
  });

  describe('an HTTP price (refresh 60 s, max age 120 s)', () => {
    beforeEach(() => {
      h = harness(newPool(HTTP));
    });

    it('holds the last good value through refused refreshes until it expires, then recovers', async () => {
      expect(await h.reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 60_000 });
      expect(yields(h)).toEqual(KNOWN);
      expect(h.pool?.status?.inputsReadTime).toBe('2025-03-01T12:00:00Z');

      // Not due yet: no fetch, no write.
      await h.clock.advance(30_000);
      expect(await h.reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 30_000 });
      expect(h.fetches).toBe(1);
      expect(h.writes).toHaveLength(1);

      // 12:01:00 the server fails: one PriceRefused, the value holds until 12:02:00.
      await h.clock.advance(30_000);
      h.answer = () => new Response('oops', { status: 500 });
      expect(await h.reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 60_000 });
      expect(h.fetches).toBe(2);
      expect(yields(h)).toEqual(KNOWN);
      expect(cond(h, 'YieldKnown')?.status).toBe('True');
      expect(cond(h, 'YieldKnown')?.message).toMatch(
        /holding the value read at 2025-03-01T12:00:00Z: latest refresh refused: HTTP 500/,
      );
      expect(h.events).toHaveLength(1);
      expect(h.events[0]).toMatch(
        /^Warning PriceRefused etc: revenueUsdPerMhsDay from HTTP http:\/\/prices.test\/etc field price: HTTP 500.*; keeping the last good value 0.01 read at 2025-03-01T12:00:00Z until 2025-03-01T12:02:00Z$/,
      );
      expect(await gauges(h)).toHaveLength(2);

      // The same refusal seen again (another reconcile) is not another Event.
      await h.reconciler.reconcile(KEY);
      expect(h.events).toHaveLength(1);

      // 12:02:00 refused again: a second PriceRefused; the value is still good this very millisecond.
      await h.clock.advance(60_000);
      expect(await h.reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 1 });
      expect(reasons(h)).toEqual(['Warning PriceRefused etc', 'Warning PriceRefused etc']);
      expect(yields(h)).toEqual(KNOWN);

      // 1 ms later it is stale: yields gone, YieldUnknown.
      await h.clock.advance(1);
      expect(await h.reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 59_999 });
      expect(h.fetches).toBe(3);
      expect(cond(h, 'YieldKnown')).toMatchObject({ status: 'False', reason: 'Stale' });
      expect(cond(h, 'YieldKnown')?.message).toMatch(
        /^revenueUsdPerMhsDay from HTTP http:\/\/prices.test\/etc field price: last good value 0.01 read 2m ago is older than maxAgeSeconds 120 \(latest refresh: HTTP 500/,
      );
      expect(h.pool?.status?.yields).toBeUndefined();
      expect(h.pool?.status?.inputsReadTime).toBe('2025-03-01T12:00:00Z');
      expect(await gauges(h)).toEqual([]);
      expect(reasons(h)).toEqual([
        'Warning PriceRefused etc',
        'Warning PriceRefused etc',
        'Warning YieldUnknown etc',
      ]);

      // 12:03:00 the server is back.
      await h.clock.advance(59_999);
      h.answer = () => Response.json({ price: '0.01' });
      expect(await h.reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 60_000 });
      expect(yields(h)).toEqual(KNOWN);
      expect(cond(h, 'YieldKnown')).toMatchObject({ status: 'True', reason: 'PricesKnown' });
      expect(h.pool?.status?.inputsReadTime).toBe('2025-03-01T12:03:00Z');
      expect(reasons(h)).toEqual([
        'Warning PriceRefused etc',
        'Warning PriceRefused etc',
        'Warning YieldUnknown etc',
        'Normal YieldKnown etc',
      ]);
    });

    it('writes a new read time at each good refresh (one write per refresh)', async () => {
      await h.reconciler.reconcile(KEY);
      await h.clock.advance(60_000);
      await h.reconciler.reconcile(KEY);
      await h.reconciler.reconcile(KEY);
      expect(h.writes.map((s) => s.inputsReadTime)).toEqual(['2025-03-01T12:00:00Z', '2025-03-01T12:01:00Z']);
    });

    it('starts a fresh source when the spec of the input changes', async () => {
      await h.reconciler.reconcile(KEY);
      expect(h.fetches).toBe(1);
      await h.clock.advance(1000);
      h.pool!.spec = {
        ...h.pool!.spec,
        revenueUsdPerMhsDay: { http: { ...HTTP.http, fieldPath: 'data.price' } },
      };
      h.answer = () => Response.json({ data: { price: '0.02' } });
      await h.reconciler.reconcile(KEY);
      expect(h.fetches).toBe(2); // not waiting for the old source's refresh
      expect(h.pool?.status?.revenueUsdPerMhsDay).toBe('0.02');
    });

    it('is unknown from the start when the first fetch fails, with no PriceRefused (nothing is held)', async () => {
      h.answer = () => new Response('oops', { status: 503 });
      await h.reconciler.reconcile(KEY);
      expect(cond(h, 'YieldKnown')).toMatchObject({ status: 'False', reason: 'FetchFailed' });
      expect(reasons(h)).toEqual(['Warning YieldUnknown etc']);
    });
  });
});
