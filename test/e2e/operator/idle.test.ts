// Curtailment: electricity spikes until mining loses more than idling (allowIdle): the nodes drain to idle
// (miners evicted, no taint), and mine again when the price falls back.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Manager } from '../../../src/controller/manager.js';
import {
  createWorld,
  hasTaint,
  isRunning,
  modeCount,
  poolManifest,
  startOperator,
  waitAllMining,
  waitFor,
  type World,
} from './harness.js';

let w: World;
let op: Manager | undefined;

const power = (usd: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'power' },
  data: { usd },
});

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-idle', nodes: 2, withPool: false });
  await w.apply(power('0.05'));
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

it('an electricity spike idles the farm; a normal price brings the miners back', async () => {
  // 120 MH/s × 0.02 / 24 − 0.3 kW × 1.00 = −0.20 USD/GPU-h, against −0.02 idle (20 W).
  await w.apply(power('1.00'));
  await waitFor(
    'both nodes idle without miners',
    async () => {
      const idle = modeCount(await w.modes(), 'idle') === 2;
      return idle && (await w.pods('rigshift.io/miningpool=etc')).length === 0;
    },
    60_000,
  );
  for (const n of await w.nodeObjects()) {
    expect(hasTaint(n)).toBe(false);
    expect(n.metadata?.annotations?.['rigshift.io/target-reason']).toMatch(
      /^idle: idle -0\.02 USD\/GPU-h beats mining yield -0\.20/,
    );
  }
  // One Event for the switch, naming the planner's reason (written in the background: waited for).
  const started = await waitFor('DrainStarted Event', async () =>
    (await w.events(w.nodes[0] ?? '', 'default')).find((e) => e.reason === 'DrainStarted'),
  );
  expect(started.note).toMatch(
    /^mining → idle: evicting 1 mining pod; idle: idle -0\.02 USD\/GPU-h beats mining/,
  );

  await w.apply(power('0.05'));
  const back = await waitAllMining(w);
  expect([...back.values()].every(isRunning)).toBe(true);
}, 120_000);
