// Renter limits: a 2×8 gang in a namespace whose ResourceQuota allows 8 training GPUs is never admitted,
// waits QuotaExceeded naming the quota, and no node leaves mining; raising the quota lets it run.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { V1ResourceQuota } from '@kubernetes/client-node';
import type { Manager } from '../../../src/controller/manager.js';
import {
  conditionOf,
  createWorld,
  isRunning,
  jobManifest,
  startOperator,
  waitAllMining,
  waitFor,
  type Job,
  type World,
} from './harness.js';

let w: World;
let op: Manager | undefined;

// Scoped to the training PriorityClass: the miners in the same namespace (16 GPUs) are not counted.
const gpuQuota = (gpus: number) => ({
  apiVersion: 'v1',
  kind: 'ResourceQuota',
  metadata: { name: 'gpus' },
  spec: {
    hard: { 'requests.nvidia.com/gpu': String(gpus) },
    scopeSelector: {
      matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: [`${w.ns}-training`] }],
    },
  },
});

/** Waits until the quota controller has counted the quota at `gpus`. */
async function quotaCounted(gpus: number): Promise<void> {
  await waitFor(
    `ResourceQuota gpus counted at ${gpus}`,
    async () => {
      const q = await w.get<V1ResourceQuota>('ResourceQuota', 'gpus');
      const st = q?.status;
      return st?.hard?.['requests.nvidia.com/gpu'] === String(gpus) && st.used !== undefined;
    },
    30_000,
  );
}

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-quota', nodes: 2 });
  op = await startOperator(w);
  await waitAllMining(w);
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

it('a gang its quota cannot hold waits QuotaExceeded, no node drains; raised, it runs', async () => {
  await w.apply(gpuQuota(8));
  await quotaCounted(8);
  await w.apply(jobManifest(w.ns, 'big', { bidUsdPerGpuHour: '1.00' }));

  const expected = `ResourceQuota gpus in ns ${w.ns}: requests.nvidia.com/gpu needs 16, 8 free (0 used of 8)`;
  const queued = await waitFor(
    'the job queued with QuotaExceeded',
    async () => {
      const j = await w.get<Job>('TrainingJob', 'big');
      return conditionOf(j, 'Queued')?.reason === 'QuotaExceeded' ? j : undefined;
    },
    30_000,
  );
  expect(conditionOf(queued, 'Queued')?.message).toBe(expected);
  expect(conditionOf(queued, 'Admitted')).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
  expect(queued.status?.waitingReason).toBe(expected);
  expect(queued.status?.assignedNodes ?? []).toEqual([]);
  const events = await w.events('big');
  expect(events).toContainEqual(expect.objectContaining({ reason: 'Queued', note: expected }));

  // The planner has seen the job (its condition says so); watch the nodes for a while: none leaves mining.
  const until = Date.now() + 6_000;
  let polls = 0;
  while (Date.now() < until) {
    for (const n of await w.nodeObjects()) {
      const name = n.metadata?.name;
      expect([name, n.metadata?.annotations?.['rigshift.io/target-mode']]).toEqual([name, 'mining']);
      expect([name, n.metadata?.labels?.['rigshift.io/mode']]).toEqual([name, 'mining']);
      expect((n.spec?.taints ?? []).map((t) => t.key)).not.toContain('rigshift.io/reserved');
    }
    expect(await w.pods('app.kubernetes.io/component=trainer')).toEqual([]);
    polls++;
    await new Promise((r) => setTimeout(r, 300));
  }
  expect(polls).toBeGreaterThan(3);
  const still = await w.get<Job>('TrainingJob', 'big');
  expect(conditionOf(still, 'Queued')?.reason).toBe('QuotaExceeded');

  await w.apply(gpuQuota(16));
  const running = await waitFor(
    'the job running once the quota holds it',
    async () => {
      const j = await w.get<Job>('TrainingJob', 'big');
      return conditionOf(j, 'Running')?.status === 'True' ? j : undefined;
    },
    90_000,
  );
  expect(running.status?.assignedNodes).toHaveLength(2);
  const trainers = (await w.pods('app.kubernetes.io/component=trainer')).filter(isRunning);
  expect(trainers).toHaveLength(2);
  // The quota now counts the gang's 16 GPUs: nothing left for another.
  await waitFor(
    'the quota counting the running gang',
    async () =>
      (await w.get<V1ResourceQuota>('ResourceQuota', 'gpus'))?.status?.used?.['requests.nvidia.com/gpu'] ===
      '16',
    30_000,
  );
}, 240_000);
