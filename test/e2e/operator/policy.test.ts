// Issue 9, item 3: the policy fails closed. The operator runs from the cluster's FleetPolicy `default` (not a
// policy file) in dry run; the policy is deleted (as an Argo CD prune would) while a job outbids mining. Before
// the fix the defaults (dryRun: false) applied and the nodes were drained for the job; now nothing is written
// to nodes or pods, and a Warning Event on the operator's Lease and /readyz say why. Recreated, it acts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Manager } from '../../../src/controller/manager.js';
import { Kinds, resourcePath } from '../../../src/kube/resources.js';
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

const fleetPolicy = (dryRun: boolean): object => ({
  apiVersion: 'rigshift.io/v1alpha1',
  kind: 'FleetPolicy',
  metadata: { name: 'default' },
  spec: {
    dryRun,
    hysteresisPercent: 5,
    minDwellSeconds: 0,
    switchingSeconds: 10,
    maxConcurrentDrains: 10,
    drainTimeoutSeconds: 30,
    priorityClasses: { mining: `${w.ns}-mining`, training: `${w.ns}-training` },
  },
});

const deletePolicy = async (): Promise<void> => {
  await w.client.rest
    .request({ method: 'DELETE', path: resourcePath(Kinds.FleetPolicy, { name: 'default' }) })
    .catch(() => undefined);
  await waitFor('the FleetPolicy gone', async () => (await w.get('FleetPolicy', 'default')) === undefined);
};

const readyz = async (): Promise<{ status: number; body: string }> => {
  const res = await fetch(`http://127.0.0.1:${op?.httpPort ?? 0}/readyz`);
  return { status: res.status, body: await res.text() };
};

/** What the operator may change on nodes and pods: labels, annotations, taints; pods and their phases. */
async function fingerprint(): Promise<string> {
  const nodes = (await w.nodeObjects()).map((n: V1Node) => ({
    name: n.metadata?.name,
    labels: n.metadata?.labels,
    annotations: n.metadata?.annotations,
    taints: n.spec?.taints ?? [],
  }));
  const pods = (await w.pods()).map(
    (p: V1Pod) => `${p.metadata?.name}/${p.metadata?.uid}/${String(Boolean(p.metadata?.deletionTimestamp))}`,
  );
  return JSON.stringify({ nodes, pods: pods.sort() });
}

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-policy', nodes: 2 });
  await deletePolicy();
  await w.apply(fleetPolicy(false));
  op = await startOperator(w, { policyFile: undefined, leaderElect: true, metricsAddress: '127.0.0.1:0' });
  await waitAllMining(w);
  await w.apply(fleetPolicy(true));
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await deletePolicy().catch(() => undefined);
  await w?.cleanup();
}, 60_000);

describe('a missing FleetPolicy', () => {
  it('in dry run, deleting the policy while a job outbids mining changes no node or pod, and says why', async () => {
    await w.apply(jobManifest(w.ns, 'rich', { replicas: 1, gpusPerReplica: 8, bidUsdPerGpuHour: '5.00' }));
    await waitFor('the dry-run verdict', async () => {
      const c = conditionOf(await w.get<Job>('TrainingJob', 'rich'), 'Queued');
      return c?.reason === 'DryRun';
    });
    const before = await fingerprint();
    expect((await readyz()).status).toBe(200);

    await deletePolicy();
    const warning = await waitFor('a PolicyMissing Event on the operator Lease', async () =>
      (await w.events(w.rbac.leaseName)).find((e) => e.reason === 'PolicyMissing'),
    );
    expect(warning.type).toBe('Warning');
    expect(warning.note).toMatch(/no FleetPolicy "default": nothing is switched, drained or started/);
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/not ready: no FleetPolicy "default"/);

    // Held for 10 s: with the defaults (dryRun: false) the job would have been admitted and a node drained.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      expect(await fingerprint()).toBe(before);
      const j = await w.get<Job>('TrainingJob', 'rich');
      expect(conditionOf(j, 'Admitted')?.status).not.toBe('True');
      await new Promise((res) => setTimeout(res, 500));
    }
  }, 60_000);

  it('once a live policy is created again, the job is admitted and runs', async () => {
    await w.apply(fleetPolicy(false));
    await waitFor(
      'the job Running',
      async () => conditionOf(await w.get<Job>('TrainingJob', 'rich'), 'Running')?.status === 'True',
      90_000,
    );
    expect((await w.pods('rigshift.io/trainingjob=rich')).filter(isRunning)).toHaveLength(1);
    expect((await readyz()).status).toBe(200);
    const back = (await w.events(w.rbac.leaseName)).find((e) => e.reason === 'PolicyInForce');
    expect(back?.type).toBe('Normal');
  }, 120_000);
});
