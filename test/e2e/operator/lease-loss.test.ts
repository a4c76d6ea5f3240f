// Issue 9, item 6: a leader whose Lease is taken over (a rival writes its own holderIdentity with a fresh
// renewTime, as after a network partition) exits with a message, as controller-runtime does, and writes
// nothing to nodes or jobs afterwards; the Deployment would restart it clean.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { V1Node } from '@kubernetes/client-node';
import { microTime } from '../../../src/kube/clock.js';
import type { Lease } from '../../../src/kube/leader.js';
import { Kinds, resourcePath } from '../../../src/kube/resources.js';
import { ApiError } from '../../../src/kube/rest.js';
import {
  createWorld,
  jobManifest,
  spawnOperator,
  waitAllMining,
  waitFor,
  type Job,
  type OperatorProcess,
  type World,
} from './harness.js';

let w: World;
let op: OperatorProcess | undefined;
const OPERATOR_MANAGERS = new Set(['rigshift', 'rigshift-planner']);

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-lease-loss', nodes: 3 });
}, 120_000);

afterAll(async () => {
  op?.child.kill('SIGKILL');
  await w?.cleanup();
}, 60_000);

const lease = () => w.get<Lease>('Lease', w.rbac.leaseName);

/** What the operator's field managers last wrote on each node and job, and each job's resourceVersion. */
async function operatorWrites(): Promise<string> {
  const rows: string[] = [];
  const nodes = await w.nodeObjects();
  const jobs = await w.list<Job>('TrainingJob');
  for (const o of [...nodes, ...jobs] as (V1Node | Job)[]) {
    const m = o.metadata;
    for (const f of m?.managedFields ?? []) {
      if (OPERATOR_MANAGERS.has(f.manager ?? ''))
        rows.push(`${m?.name} ${f.manager} ${f.subresource ?? ''} ${String(f.time)}`);
    }
  }
  for (const j of jobs) rows.push(`${j.metadata?.name} rv=${j.metadata?.resourceVersion}`);
  return rows.sort().join('\n');
}

it('exits with a message when a rival takes the Lease over, and writes nothing after', async () => {
  op = spawnOperator(w, [
    '--leader-elect',
    '--lease-duration',
    '6',
    '--renew-deadline',
    '4',
    '--retry-period',
    '1',
  ]);
  const me = op.identity;
  await waitFor('the operator leads', async () => (await lease())?.spec.holderIdentity === me, 60_000);
  await waitAllMining(w, 90_000);
  // Busy when it happens: a job arrives, and the operator starts switching nodes for it.
  await w.apply(jobManifest(w.ns, 'busy', { replicas: 2, checkpointGracePeriodSeconds: 1 }));
  await waitFor(
    'the job admitted',
    async () => ((await w.get<Job>('TrainingJob', 'busy'))?.status?.assignedNodes?.length ?? 0) > 0,
    60_000,
  );

  // The rival's takeover: its identity, a fresh renewTime, a term long enough to outlast the test. A rival
  // writes over the version it read, as any elector does: the operator renews every second, so a renewal
  // between our read and our write is a 409, and the rival reads again.
  await waitFor(
    'the rival takes the Lease over',
    async () => {
      const current = await lease();
      if (!current) throw new Error('no Lease');
      const now = microTime(Date.now());
      try {
        await w.client.rest.request({
          method: 'PUT',
          path: resourcePath(Kinds.Lease, { namespace: w.ns, name: w.rbac.leaseName }),
          body: {
            ...current,
            spec: {
              ...current.spec,
              holderIdentity: 'rival',
              leaseDurationSeconds: 300,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1,
            },
          },
        });
        return true;
      } catch (err) {
        if (err instanceof ApiError && err.statusCode === 409) return false;
        throw err;
      }
    },
    10_000,
    10,
  );
  const takenAt = Date.now();
  const code = await Promise.race([
    op.exited,
    new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 20_000).unref()),
  ]);
  expect(code).not.toBe('running');
  expect(code).not.toBe(0);
  // It notices at its next renewal (every second), well before its renew deadline would end the term.
  expect(Date.now() - takenAt).toBeLessThan(6_000);
  expect(op.output()).toMatch(/leadership lost \(lease held by rival\): exiting/);

  // Nothing it had in flight lands afterwards: no field manager of the operator writes a node or job again.
  const atExit = await operatorWrites();
  const exitedAt = Date.now();
  while (Date.now() - exitedAt < 5_000) {
    expect(await operatorWrites()).toBe(atExit); // watched for five seconds
    await new Promise((r) => setTimeout(r, 250));
  }
  expect((await lease())?.spec.holderIdentity).toBe('rival');
  op = undefined;
}, 240_000);
