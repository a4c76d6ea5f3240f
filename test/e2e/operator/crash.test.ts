// Scenario 6 of issue 5: the operator (a child process) is killed with SIGKILL in the middle of a drain, and
// again right after admitting a job. Restarted, it converges from what the API server holds: no duplicate
// pods, no node left reserved for nothing, no job lost. Then SIGTERM stops it cleanly.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import {
  conditionOf,
  createWorld,
  hasTaint,
  isRunning,
  jobManifest,
  podNodeOf,
  spawnOperator,
  waitAllMining,
  waitFor,
  type Job,
  type OperatorProcess,
  type World,
} from './harness.js';

let w: World;
let op: OperatorProcess | undefined;

const job = (name: string) => w.get<Job>('TrainingJob', name);

async function kill(signal: NodeJS.Signals): Promise<number | null> {
  const p = op;
  if (!p) return null;
  p.child.kill(signal);
  const code = await p.exited;
  op = undefined;
  return code;
}

/** Every invariant a converged farm keeps, checked on the objects in the API server. */
async function converged(jobs: string[]): Promise<string | undefined> {
  const nodes: V1Node[] = await w.nodeObjects();
  const all = await w.pods();
  const live = all.filter(
    (p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed',
  );
  const training = new Set<string>();
  for (const name of jobs) {
    const j = await job(name);
    if (!j) return `job ${name} lost`;
    if (j.status?.state !== 'Running') return `job ${name} is ${j.status?.state}`;
    const pods = live.filter((p) => p.metadata?.labels?.['rigshift.io/trainingjob'] === name);
    const assigned = j.status.assignedNodes ?? [];
    if (pods.length !== assigned.length)
      return `job ${name} has ${pods.length} pods for ${assigned.length} replicas`;
    if (new Set(pods.map((p) => p.metadata?.name)).size !== pods.length)
      return `job ${name} has duplicate pods`;
    if ([...pods.map(podNodeOf)].sort().join() !== [...assigned].sort().join())
      return `job ${name} pods off its nodes`;
    for (const n of assigned) training.add(n);
  }
  for (const n of nodes) {
    const name = n.metadata?.name ?? '';
    const mode = n.metadata?.labels?.['rigshift.io/mode'];
    const want = training.has(name) ? 'training' : 'mining';
    if (mode !== want) return `${name} is ${mode}, expected ${want}`;
    if (hasTaint(n) !== (want === 'training')) return `${name} taint does not match its mode`;
    const miners = live.filter(
      (p: V1Pod) => p.metadata?.labels?.['rigshift.io/miningpool'] && podNodeOf(p) === name,
    );
    if (want === 'mining' && (miners.length !== 1 || !isRunning(miners[0] as V1Pod)))
      return `${name} has ${miners.length} miners`;
    if (want === 'training' && miners.length !== 0) return `${name} trains with a miner`;
  }
  return undefined;
}

async function waitConverged(jobs: string[]): Promise<void> {
  let last: string | undefined;
  try {
    await waitFor(
      'the farm converged',
      async () => (last = await converged(jobs)) === undefined,
      90_000,
      250,
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}: ${last}\n--- operator output ---\n${op?.output().slice(-4000)}`,
    );
  }
}

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-crash', nodes: 4, policy: { drainTimeoutSeconds: 600 } });
  await w.apply({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'hold' },
    spec: { minAvailable: 4, selector: { matchLabels: { 'rigshift.io/miningpool': 'etc' } } },
  });
  op = spawnOperator(w);
  await waitAllMining(w, 90_000);
}, 180_000);

afterAll(async () => {
  if (op) await kill('SIGKILL');
  await w?.cleanup();
}, 60_000);

it('SIGKILL mid-drain, a job created while it is down: the restarted operator converges', async () => {
  await w.apply(jobManifest(w.ns, 'gang', { checkpointGracePeriodSeconds: 1 }));
  // The budget holds the miners: both nodes stay draining until the operator is gone.
  await waitFor(
    'two nodes draining',
    async () => Object.values(await w.modes()).filter((m) => m === 'draining').length === 2,
    30_000,
  );
  expect(await kill('SIGKILL')).toBeNull();

  await w.c.kubectl(['delete', 'pdb', 'hold', '-n', w.ns]);
  await w.apply(jobManifest(w.ns, 'late', { replicas: 1, checkpointGracePeriodSeconds: 1 }));
  const gang = await job('gang');
  expect(conditionOf(gang, 'Admitted')?.status).toBe('True');

  op = spawnOperator(w);
  await waitConverged(['gang', 'late']);
  // The gang kept the nodes it was admitted to before the crash.
  expect((await job('gang'))?.status?.assignedNodes).toEqual(gang?.status?.assignedNodes);
}, 150_000);

it('SIGKILL right after an admission: converges again, then SIGTERM stops it cleanly', async () => {
  await w.apply(jobManifest(w.ns, 'third', { replicas: 1, checkpointGracePeriodSeconds: 1 }));
  await waitFor(
    'third admitted',
    async () => conditionOf(await job('third'), 'Admitted')?.status === 'True',
    30_000,
    20,
  );
  await kill('SIGKILL');
  op = spawnOperator(w);
  await waitConverged(['gang', 'late', 'third']);

  // Deleting a job while the operator is down: its finalizer waits for the next operator to clean up.
  await kill('SIGKILL');
  await w.c.kubectl(['delete', 'trainingjob', 'late', '-n', w.ns, '--wait=false']);
  op = spawnOperator(w);
  await waitFor('late gone', async () => (await job('late')) === undefined, 60_000);
  await waitConverged(['gang', 'third']);

  const out = op;
  expect(await kill('SIGTERM')).toBe(0);
  expect(out?.output()).toMatch(/shutting down/);
}, 180_000);
