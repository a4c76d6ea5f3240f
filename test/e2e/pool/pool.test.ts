// The MiningPool reconciler against the real API server: CRDs from crds/, informers on MiningPools,
// ConfigMaps and pods, a WorkQueue, status through /status, events.k8s.io/v1 Events, and a real price server
// on 127.0.0.1. Static and ConfigMap prices run on the real clock; the HTTP scenario runs its reconciler and
// queue on a fake clock, so refresh and max-age timers fire when the test advances time, not after sleeps.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type { KubernetesObject, V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { createPoolReconciler } from '../../../src/controller/pool.js';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  MINING_POOL_LABEL,
  poolKeyForPod,
  poolKeysForConfigMap,
} from '../../../src/controller/pool-keys.js';
import type { PoolStatus } from '../../../src/controller/pool-yields.js';
import { poolEconomics } from '../../../src/controller/pool-economics.js';
import { parseMiningPool } from '../../../src/api/v1alpha1/index.js';
import { createKubeClient, type KubeClient } from '../../../src/kube/client.js';
import { FakeClock, systemClock, type Clock } from '../../../src/kube/clock.js';
import { EventRecorder } from '../../../src/kube/events.js';
import { Informer, waitForCacheSync } from '../../../src/kube/informer.js';
import { createMetrics } from '../../../src/kube/metrics.js';
import { Kinds } from '../../../src/kube/resources.js';
import { WorkQueue } from '../../../src/kube/workqueue.js';
import { createLogger } from '../../../src/log.js';
import { getTestCluster, uniqueSuffix, waitFor, type TestCluster } from '../../support/cluster.js';
import { json, LOCAL_EGRESS, PriceServer } from '../../unit/sources/price-server.js';

const P4090 = 'NVIDIA-GeForce-RTX-4090';
const P3090 = 'NVIDIA-GeForce-RTX-3090';
// 0.01 USD per MH/s-day, 0.085 USD/kWh, 1% fee (see test/unit/controller/pool-yields.test.ts):
// 124.7 MH/s × 0.01 / 24 × 0.99 − 0.249 kW × 0.085 = 0.03027375 → 0.030274
// 122.15 MH/s × 0.01 / 24 × 0.99 − 0.290 kW × 0.085 = 0.025736875 → 0.025737
const KNOWN = [
  { product: P4090, usdPerGpuHour: '0.030274' },
  { product: P3090, usdPerGpuHour: '0.025737' },
];

type Pool = KubernetesObject & { status?: PoolStatus };

let c: TestCluster;
let client: KubeClient;
/** PATCH requests the reconcilers sent (status applies and Event series updates). */
let patches = 0;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;
let eventsApi: k8s.EventsV1Api;
const id = uniqueSuffix();
const stops: (() => Promise<void>)[] = [];
const nodes: string[] = [];

interface Controller {
  ns: string;
  clock: Clock;
  queue: WorkQueue;
  metrics: ReturnType<typeof createMetrics>;
  changed: string[];
}

/** Informers, a work queue and the pool reconciler for one namespace: what the operator wires, no more. */
async function startController(prefix: string, clock: Clock): Promise<Controller> {
  const ns = await c.createNamespace(prefix);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'silent');
  const pools = new Informer<KubernetesObject>(client, Kinds.MiningPool, { namespace: ns, logger });
  const configMaps = new Informer<V1ConfigMap>(client, Kinds.ConfigMap, { namespace: ns, logger });
  const pods = new Informer<V1Pod>(client, Kinds.Pod, {
    namespace: ns,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
    logger,
  });
  const recorder = new EventRecorder(client, { reportingInstance: `pool-e2e-${id}`, logger });
  const metrics = createMetrics({ defaultMetrics: false });
  const changed: string[] = [];
  const reconcile = createPoolReconciler({
    getPool: (n, name) => pools.get(n, name),
    getConfigMap: (n, name) => configMaps.get(n, name),
    listPods: (n) => pods.list(n),
    client,
    events: recorder,
    metrics,
    clock,
    logger,
    onPoolChanged: (key) => changed.push(key),
    sources: { egress: LOCAL_EGRESS },
  });
  const queue = new WorkQueue(reconcile, { name: `pool-${prefix}`, clock, concurrency: 2, logger });
  pools.enqueueTo(queue);
  configMaps.enqueueTo(queue, (cm) => poolKeysForConfigMap(cm, pools.list(ns)));
  pods.enqueueTo(queue, poolKeyForPod);
  for (const i of [pools, configMaps, pods]) i.start();
  await waitForCacheSync([pools, configMaps, pods] as Informer<KubernetesObject>[], 30_000);
  queue.start();
  stops.push(async () => {
    await queue.shutdown();
    await Promise.all([pools.stop(), configMaps.stop(), pods.stop()]);
    await recorder.close();
    await core.deleteNamespace({ name: ns });
  });
  return { ns, clock, queue, metrics, changed };
}

