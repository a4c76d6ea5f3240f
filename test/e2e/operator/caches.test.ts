// Memory grows with the farm, not the cluster: the operator holds only the ConfigMaps its pools read prices
// from (not the namespace's others) and trimmed copies of pods it does not own, whose GPUs still count.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Manager } from '../../../src/controller/manager.js';
import {
  createWorld,
  isRunning,
  podNodeOf,
  poolManifest,
  startOperator,
  waitAllMining,
  waitFor,
  type World,
} from './harness.js';

let w: World;
let op: Manager | undefined;

const configMap = (name: string, usd: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data: { usd, filler: 'x'.repeat(2000) },
});

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-caches', nodes: 2, withPool: false });
  await w.apply(
    configMap('power', '0.05'),
    configMap('power-b', '0.05'),
    ...[0, 1, 2].map((i) => configMap(`unrelated-${i}`, '9')),
  );
  // A pod rigshift does not own, with 2 GPUs on the first node.
  await w.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'foreign', labels: { team: 'a' }, annotations: { note: 'y'.repeat(1000) } },
    spec: {
      nodeName: w.nodes[0],
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'c',
          image: 'someone/else:1',
          env: [{ name: 'A', value: 'z'.repeat(500) }],
          resources: {
            limits: { 'nvidia.com/gpu': '2', cpu: '1' },
            requests: { 'nvidia.com/gpu': '2', cpu: '1' },
          },
        },
      ],
    },
  });
  await w.apply(
    poolManifest(w.ns, { electricityUsdPerKwh: { configMapKeyRef: { name: 'power', key: 'usd' } } }),
  );
  op = await startOperator(w);
  await waitAllMining(w);
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

it('holds only the ConfigMaps pools reference, following the pools', async () => {
  const m = op as Manager;
  expect(m.configMaps.watched()).toEqual([`${w.ns}/power`]);
  expect(m.configMaps.cached()).toBe(1);
  expect(m.configMaps.get(w.ns, 'power')?.data?.usd).toBe('0.05');
  expect(m.configMaps.get(w.ns, 'unrelated-0')).toBeUndefined();
  expect(m.informers.allConfigMaps).toBeUndefined();

  await w.apply(
    poolManifest(w.ns, { electricityUsdPerKwh: { configMapKeyRef: { name: 'power-b', key: 'usd' } } }),
  );
  await waitFor(
    'the watch to follow the pool to power-b',
    async () => m.configMaps.watched().join() === `${w.ns}/power-b` && m.configMaps.cached() === 1,
    30_000,
  );
  // A change of the referenced ConfigMap still reaches the pool: 1.00 USD/kWh makes idle pay more.
  await w.apply(configMap('power-b', '1.00'));
  await waitFor(
    'both nodes idle',
    async () => Object.values(await w.modes()).every((x) => x === 'idle'),
    60_000,
  );
  await w.apply(configMap('power-b', '0.05'));
  await waitAllMining(w);
}, 150_000);

it('keeps a trimmed copy of a foreign pod, and its GPUs stay off limits', async () => {
  const m = op as Manager;
  const cached = m.informers.foreignPods.get(w.ns, 'foreign') as V1Pod;
  expect(cached).toEqual({
    metadata: {
      name: 'foreign',
      namespace: w.ns,
      uid: expect.any(String),
      resourceVersion: expect.any(String),
    },
    spec: {
      nodeName: w.nodes[0],
      containers: [
        { name: 'c', resources: { limits: { 'nvidia.com/gpu': '2' }, requests: { 'nvidia.com/gpu': '2' } } },
      ],
    },
    status: { phase: expect.any(String) },
  });
  const miners = (await w.pods('rigshift.io/miningpool=etc')).filter(isRunning);
  const onFirst = miners.find((p) => podNodeOf(p) === w.nodes[0]);
  expect(onFirst?.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('6');
});
