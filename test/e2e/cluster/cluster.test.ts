// The local cluster is a real control plane: scheduling, taints, preemption, PDB-guarded eviction,
// CEL validation and node heartbeats all behave as in production.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { NODE_MONITOR_GRACE_SECONDS } from '../../../src/local/cluster.js';
import { getTestCluster, uniqueSuffix, waitFor, type TestCluster } from '../../support/cluster.js';

const PRODUCT = 'NVIDIA-GeForce-RTX-3090';
let c: TestCluster;
let core: k8s.CoreV1Api;
let ns: string;
const id = uniqueSuffix();
const nodeLabel = 'rigshift.io/test-cluster';
let nodes: string[];
let nodesCreatedAt: number;

function pod(
  name: string,
  gpus: number,
  extra: Partial<k8s.V1PodSpec> = {},
  labels: Record<string, string> = {},
): k8s.V1Pod {
  return {
    metadata: { name, labels },
    spec: {
      nodeSelector: { [nodeLabel]: id },
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: 'example.com/gpu:1',
          resources: { limits: { 'nvidia.com/gpu': String(gpus) } },
        },
      ],
      ...extra,
    },
  };
}

async function readPod(name: string): Promise<k8s.V1Pod | undefined> {
  try {
    return await core.readNamespacedPod({ name, namespace: ns });
  } catch (err) {
    if (err instanceof k8s.ApiException && err.code === 404) return undefined;
    throw err;
  }
}

const running = (name: string) => async () => {
  const p = await readPod(name);
  return p?.status?.phase === 'Running' ? p : undefined;
};

beforeAll(async () => {
  c = await getTestCluster();
  core = c.kc.makeApiClient(k8s.CoreV1Api);
  ns = await c.createNamespace('cluster');
  nodes = await c.addGpuNodes({
    count: 2,
    product: PRODUCT,
    gpus: 8,
    memoryMiB: 24576,
    namePrefix: `cl-${id}`,
    labels: { [nodeLabel]: id },
  });
  nodesCreatedAt = Date.now();
});

afterAll(async () => {
  await core.deleteNamespace({ name: ns });
  for (const n of nodes ?? []) await core.deleteNode({ name: n });
});

