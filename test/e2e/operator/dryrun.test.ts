// Dry run: the operator plans and reports in the job's status, and touches neither nodes nor pods; the same
// job is admitted and runs once dry run is off.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Manager } from '../../../src/controller/manager.js';
import {
  conditionOf,
  createWorld,
  hasTaint,
  isRunning,
  jobManifest,
  modeCount,
  startOperator,
  waitAllMining,
  waitFor,
  type Job,
  type World,
} from './harness.js';

let w: World;
let op: Manager | undefined;
let miners: Map<string, V1Pod>;

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-dry', nodes: 2 });
  op = await startOperator(w);
  miners = await waitAllMining(w);
  await op.stop();
  op = await startOperator(w, { dryRun: true });
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

describe('dry run', () => {
  it('reports where a winning job would go, and leaves nodes and pods alone', async () => {
    await w.apply(jobManifest(w.ns, 'dry', { replicas: 1, gpusPerReplica: 8 }));
    const queued = await waitFor('the dry-run verdict in the job status', async () => {
      const c = conditionOf(await w.get<Job>('TrainingJob', 'dry'), 'Queued');
      return c?.reason === 'DryRun' ? c : undefined;
    });
    expect(queued.status).toBe('True');
    expect(queued.message).toMatch(/^dry run: would be /);
    expect(conditionOf(await w.get<Job>('TrainingJob', 'dry'), 'Admitted')?.status).toBe('False');

    // A second plan (after a bid change) proves the first plan's node writes, had there been any, are done.
    await w.apply(jobManifest(w.ns, 'dry', { replicas: 1, gpusPerReplica: 8, bidUsdPerGpuHour: '1.25' }));
    await waitFor('the dry-run verdict for the new bid', async () => {
      const c = conditionOf(await w.get<Job>('TrainingJob', 'dry'), 'Queued');
      return c?.reason === 'DryRun' && /bid 1\.25/.test(c.message ?? '');
    });
    const targets = (await w.nodeObjects()).map((n) => n.metadata?.annotations?.['rigshift.io/target-mode']);
    expect(targets.filter((t) => t !== undefined && t !== 'mining')).toEqual([]);
    const modes = await w.modes();
    expect(modeCount(modes, 'mining')).toBe(2);
    expect((await w.nodeObjects()).filter(hasTaint)).toEqual([]);
    const nowMiners = (await w.pods('rigshift.io/miningpool=etc')).filter(isRunning);
    expect(new Set(nowMiners.map((p) => p.metadata?.uid))).toEqual(
      new Set([...miners.values()].map((p) => p.metadata?.uid)),
    );
    expect(await w.pods('rigshift.io/trainingjob=dry')).toEqual([]);
  });

  it('admits and runs the same job once dry run is off', async () => {
    await op?.stop();
    op = await startOperator(w);
    const running = await waitFor(
      'the job Running',
      async () => {
        const j = await w.get<Job>('TrainingJob', 'dry');
        return conditionOf(j, 'Running')?.status === 'True' ? j : undefined;
      },
      90_000,
    );
    expect(conditionOf(running, 'Admitted')?.status).toBe('True');
    expect((await w.pods('rigshift.io/trainingjob=dry')).filter(isRunning)).toHaveLength(1);
  }, 120_000);
});