function poolManifest(
  ns: string,
  name: string,
  revenue: object,
  electricity: object = { value: '0.085' },
): object {
  return {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'MiningPool',
    metadata: { name, namespace: ns },
    spec: {
      coin: 'ETC',
      algorithm: 'etchash',
      stratum: { primary: 'stratum+tcp://etc.example.org:1010' },
      wallet: '0x9f1c2a4b7e3d5c6f8a0b1c2d3e4f5a6b7c8d9e0f',
      miner: { image: 'registry.example.com/miners/t-rex:0.26.8' },
      nodeSelector: { matchLabels: { 'rigshift.io/test-pool': id } },
      gpuProfiles: [
        { product: P4090, hashrate: '124.7M', miningWatts: 249, trainingWatts: 450, idleWatts: 25 },
        { product: P3090, hashrate: '122.15M', miningWatts: 290, trainingWatts: 350, idleWatts: 25 },
      ],
      poolFeePercent: '1.0',
      revenueUsdPerMhsDay: revenue,
      electricityUsdPerKwh: electricity,
    },
  };
}

async function applyManifest(obj: object): Promise<void> {
  await c.kubectl(['apply', '--server-side', '--field-manager=pool-e2e', '-f', '-'], {
    input: JSON.stringify(obj),
  });
}

async function readPool(ns: string, name: string): Promise<Pool> {
  return (await custom.getNamespacedCustomObject({
    group: 'rigshift.io',
    version: 'v1alpha1',
    namespace: ns,
    plural: 'miningpools',
    name,
  })) as Pool;
}

const condition = (p: Pool, type: string) => p.status?.conditions?.find((x) => x.type === type);

/** Waits until the pool's status satisfies `check` (returns it). */
function waitForPool(ns: string, name: string, what: string, check: (p: Pool) => boolean, ms = 30_000) {
  return waitFor(
    `${name}: ${what}`,
    async () => {
      const p = await readPool(ns, name);
      return check(p) ? p : undefined;
    },
    ms,
  );
}

const yieldKnown = (status: string, reason?: string) => (p: Pool) => {
  const cnd = condition(p, 'YieldKnown');
  return (
    cnd?.status === status &&
    (reason === undefined || cnd.reason === reason) &&
    cnd.observedGeneration === p.metadata?.generation
  );
};

interface SeenEvent {
  type: string;
  reason: string;
  note: string;
  count: number;
}

async function poolEvents(ns: string, name: string): Promise<SeenEvent[]> {
  const list = await eventsApi.listNamespacedEvent({ namespace: ns });
  return list.items
    .filter((e) => e.regarding?.kind === 'MiningPool' && e.regarding.name === name)
    .sort((a, b) => String(a.eventTime).localeCompare(String(b.eventTime)))
    .map((e) => ({
      type: e.type ?? '',
      reason: e.reason ?? '',
      note: e.note ?? '',
      count: e.series?.count ?? 1,
    }));
}

function waitForEvent(ns: string, name: string, reason: string, n = 1) {
  return waitFor(`${n} ${reason} Event(s) on ${name}`, async () => {
    const all = await poolEvents(ns, name);
    const matching = all.filter((e) => e.reason === reason);
    return matching.reduce((s, e) => s + e.count, 0) >= n ? matching : undefined;
  });
}

beforeAll(async () => {
  c = await getTestCluster();
  client = createKubeClient(c.kc, {
    onRequest: (method) => {
      if (method === 'PATCH') patches++;
    },
  });
  core = c.kc.makeApiClient(k8s.CoreV1Api);
  custom = c.kc.makeApiClient(k8s.CustomObjectsApi);
  eventsApi = c.kc.makeApiClient(k8s.EventsV1Api);
  await c.installCrds();
}, 120_000);

afterAll(async () => {
  for (const stop of stops) await stop().catch(() => undefined);
  for (const n of nodes) await core.deleteNode({ name: n }).catch(() => undefined);
});

