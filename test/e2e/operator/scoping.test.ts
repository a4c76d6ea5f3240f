// Pool namespaces: a MiningPool outside the namespaces the operator honours (--pool-namespace) steers nothing.
// The same pool, the same nodes: ignored (no miner, no node mining, a status and a Warning Event saying why),
// then honoured once the operator is told its namespace is a pool namespace.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Manager } from '../../../src/controller/manager.js';
import { POOL_IGNORED_REASON } from '../../../src/controller/scoping.js';
import { createWorld, startOperator, waitAllMining, waitFor, MODE, type World } from './harness.js';

interface PoolObject {
  status?: {
    yields?: unknown[];
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

let w: World;
let op: Manager | undefined;

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-scope', nodes: 2 });
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

it('ignores a pool outside the pool namespaces: no miner, no mining node, a condition and an Event say why', async () => {
  const farm = `${w.ns}-farm`; // never created: no pool can be honoured anywhere this operator looks
  op = await startOperator(w, { poolNamespaces: [farm] });
  const ready = await waitFor(
    'the pool to say it is ignored',
    async () => {
      const p = await w.get<PoolObject>('MiningPool', 'etc');
      const c = p?.status?.conditions?.find((x) => x.type === 'Ready');
      return c?.reason === POOL_IGNORED_REASON ? c : undefined;
    },
    60_000,
  );
  expect(ready.status).toBe('False');
  expect(ready.message).toBe(
    `MiningPools are honoured only in namespace ${farm} (the operator's --pool-namespace, Helm value ` +
      `operator.poolNamespaces); this one in ${w.ns} is ignored: no node mines for it and its prices are not read`,
  );
  const pool = await w.get<PoolObject>('MiningPool', 'etc');
  expect(pool?.status?.yields).toBeUndefined();
  expect(pool?.status?.conditions?.find((x) => x.type === 'YieldKnown')?.status).toBe('False');
  const events = await waitFor('a PoolIgnored Event', async () => {
    const e = (await w.events('etc')).filter((x) => x.reason === 'PoolIgnored');
    return e.length > 0 ? e : undefined;
  });
  expect(events.map((e) => [e.type, e.note])).toEqual([['Warning', ready.message]]);

  // The nodes get a mode from the planner, and it is not mining: nothing mines for an ignored pool.
  const modes = await waitFor('every node to have a mode', async () => {
    const m = await w.modes();
    return Object.values(m).every(Boolean) && Object.keys(m).length === 2 ? m : undefined;
  });
  expect(Object.values(modes)).toEqual(['idle', 'idle']);
  expect(await w.pods('rigshift.io/miningpool=etc')).toEqual([]);
  for (const n of await w.nodeObjects()) expect(n.metadata?.labels?.[MODE]).toBe('idle');

  // The same pool in a pool namespace: honoured.
  await op.stop();
  op = await startOperator(w, { poolNamespaces: [w.ns] });
  await waitAllMining(w);
  await waitFor('the pool to be Ready and priced', async () => {
    const p = await w.get<PoolObject>('MiningPool', 'etc');
    const c = (t: string) => p?.status?.conditions?.find((x) => x.type === t)?.status;
    return c('Ready') === 'True' && c('YieldKnown') === 'True';
  });
}, 180_000);
