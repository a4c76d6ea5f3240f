// Scenario 4 of issue 5: mining revenue (a ConfigMap price) rises above two jobs' bids. After its minimum
// runtime the Interruptible job is preempted and its node mines again; the OnDemand job keeps running.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Manager } from '../../../src/controller/manager.js';
import {
  conditionOf,
  createWorld,
  isRunning,
  jobManifest,
  podNodeOf,
  poolManifest,
  startOperator,
  waitAllMining,
  waitFor,
  type Job,
  type World,
} from './harness.js';

let w: World;
let op: Manager | undefined;
const MIN_RUNTIME = 8;

const prices = (revenue: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'prices' },
  data: { revenue },
});

beforeAll(async () => {
  w = await createWorld({
    prefix: 'op-preempt',
    nodes: 4,
    withPool: false,
  });
  await w.apply(prices('0.02'));
  await w.apply(
    poolManifest(w.ns, { revenueUsdPerMhsDay: { configMapKeyRef: { name: 'prices', key: 'revenue' } } }),
  );
  op = await startOperator(w);
  await waitAllMining(w);
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

const job = (name: string) => w.get<Job>('TrainingJob', name);

it('scenario 4: yield above the bids preempts the Interruptible job after its minimum runtime, not the OnDemand one', async () => {
  const spec = { replicas: 1, bidUsdPerGpuHour: '0.50', checkpointGracePeriodSeconds: 1 };
  await w.apply(
    jobManifest(w.ns, 'spot', { ...spec, tier: 'Interruptible', minRuntimeSeconds: MIN_RUNTIME }),
    jobManifest(w.ns, 'steady', spec),
  );
  const both = await waitFor(
    'both jobs Running',
    async () => {
      const [a, b] = await Promise.all([job('spot'), job('steady')]);
      return a?.status?.state === 'Running' && b?.status?.state === 'Running'
        ? { spot: a, steady: b }
        : undefined;
    },
    60_000,
  );
  const spotNode = both.spot.status?.assignedNodes?.[0];
  const steadyNode = both.steady.status?.assignedNodes?.[0];

  // 120 MH/s × 0.20 / 24 − 0.3 kW × 0.05 = 0.985 USD/GPU-h: mining now beats 0.50 − 0.0175 by far.
  await w.apply(prices('0.20'));
  const pool = await waitFor('yield 0.985', async () => {
    const p = await w.get<{ status?: { yields?: { usdPerGpuHour: string }[] } }>('MiningPool', 'etc');
    return p?.status?.yields?.[0]?.usdPerGpuHour === '0.985' ? p : undefined;
  });
  expect(pool.status?.yields?.[0]?.usdPerGpuHour).toBe('0.985');

  const preempted = await waitFor(
    'spot Preempted',
    async () => {
      const j = await job('spot');
      return conditionOf(j, 'Preempted')?.status === 'True' ? j : undefined;
    },
    60_000,
  );
  const ranFrom = Date.parse(conditionOf(both.spot, 'Running')?.lastTransitionTime ?? '');
  const stoppedAt = Date.parse(conditionOf(preempted, 'Preempted')?.lastTransitionTime ?? '');
  expect(stoppedAt - ranFrom).toBeGreaterThanOrEqual(MIN_RUNTIME * 1000);
  expect(conditionOf(preempted, 'Preempted')).toMatchObject({ reason: 'BidBelowYield' });
  expect(conditionOf(preempted, 'Preempted')?.message).toMatch(
    /below mining yield 0\.985; interruptible and past its minimum runtime/,
  );
  expect(preempted.status?.preemptions).toBe(1);
  expect(preempted.status?.assignedNodes).toBeUndefined();
  expect((await w.events('spot')).map((e) => e.reason)).toContain('Preempted');

  // Its pods go, its node mines again; it waits in the queue, outbid by mining.
  await waitFor(
    'spot pods gone',
    async () => (await w.pods('rigshift.io/trainingjob=spot')).length === 0,
    30_000,
  );
  await waitFor(
    `${spotNode} mining with a miner`,
    async () => {
      const modes = await w.modes();
      const miners = (await w.pods('rigshift.io/miningpool=etc')).filter(
        (p) => isRunning(p) && podNodeOf(p) === spotNode,
      );
      return modes[spotNode ?? ''] === 'mining' && miners.length === 1;
    },
    30_000,
  );
  // Queued at once with reason Preempted; the next plan says why it waits (plans are batched, 200 ms apart).
  const waiting = await waitFor('spot Queued, outbid by mining', async () => {
    const j = await job('spot');
    const queued = conditionOf(j, 'Queued');
    return j?.status?.state === 'Preempted' && queued?.status === 'True' && queued.reason === 'BidBelowYield'
      ? j
      : undefined;
  });
  expect(conditionOf(waiting, 'Queued')?.reason).toBe('BidBelowYield');
  expect(waiting.status?.preemptions).toBe(1);

  // The OnDemand job was never touched.
  const steady = await job('steady');
  expect(steady?.status?.state).toBe('Running');
  expect(conditionOf(steady, 'Preempted')?.status).toBe('False');
  expect(conditionOf(steady, 'Running')?.lastTransitionTime).toBe(
    conditionOf(both.steady, 'Running')?.lastTransitionTime,
  );
  expect((await w.modes())[steadyNode ?? '']).toBe('training');
  const pods = (await w.pods('rigshift.io/trainingjob=steady')).filter(isRunning);
  expect(pods.map((p) => p.metadata?.uid)).toHaveLength(1);
}, 120_000);