describe('local cluster', () => {
  it('schedules a pod that requests 8 GPUs onto a GPU node, and leaves an oversized one Pending', async () => {
    await core.createNamespacedPod({ namespace: ns, body: pod('fits', 8) });
    const p = await waitFor('pod fits Running', running('fits'));
    expect(nodes).toContain(p.spec?.nodeName);
    const node = await core.readNode({ name: p.spec!.nodeName! });
    expect(node.metadata?.labels?.['nvidia.com/gpu.product']).toBe(PRODUCT);
    expect(node.status?.allocatable?.['nvidia.com/gpu']).toBe('8');

    await core.createNamespacedPod({ namespace: ns, body: pod('too-big', 16) });
    const pending = await waitFor('scheduler verdict on too-big', async () => {
      const q = await readPod('too-big');
      return q?.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False');
    });
    expect(pending.reason).toBe('Unschedulable');
    expect(pending.message).toContain('Insufficient nvidia.com/gpu');
    await core.deleteNamespacedPod({ name: 'fits', namespace: ns, gracePeriodSeconds: 0 });
    await core.deleteNamespacedPod({ name: 'too-big', namespace: ns, gracePeriodSeconds: 0 });
    await waitFor('fits gone', async () => !(await readPod('fits')));
  });

  it('keeps a non-tolerating pod off a NoSchedule-tainted node, and lets a tolerating one land', async () => {
    const target = nodes[0]!;
    const taint = { key: 'rigshift.io/reserved', value: 'training', effect: 'NoSchedule' };
    await core.patchNode(
      { name: target, body: { spec: { taints: [taint] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const pin = { nodeSelector: { 'kubernetes.io/hostname': target } };
    await core.createNamespacedPod({ namespace: ns, body: pod('intolerant', 1, pin) });
    await core.createNamespacedPod({
      namespace: ns,
      body: pod('tolerant', 1, { ...pin, tolerations: [{ ...taint, operator: 'Equal' }] }),
    });
    const p = await waitFor('tolerant Running', running('tolerant'));
    expect(p.spec?.nodeName).toBe(target);
    const blocked = await waitFor('intolerant unschedulable', async () =>
      (await readPod('intolerant'))?.status?.conditions?.find(
        (x) => x.type === 'PodScheduled' && x.status === 'False',
      ),
    );
    expect(blocked.message).toContain('1 node(s) had untolerated taint');
    await core.patchNode(
      { name: target, body: { spec: { taints: null } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    // With the taint gone the same pod is scheduled: the taint was the only thing in the way.
    await waitFor('intolerant Running after untaint', running('intolerant'));
    for (const n of ['intolerant', 'tolerant'])
      await core.deleteNamespacedPod({ name: n, namespace: ns, gracePeriodSeconds: 0 });
    await waitFor('pods gone', async () => !(await readPod('intolerant')) && !(await readPod('tolerant')));
  });

  it('lets a high-priority pod preempt a low-priority one on a full GPU node', async () => {
    const scheduling = c.kc.makeApiClient(k8s.SchedulingV1Api);
    const low = `low-${id}`;
    const high = `high-${id}`;
    await scheduling.createPriorityClass({ body: { metadata: { name: low }, value: 100 } });
    await scheduling.createPriorityClass({ body: { metadata: { name: high }, value: 1000 } });
    try {
      const target = nodes[1]!;
      const pin = { nodeSelector: { 'kubernetes.io/hostname': target } };
      await core.createNamespacedPod({
        namespace: ns,
        body: pod('victim', 8, { ...pin, priorityClassName: low }),
      });
      const victim = await waitFor('victim Running', running('victim'));
      await core.createNamespacedPod({
        namespace: ns,
        body: pod('preemptor', 8, { ...pin, priorityClassName: high }),
      });
      const p = await waitFor('preemptor Running', running('preemptor'), 60_000);
      expect(p.spec?.nodeName).toBe(target);
      const after = await readPod('victim');
      // Gone, or (if kwok has not finished deleting it) at least a different incarnation is not there.
      expect(
        after === undefined ||
          after.metadata?.uid !== victim.metadata?.uid ||
          after.metadata?.deletionTimestamp,
      ).toBeTruthy();
      await waitFor('victim deleted', async () => !(await readPod('victim')));
      await core.deleteNamespacedPod({ name: 'preemptor', namespace: ns, gracePeriodSeconds: 0 });
      await waitFor('preemptor gone', async () => !(await readPod('preemptor')));
    } finally {
      await scheduling.deletePriorityClass({ name: low });
      await scheduling.deletePriorityClass({ name: high });
    }
  });

  it('answers 429 to an eviction a PodDisruptionBudget forbids, and evicts once it allows', async () => {
    const policy = c.kc.makeApiClient(k8s.PolicyV1Api);
    await core.createNamespacedPod({ namespace: ns, body: pod('guarded', 1, {}, { app: 'guarded' }) });
    await waitFor('guarded Running', running('guarded'));
    await policy.createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: {
        metadata: { name: 'guard' },
        spec: { minAvailable: 1, selector: { matchLabels: { app: 'guarded' } } },
      },
    });
    const pdbProcessed = (allowed: number) => async () => {
      const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'guard', namespace: ns });
      const s = pdb.status;
      return (
        s &&
        s.observedGeneration === pdb.metadata?.generation &&
        s.expectedPods === 1 &&
        s.disruptionsAllowed === allowed
      );
    };
    await waitFor('disruption controller to fill the PDB status', pdbProcessed(0));
    const evict = () =>
      core.createNamespacedPodEviction({
        name: 'guarded',
        namespace: ns,
        body: { metadata: { name: 'guarded', namespace: ns } },
      });
    const refused = await evict().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(k8s.ApiException);
    expect((refused as k8s.ApiException<string>).code).toBe(429);
    expect(String((refused as k8s.ApiException<string>).body)).toContain('disruption budget');
    expect(await readPod('guarded')).toBeDefined();

    await policy.patchNamespacedPodDisruptionBudget(
      { name: 'guard', namespace: ns, body: { spec: { minAvailable: 0 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitFor('PDB to allow one disruption', pdbProcessed(1));
    await evict();
    await waitFor('guarded evicted', async () => !(await readPod('guarded')));
  });

  it('rejects a custom resource that breaks an x-kubernetes-validations rule with the rule message', async () => {
    // Applied with kubectl: client-node's typed model has no x-kubernetes-validations field and would drop it.
    const group = `t${id}.rigshift.io`;
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: {
                    type: 'object',
                    properties: { replicas: { type: 'integer' } },
                    'x-kubernetes-validations': [
                      { rule: 'self.replicas <= 10', message: 'spec.replicas must be at most 10' },
                    ],
                  },
                },
              },
            },
          },
        ],
      },
    };
    await c.kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify(crd) });
    try {
      await c.kubectl(['wait', '--for=condition=Established', '--timeout=30s', `crd/widgets.${group}`]);
      const widget = (replicas: number) =>
        JSON.stringify({
          apiVersion: `${group}/v1`,
          kind: 'Widget',
          metadata: { name: `w${replicas}`, namespace: ns },
          spec: { replicas },
        });
      // Discovery of a new CRD can lag behind Established for a moment: retry until the kind is known.
      const rejected = await waitFor('the new CRD to be served', async () => {
        const r = await c.kubectl(['create', '-f', '-'], { input: widget(11), allowFail: true });
        return r.stderr.includes("doesn't have a resource type") || r.stderr.includes('no matches for kind')
          ? undefined
          : r;
      });
      expect(rejected.code).not.toBe(0);
      expect(rejected.stderr).toContain('spec.replicas must be at most 10');
      const ok = await c.kubectl(['create', '-f', '-'], { input: widget(3) });
      expect(ok.stdout).toContain('created');
    } finally {
      await c.kubectl(['delete', 'crd', `widgets.${group}`, '--wait=false']);
    }
  });

  it('keeps kwok nodes Ready, without NoExecute taints, past the node-monitor grace period', async () => {
    const graceMs = NODE_MONITOR_GRACE_SECONDS * 1000;
    // The other tests usually used up this time already; waitFor covers what is left, checking every second.
    await waitFor(
      'nodes older than twice the grace period',
      async () => Date.now() - nodesCreatedAt > 2 * graceMs,
      4 * graceMs,
      1000,
    );
    for (const name of nodes) {
      const n = await core.readNode({ name });
      expect(n.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');
      expect((n.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute')).toEqual([]);
    }
    const coordination = c.kc.makeApiClient(k8s.CoordinationV1Api);
    const lease = await coordination.readNamespacedLease({ name: nodes[0]!, namespace: 'kube-node-lease' });
    const renewed = new Date(lease.spec?.renewTime as unknown as string).getTime();
    expect(Date.now() - renewed).toBeLessThan(graceMs);
  });
});
