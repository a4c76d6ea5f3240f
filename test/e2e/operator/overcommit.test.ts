// Issue 9, item 5: a double-booked node (placed jobs assigned more GPUs on it than it has, as a node that lost
// GPUs, two plans from a stale cache or a hand edit would leave it) is found and repaired: the lower bid gives
// the node up as one preemption (not also a gang restart) and is placed again, with a Warning Event naming the
// node and the job that keeps it.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Manager } from '../../../src/controller/manager.js';
import {
  createWorld,
  jobManifest,
  startOperator,
  waitAllMining,
  waitFor,
  type Job,
  type World,
} from './harness.js';

let w: World;
let op: Manager | undefined;

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-overcommit', nodes: 3 });
  op = await startOperator(w);
  await waitAllMining(w, 90_000);
}, 150_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

const job = (name: string) => w.get<Job>('TrainingJob', name);
const running = async (name: string): Promise<Job | undefined> => {
  const j = await job(name);
  return j?.status?.state === 'Running' ? j : undefined;
};

it('requeues the lower bid of a double-booked node with an Event naming the node and the other job', async () => {
  // Two 4-GPU jobs share one node (the planner packs them); then the node shrinks to 4 GPUs (a card dropped
  // out of the device plugin), as a stale plan would leave it: 4 + 4 GPUs assigned on a 4-GPU node.
  const spec = { replicas: 1, gpusPerReplica: 4, checkpointGracePeriodSeconds: 1 };
  await w.apply(jobManifest(w.ns, 'high', { ...spec, bidUsdPerGpuHour: '2.00' }));
  const high = await waitFor('job high Running', () => running('high'), 90_000);
  const shared = high.status?.assignedNodes?.[0] ?? '';
  expect(shared).not.toBe('');
  await w.apply(jobManifest(w.ns, 'low', { ...spec, bidUsdPerGpuHour: '1.00' }));
  const before = await waitFor('job low Running', () => running('low'), 90_000);
  expect(before.status?.assignedNodes).toEqual([shared]);

  await w.client.rest.request({
    method: 'PATCH',
    path: `/api/v1/nodes/${shared}/status`,
    contentType: 'application/merge-patch+json',
    body: { status: { capacity: { 'nvidia.com/gpu': '4' }, allocatable: { 'nvidia.com/gpu': '4' } } },
  });

  const event = await waitFor(
    'an Overcommitted Warning on low',
    async () => (await w.events('low')).find((e) => e.reason === 'Overcommitted'),
    60_000,
  );
  expect(event.type).toBe('Warning');
  expect(event.note).toContain(shared);
  expect(event.note).toContain(`${w.ns}/high`);

  // Repaired: high keeps its node, low runs elsewhere, no node holds both.
  const low = await waitFor(
    'low Running off the shared node',
    async () => {
      const j = await running('low');
      const nodes = j?.status?.assignedNodes ?? [];
      return nodes.length === 1 && !nodes.includes(shared) ? j : undefined;
    },
    90_000,
  );
  expect((await job('high'))?.status?.assignedNodes).toEqual([shared]);
  expect((await job('high'))?.status?.state).toBe('Running');
  // One new run for low, counted as a preemption (not also as a gang restart, whichever reconciler sees the
  // hand edit first).
  const lowRuns = low.status as { preemptions?: number; restarts?: number } | undefined;
  expect(lowRuns?.preemptions).toBe(1);
  expect(lowRuns?.restarts ?? 0).toBe(0);
  await waitFor(
    'only high trains on the shared node',
    async () => {
      const live = (await w.pods('rigshift.io/trainingjob')).filter(
        (p) => !p.metadata?.deletionTimestamp && p.spec?.nodeName === shared,
      );
      return live.length === 1 && live[0]?.metadata?.labels?.['rigshift.io/trainingjob'] === 'high';
    },
    60_000,
  );
}, 300_000);
