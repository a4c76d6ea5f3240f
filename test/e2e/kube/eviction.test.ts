// The Eviction API through evictPod: PDB refusals as typed results, eviction once allowed, never a delete.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apply } from '../../../src/kube/apply.js';
import { createKubeClient, type KubeClient } from '../../../src/kube/client.js';
import { evictPod } from '../../../src/kube/eviction.js';
import { isNotFound } from '../../../src/kube/rest.js';
import { getTestCluster, uniqueSuffix, waitFor, type TestCluster } from '../../support/cluster.js';

let c: TestCluster;
let client: KubeClient;
let ns: string;
let nodes: string[] = [];
const id = uniqueSuffix();
const nodeLabel = 'rigshift.io/test-kube-eviction';

interface Pod {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}
interface Pdb {
  metadata: { generation?: number };
  status?: { observedGeneration?: number; expectedPods?: number; disruptionsAllowed?: number };
}

async function readPod(name: string): Promise<Pod | undefined> {
  try {
    return (await client.rest.request<Pod>({ method: 'GET', path: `/api/v1/namespaces/${ns}/pods/${name}` }))
      .body;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function runningPod(name: string): Promise<Pod> {
  await apply(client, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: 'miner' } },
    spec: {
      nodeSelector: { [nodeLabel]: id },
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'm', image: 'example.com/miner:1', resources: { limits: { 'nvidia.com/gpu': '1' } } },
      ],
    },
  });
  return waitFor(
    `${name} Running and Ready`,
    async () => {
      const p = await readPod(name);
      const ready = p?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
      return p?.status?.phase === 'Running' && ready ? p : undefined;
    },
    60_000,
  );
}

/** The disruption controller has seen the PDB's current spec and counted the pods. */
const pdbProcessed = (expectedPods: number, allowed: number) => async () => {
  const pdb = (
    await client.rest.request<Pdb>({
      method: 'GET',
      path: `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/miners`,
    })
  ).body;
  const s = pdb.status;
  return (
    s?.observedGeneration === pdb.metadata.generation &&
    s?.expectedPods === expectedPods &&
    s?.disruptionsAllowed === allowed
  );
};

const pdb = (minAvailable: number) => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: 'miners', namespace: ns },
  spec: { minAvailable, selector: { matchLabels: { app: 'miner' } } },
});

beforeAll(async () => {
  c = await getTestCluster();
  client = createKubeClient(c.kc);
  ns = await c.createNamespace('kube-evict');
  nodes = await c.addGpuNodes({
    count: 1,
    product: 'NVIDIA-GeForce-RTX-3090',
    gpus: 8,
    memoryMiB: 24576,
    namePrefix: `kev-${id}`,
    labels: { [nodeLabel]: id },
  });
});

afterAll(async () => {
  await client?.rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${ns}` }).catch(() => undefined);
  for (const n of nodes)
    await client?.rest.request({ method: 'DELETE', path: `/api/v1/nodes/${n}` }).catch(() => undefined);
});

describe('evictPod', () => {
  it('is blocked by a PDB with the server message, then evicts once the PDB allows it', async () => {
    const pod = await runningPod('miner-a');
    await apply(client, pdb(1));
    await waitFor('disruption controller to process the PDB (0 allowed)', pdbProcessed(1, 0), 60_000);

    const blocked = await evictPod(client, { namespace: ns, name: 'miner-a', uid: pod.metadata.uid });
    expect(blocked.outcome).toBe('blockedByPdb');
    if (blocked.outcome !== 'blockedByPdb') throw new Error('unreachable');
    expect(blocked.message).toContain("would violate the pod's disruption budget");
    expect(blocked.message).toContain(
      'The disruption budget miners needs 1 healthy pods and has 1 currently',
    );
    const still = await readPod('miner-a');
    expect(still?.metadata.uid).toBe(pod.metadata.uid);
    expect(still?.metadata.deletionTimestamp).toBeUndefined();

    // A dry run that the PDB would allow changes nothing.
    await apply(client, pdb(0));
    await waitFor('PDB to allow one disruption', pdbProcessed(1, 1), 60_000);
    const dry = await evictPod(client, {
      namespace: ns,
      name: 'miner-a',
      uid: pod.metadata.uid,
      dryRun: true,
    });
    expect(dry).toEqual({ outcome: 'evicted' });
    expect((await readPod('miner-a'))?.metadata.deletionTimestamp).toBeUndefined();

    const evicted = await evictPod(client, {
      namespace: ns,
      name: 'miner-a',
      uid: pod.metadata.uid,
      gracePeriodSeconds: 1,
    });
    expect(evicted).toEqual({ outcome: 'evicted' });
    await waitFor('miner-a gone', async () => !(await readPod('miner-a')), 60_000);
  });

  it('reports notFound for a missing pod and for a pod recreated under the same name', async () => {
    const missing = await evictPod(client, { namespace: ns, name: 'never-existed' });
    expect(missing.outcome).toBe('notFound');

    const pod = await runningPod('miner-b');
    const stale = await evictPod(client, {
      namespace: ns,
      name: 'miner-b',
      uid: `${pod.metadata.uid.slice(0, -4)}0000`,
    });
    expect(stale.outcome).toBe('notFound');
    if (stale.outcome === 'notFound') expect(stale.message).toContain('UID in the precondition');
    expect((await readPod('miner-b'))?.metadata.deletionTimestamp).toBeUndefined();
  });
});