describe('MiningPool reconciler on the real clock', () => {
  let ctl: Controller;
  beforeAll(async () => {
    ctl = await startController('pool', systemClock);
  });

  it('static prices: YieldKnown True, the yield of each product, and the mining pods counted', async () => {
    const { ns } = ctl;
    await applyManifest(poolManifest(ns, 'static', { value: '0.01' }));
    const p = await waitForPool(ns, 'static', 'YieldKnown True', yieldKnown('True', 'PricesKnown'));
    expect(p.status).toMatchObject({
      observedGeneration: 1,
      yields: KNOWN,
      revenueUsdPerMhsDay: '0.01',
      electricityUsdPerKwh: '0.085',
      miningNodes: 0,
      miningGpus: 0,
    });
    expect(condition(p, 'Ready')).toMatchObject({
      status: 'True',
      reason: 'SpecValid',
      observedGeneration: 1,
    });
    expect(Date.parse(p.status!.inputsReadTime!)).toBeGreaterThan(Date.now() - 120_000);
    expect((await ctl.metrics.miningYield.get()).values.map((v) => [v.labels.product, v.value])).toEqual([
      [P4090, 0.030274],
      [P3090, 0.025737],
    ]);
    expect(ctl.changed).toContain(`${ns}/static`);

    // Status is written only when it changes: reconciling a settled pool again sends nothing.
    await ctl.queue.whenIdle();
    const before = patches;
    for (let i = 0; i < 3; i++) {
      ctl.queue.add(`${ns}/static`);
      await ctl.queue.whenIdle();
    }
    expect(patches).toBe(before);
    expect((await readPool(ns, 'static')).metadata?.resourceVersion).toBe(p.metadata?.resourceVersion);

    // kubectl shows the main product's yield.
    const table = await c.kubectl(['get', 'mp', 'static', '-n', ns]);
    expect(table.stdout).toMatch(/static\s+ETC\s+0\.030274\s+0\s+True/);

    // The planner reads the status back.
    const parsed = parseMiningPool(p);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(poolEconomics(parsed.value, Date.now()).products.map((e) => e.miningUsdPerGpuHour)).toEqual([
      0.030274, 0.025737,
    ]);

    // A running mining pod of this pool on a GPU node is counted.
    nodes.push(
      ...(await c.addGpuNodes({
        count: 1,
        product: P3090,
        gpus: 8,
        memoryMiB: 24576,
        namePrefix: `pool-${id}`,
        labels: { 'rigshift.io/test-pool': id },
      })),
    );
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: {
          name: 'miner',
          labels: { [MINING_POOL_LABEL]: 'static', [MANAGED_BY_LABEL]: MANAGED_BY },
        },
        spec: {
          nodeSelector: { 'rigshift.io/test-pool': id },
          terminationGracePeriodSeconds: 0,
          containers: [
            { name: 'miner', image: 'example.com/miner:1', resources: { limits: { 'nvidia.com/gpu': '8' } } },
          ],
        },
      },
    });
    await waitForPool(
      ns,
      'static',
      'one mining node with 8 GPUs',
      (x) => x.status?.miningNodes === 1 && x.status.miningGpus === 8,
    );
    expect(await poolEvents(ns, 'static')).toEqual([]); // nothing went wrong: nothing to say
  });

  it('a ConfigMap price turned to garbage: False naming the key and the reason, a Warning, yield not kept; then recovery', async () => {
    const { ns } = ctl;
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'prices' }, data: { revenue: '0.01' } },
    });
    await applyManifest(poolManifest(ns, 'cm', { configMapKeyRef: { name: 'prices', key: 'revenue' } }));
    await waitForPool(
      ns,
      'cm',
      'YieldKnown True',
      (p) => yieldKnown('True')(p) && p.status?.yields?.length === 2,
    );

    await core.patchNamespacedConfigMap(
      {
        namespace: ns,
        name: 'prices',
        body: { data: { revenue: 'twelve cents' } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const p = await waitForPool(ns, 'cm', 'YieldKnown False', yieldKnown('False', 'NotANumber'));
    const message =
      "revenueUsdPerMhsDay from ConfigMap prices key revenue: value 'twelve cents' is not a number";
    expect(condition(p, 'YieldKnown')?.message).toBe(message);
    // A ConfigMap value is what a person wrote: nothing is held, the old yield is gone from status.
    expect(p.status?.yields).toBeUndefined();
    expect(p.status?.revenueUsdPerMhsDay).toBeUndefined();
    expect(p.status?.electricityUsdPerKwh).toBe('0.085');
    expect(condition(p, 'Ready')?.status).toBe('True');
    const [warning] = await waitForEvent(ns, 'cm', 'YieldUnknown');
    expect(warning).toMatchObject({ type: 'Warning', note: `yield unknown: ${message}` });
    const parsed = parseMiningPool(p);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(poolEconomics(parsed.value, Date.now()).products[0]).toMatchObject({
      miningUsdPerGpuHour: null,
      electricityUsdPerKwh: 0.085,
      unknownReason: `yield unknown (NotANumber): ${message}`,
    });

    await core.patchNamespacedConfigMap(
      { namespace: ns, name: 'prices', body: { data: { revenue: '0.01' } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const back = await waitForPool(ns, 'cm', 'YieldKnown True again', yieldKnown('True'));
    expect(back.status?.yields).toEqual(KNOWN);
    const [normal] = await waitForEvent(ns, 'cm', 'YieldKnown');
    expect(normal?.type).toBe('Normal');
    expect((await poolEvents(ns, 'cm')).map((e) => `${e.type} ${e.reason} ${e.count}`)).toEqual([
      'Warning YieldUnknown 1',
      'Normal YieldKnown 1',
    ]);
  });
});

describe('MiningPool reconciler with an HTTP price (fake clock)', () => {
  const server = new PriceServer();
  let ctl: Controller;
  let clock: FakeClock;
  beforeAll(async () => {
    await server.start();
    stops.push(() => server.stop());
    clock = new FakeClock(Date.now());
    ctl = await startController('pool-http', clock);
  });

  /** Moves the fake clock and waits for the reconciles its timers started to finish. */
  async function advance(ms: number): Promise<void> {
    await clock.advance(ms);
    await ctl.queue.whenIdle();
  }

  it('500 holds the last good value (PriceRefused), past maxAge YieldUnknown, recovery YieldKnown', async () => {
    const { ns } = ctl;
    server.behaviour = json({ data: { usdPerMhsDay: '0.01' } });
    const http = {
      url: server.url('/etc?key=secret'),
      fieldPath: 'data.usdPerMhsDay',
      refreshSeconds: 10,
      maxAgeSeconds: 20,
    };
    await applyManifest(poolManifest(ns, 'feed', { http }));
    const first = await waitForPool(
      ns,
      'feed',
      'YieldKnown True',
      (p) => yieldKnown('True')(p) && p.status?.yields !== undefined,
    );
    expect(first.status?.yields).toEqual(KNOWN);
    await ctl.queue.whenIdle();
    expect(server.requests).toBe(1);
    const readTime = first.status?.inputsReadTime;

    // t+10 s: the feed fails. One PriceRefused; the yield holds (read at t, good until t+20 s).
    server.behaviour = json({ error: 'upstream down' }, 500);
    await advance(10_000);
    expect(server.requests).toBe(2);
    const [refused] = await waitForEvent(ns, 'feed', 'PriceRefused');
    expect(refused?.type).toBe('Warning');
    expect(refused?.note).toMatch(
      /^revenueUsdPerMhsDay from HTTP http:\/\/127\.0\.0\.1:\d+\/etc\?… field data\.usdPerMhsDay: HTTP 500/,
    );
    expect(refused?.note).toMatch(/keeping the last good value 0\.01 read at .* until /);
    expect(refused?.note).not.toContain('secret');
    const held = await waitForPool(ns, 'feed', 'holding', (p) =>
      /holding the value/.test(condition(p, 'YieldKnown')?.message ?? ''),
    );
    expect(condition(held, 'YieldKnown')?.status).toBe('True');
    expect(held.status?.yields).toEqual(KNOWN);
    expect(held.status?.inputsReadTime).toBe(readTime);

    // t+20 s: refused again, still held at this very instant; a millisecond later it is stale.
    await advance(10_000);
    expect(server.requests).toBe(3);
    await waitForEvent(ns, 'feed', 'PriceRefused', 2);
    expect(condition(await readPool(ns, 'feed'), 'YieldKnown')?.status).toBe('True');
    await advance(1);
    const stale = await waitForPool(ns, 'feed', 'YieldKnown False (Stale)', yieldKnown('False', 'Stale'));
    expect(condition(stale, 'YieldKnown')?.message).toMatch(
      /^revenueUsdPerMhsDay from HTTP .* field data\.usdPerMhsDay: last good value 0\.01 read 20s ago is older than maxAgeSeconds 20 \(latest refresh: HTTP 500/,
    );
    expect(stale.status?.yields).toBeUndefined();
    expect(stale.status?.inputsReadTime).toBe(readTime);
    const [unknown] = await waitForEvent(ns, 'feed', 'YieldUnknown');
    expect(unknown?.type).toBe('Warning');
    expect((await ctl.metrics.miningYield.get()).values).toEqual([]);

    // t+30 s: the feed is back.
    server.behaviour = json({ data: { usdPerMhsDay: '0.01' } });
    await advance(9_999);
    expect(server.requests).toBe(4);
    const back = await waitForPool(ns, 'feed', 'YieldKnown True again', yieldKnown('True'));
    expect(back.status?.yields).toEqual(KNOWN);
    expect(Date.parse(back.status!.inputsReadTime!)).toBe(Date.parse(readTime!) + 30_000);
    await waitForEvent(ns, 'feed', 'YieldKnown');
    expect((await poolEvents(ns, 'feed')).map((e) => `${e.type} ${e.reason} ${e.count}`)).toEqual([
      'Warning PriceRefused 2',
      'Warning YieldUnknown 1',
      'Normal YieldKnown 1',
    ]);
  });
});
