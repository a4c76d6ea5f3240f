// Scenario 5 of issue 5: a PodDisruptionBudget forbids evicting the miners. The drain waits (policy Wait:
// DrainBlocked, then DrainStalled past the timeout); under Abort the node goes back to mining and the job
// back to the queue; under ForceEvict the operator deletes its own miners and the job runs. Each policy is a
// restart of the operator with another policy file: the drain resumes from what the node's annotations say.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Manager } from '../../../src/controller/manager.js';
import {
  conditionOf,
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
const TIMEOUT = 3;

const policy = (drainTimeoutPolicy: string) =>
  w.writePolicy({
    hysteresisPercent: 5,
    minDwellSeconds: 0,
    switchingSeconds: 10,
    drainTimeoutSeconds: TIMEOUT,
    drainTimeoutPolicy,
  });

async function restart(drainTimeoutPolicy: string): Promise<void> {
  await op?.stop();
  op = await startOperator(w, { policyFile: policy(drainTimeoutPolicy) });
}

const job = () => w.get<Job>('TrainingJob', 'gang');
const reasons = async (name: string, ns?: string) => (await w.events(name, ns)).map((e) => e.reason);

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-drain', nodes: 2 });
  await w.apply({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'keep-miners' },
    // minAvailable as a count: percentages and maxUnavailable need the owner's scale subresource.
    spec: { minAvailable: 2, selector: { matchLabels: { 'rigshift.io/miningpool': 'etc' } } },
  });
  op = await startOperator(w, { policyFile: policy('Wait') });
  await waitAllMining(w);
  await waitFor('the PDB observed', async () => {
    const pdb = await w.get<{ status?: { expectedPods?: number } }>('PodDisruptionBudget', 'keep-miners');
    return pdb?.status?.expectedPods === 2;
  });
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

it('Wait: the drain waits on the budget, says so, and reports DrainStalled past its timeout', async () => {
  await w.apply(jobManifest(w.ns, 'gang', { replicas: 1, checkpointGracePeriodSeconds: 1 }));
  const admitted = await waitFor('gang admitted', async () => {
    const j = await job();
    return conditionOf(j, 'Admitted')?.status === 'True' ? j : undefined;
  });
  const node = admitted.status?.assignedNodes?.[0] ?? '';
  await waitFor('DrainBlocked on the node', async () =>
    (await reasons(node, 'default')).includes('DrainBlocked'),
  );
  const blocked = (await w.events(node, 'default')).find((e) => e.reason === 'DrainBlocked');
  expect(blocked?.type).toBe('Warning');
  expect(blocked?.note).toMatch(/disruption budget/i);
  await waitFor(
    'DrainStalled on the node and the job',
    async () => {
      return (
        (await reasons(node, 'default')).includes('DrainStalled') &&
        (await reasons('gang')).includes('DrainStalled')
      );
    },
    30_000,
  );
  const stalled = (await w.events(node, 'default')).find((e) => e.reason === 'DrainStalled');
  expect(stalled?.note).toMatch(
    new RegExp(`past its timeout of ${TIMEOUT} s; policy Wait: still evicting politely`),
  );
  expect((await w.modes())[node]).toBe('draining');
  expect((await w.pods('rigshift.io/miningpool=etc')).filter((p) => p.spec?.nodeName === node)).toHaveLength(
    1,
  );
  expect(await w.pods('rigshift.io/trainingjob=gang')).toHaveLength(0);
  expect((await job())?.status?.state).toBe('Admitted');
});

it('Abort: the node goes back to mining and the job back to the queue', async () => {
  const node = (await job())?.status?.assignedNodes?.[0] ?? '';
  await restart('Abort');
  await waitFor(
    'DrainAborted on the node',
    async () => (await reasons(node, 'default')).includes('DrainAborted'),
    30_000,
  );
  const aborted = (await w.events(node, 'default')).find((e) => e.reason === 'DrainAborted');
  expect(aborted?.note).toMatch(/policy Abort: back to mining/);
  const n = await w.get<{
    metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  }>('Node', node);
  expect(n?.metadata.labels['rigshift.io/mode']).toBe('mining');
  expect(n?.metadata.annotations['rigshift.io/drain-aborted']).toBeDefined();
  // The job no longer holds that node (it may be trying the other one, which the budget also protects).
  await waitFor(
    'gang released the aborted node',
    async () => !(await job())?.status?.assignedNodes?.includes(node),
    30_000,
  );
  expect(await reasons('gang')).toContain('DrainAborted');
});

it('ForceEvict: past the timeout the operator deletes its own miners and the job runs', async () => {
  await restart('ForceEvict');
  const running = await waitFor(
    'gang Running',
    async () => {
      const j = await job();
      return j?.status?.state === 'Running' ? j : undefined;
    },
    60_000,
  );
  const node = running.status?.assignedNodes?.[0] ?? '';
  expect((await w.modes())[node]).toBe('training');
  expect(await reasons(node, 'default')).toContain('DrainForced');
  const forced = (await w.events(node, 'default')).find((e) => e.reason === 'DrainForced');
  expect(forced?.note).toMatch(
    /policy ForceEvict: deleted 1 mining pod with grace 0, ignoring disruption budgets/,
  );
  // The other node still mines: its miner was never touched by the force.
  const other = w.nodes.find((n) => n !== node) ?? '';
  await waitAllMining({ ...w, nodes: [other] } as typeof w).catch(() => undefined);
  expect((await w.modes())[other]).toBe('mining');
}, 90_000);
