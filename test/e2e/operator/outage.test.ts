// Issue 9, item 4: a price outage must not stop mining, and a restart must not forget the last good price.
// The electricity price comes from an HTTP feed (maxAgeSeconds 90). The operator is stopped, the feed goes
// down, a new node joins and one miner is lost; restarted during the outage, the operator holds the last good
// price it finds in the MiningPool's status, and every node mines (before: the yield was unknown at once and
// neither the new node nor the one that lost its miner got one). Restarted again while the feed answers a 100×
// glitch, the glitch is refused as an outlier against the restored value. Past maxAgeSeconds the yield turns
// unknown, and the nodes still mine, as does a node that joins then.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Manager } from '../../../src/controller/manager.js';
import { Kinds, resourcePath } from '../../../src/kube/resources.js';
import { json, LOCAL_EGRESS, PriceServer } from '../../unit/sources/price-server.js';
import {
  P3090,
  createWorld,
  isRunning,
  poolManifest,
  startOperator,
  waitAllMining,
  waitFor,
  type World,
} from './harness.js';

const MAX_AGE = 90;
let w: World;
let op: Manager | undefined;
const server = new PriceServer();

interface PoolStatus {
  electricityUsdPerKwh?: string;
  inputsReadTime?: string;
  yields?: { product: string; usdPerGpuHour: string }[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
}
const status = async (): Promise<PoolStatus | undefined> =>
  (await w.get<{ status?: PoolStatus }>('MiningPool', 'etc'))?.status;
const yieldKnown = (s: PoolStatus | undefined) => s?.conditions?.find((c) => c.type === 'YieldKnown');

beforeAll(async () => {
  await server.start();
  server.behaviour = json({ price: 0.05 });
  w = await createWorld({ prefix: 'op-outage', nodes: 2, withPool: false });
  await w.apply(
    poolManifest(w.ns, {
      electricityUsdPerKwh: {
        http: { url: server.url(), fieldPath: 'price', refreshSeconds: 10, maxAgeSeconds: MAX_AGE },
      },
    }),
  );
  op = await startOperator(w, { priceEgress: LOCAL_EGRESS, identity: 'outage-a' });
  await waitAllMining(w);
  await waitFor('YieldKnown True', async () => yieldKnown(await status())?.status === 'True');
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await server.stop();
  await w?.cleanup();
}, 60_000);

describe('a price outage', () => {
  it('restarted during an outage, the operator holds the last good price and every node mines, a new one too', async () => {
    await op?.stop();
    op = undefined;
    server.behaviour = json({ error: 'upstream down' }, 503);
    const [fresh] = await w.c.addGpuNodes({
      count: 1,
      product: P3090,
      gpus: 8,
      memoryMiB: 24576,
      namePrefix: `${w.ns}-new`,
      labels: { 'rigshift.io/test': w.ns },
    });
    w.nodes.push(fresh ?? '');
    const [lost] = (await w.pods('rigshift.io/miningpool=etc')).filter(isRunning) as V1Pod[];
    await w.client.rest.request({
      method: 'DELETE',
      path: resourcePath(Kinds.Pod, { namespace: w.ns, name: lost?.metadata?.name }),
      body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 },
    });

    op = await startOperator(w, { priceEgress: LOCAL_EGRESS, identity: 'outage-b' });
    const refused = await waitFor('PriceRefused from the restarted operator', async () =>
      (await w.events('etc')).find((e) => e.reason === 'PriceRefused' && e.reportingInstance === 'outage-b'),
    );
    expect(refused.note).toMatch(/keeping the last good value 0\.05 read at/);
    const held = await status();
    expect(yieldKnown(held)).toMatchObject({ status: 'True', reason: 'PricesKnown' });
    expect(yieldKnown(held)?.message).toMatch(/electricityUsdPerKwh 0\.05 .*holding the value read at/);
    const miners = await waitAllMining(w, 60_000);
    expect(miners.has(fresh ?? '')).toBe(true);
  }, 120_000);

  it('restarted while the feed answers a 100× glitch, the glitch is refused against the restored value', async () => {
    await op?.stop();
    op = undefined;
    server.behaviour = json({ price: 5 });
    op = await startOperator(w, { priceEgress: LOCAL_EGRESS, identity: 'outage-c' });
    const outlier = await waitFor('an Outlier refusal from the restarted operator', async () =>
      (await w.events('etc')).find((e) => e.reason === 'PriceRefused' && e.reportingInstance === 'outage-c'),
    );
    expect(outlier.note).toMatch(
      /value 5 is an outlier: more than 5× the size of the median 0\.05 of the last good value before a restart/,
    );
    const s = await status();
    expect(s?.electricityUsdPerKwh).toBe('0.05');
    expect(yieldKnown(s)?.status).toBe('True');
    // 120 MH/s × 0.02 / 24 − 0.3 kW × 0.05: the glitch would have made it 0.1 − 1.5 = −1.4.
    expect(s?.yields).toEqual([{ product: P3090, usdPerGpuHour: '0.085' }]);
  }, 60_000);

  it(
    'past maxAgeSeconds the yield is unknown, and the nodes still mine',
    async () => {
      server.behaviour = json({ error: 'upstream down' }, 503);
      const readAt = Date.parse((await status())?.inputsReadTime ?? '');
      expect(Number.isNaN(readAt)).toBe(false);
      const stale = await waitFor(
        'YieldKnown False (Stale)',
        async () => {
          const c = yieldKnown(await status());
          return c?.status === 'False' ? { c, at: Date.now() } : undefined;
        },
        (MAX_AGE + 30) * 1000,
      );
      expect(stale.c.reason).toBe('Stale');
      // Held until maxAgeSeconds after the read before the restarts, not unknown at the restart.
      expect(stale.at).toBeGreaterThanOrEqual(readAt + MAX_AGE * 1000);
      // A node that joins while the yield is unknown gets its miner too.
      const [late] = await w.c.addGpuNodes({
        count: 1,
        product: P3090,
        gpus: 8,
        memoryMiB: 24576,
        namePrefix: `${w.ns}-late`,
        labels: { 'rigshift.io/test': w.ns },
      });
      w.nodes.push(late ?? '');
      const miners = await waitAllMining(w, 30_000);
      expect(miners.size).toBe(4);
      await waitFor('every node planned to mine on while the yield is unknown', async () => {
        const reasons = (await w.nodeObjects()).map(
          (n) => n.metadata?.annotations?.['rigshift.io/target-reason'],
        );
        return (
          reasons.length === 4 && reasons.every((r) => /mining goes on, the farm's default/.test(r ?? ''))
        );
      });
    },
    (MAX_AGE + 90) * 1000,
  );
});
