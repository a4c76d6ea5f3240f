import type { KubeClient } from '../kube/client.js';
import { DEMO_NAMESPACE, FARM, FARM_LABEL } from './manifests.js';

export interface ObservedNode {
  name: string;
  product: string;
  gpus: number;
  mode: string;
  miningGpus: number;
  /** job key → GPUs of its running pods on this node. */
  jobs: Map<string, number>;
}

export interface Observation {
  nodes: ObservedNode[];
  /** job key → the most telling True condition. */
  jobs: Map<string, string>;
  /** product → yield from the MiningPool status (null when unknown). */
  yields: Record<string, number | null>;
}

const gpusOf = (pod: {
  spec?: { containers?: { resources?: { limits?: Record<string, string> } }[] };
}): number =>
  (pod.spec?.containers ?? []).reduce((a, c) => a + Number(c.resources?.limits?.['nvidia.com/gpu'] ?? 0), 0);

const ORDER = ['Failed', 'Succeeded', 'Running', 'Preempted', 'Admitted', 'Queued'];

/** What the cluster is doing right now, read the way a user would (labels, pods, statuses). */
export async function observe(client: KubeClient): Promise<Observation> {
  const [nodes, pods, jobs, pools] = await Promise.all([
    client.core.listNode({ labelSelector: `${FARM_LABEL}=${FARM}` }),
    client.core.listNamespacedPod({
      namespace: DEMO_NAMESPACE,
      labelSelector: 'app.kubernetes.io/managed-by=rigshift',
    }),
    client.custom.listNamespacedCustomObject({
      group: 'rigshift.io',
      version: 'v1alpha1',
      plural: 'trainingjobs',
      namespace: DEMO_NAMESPACE,
    }),
    client.custom.listNamespacedCustomObject({
      group: 'rigshift.io',
      version: 'v1alpha1',
      plural: 'miningpools',
      namespace: DEMO_NAMESPACE,
    }),
  ]);
  const byNode = new Map<string, ObservedNode>();
  for (const n of nodes.items) {
    const name = n.metadata!.name!;
    byNode.set(name, {
      name,
      product: n.metadata?.labels?.['nvidia.com/gpu.product'] ?? '',
      gpus: Number(n.status?.allocatable?.['nvidia.com/gpu'] ?? 0),
      mode: n.metadata?.labels?.['rigshift.io/mode'] ?? 'unmanaged',
      miningGpus: 0,
      jobs: new Map(),
    });
  }
  for (const p of pods.items) {
    const node = byNode.get(p.spec?.nodeName ?? '');
    if (!node || p.status?.phase !== 'Running' || p.metadata?.deletionTimestamp) continue;
    const job = p.metadata?.labels?.['rigshift.io/trainingjob'];
    if (job) {
      const key = `${p.metadata?.namespace}/${job}`;
      node.jobs.set(key, (node.jobs.get(key) ?? 0) + gpusOf(p));
    } else if (p.metadata?.labels?.['rigshift.io/miningpool']) node.miningGpus += gpusOf(p);
  }
  const jobStates = new Map<string, string>();
  for (const j of (
    jobs as {
      items: {
        metadata: { name: string; namespace: string };
        status?: { conditions?: { type: string; status: string }[] };
      }[];
    }
  ).items) {
    const trueTypes = new Set(
      (j.status?.conditions ?? []).filter((c) => c.status === 'True').map((c) => c.type),
    );
    jobStates.set(
      `${j.metadata.namespace}/${j.metadata.name}`,
      ORDER.find((t) => trueTypes.has(t)) ?? 'Pending',
    );
  }
  const yields: Record<string, number | null> = {};
  for (const pool of (
    pools as {
      items: {
        status?: {
          yields?: { product: string; usdPerGpuHour: string }[];
          conditions?: { type: string; status: string }[];
        };
      }[];
    }
  ).items) {
    const known = pool.status?.conditions?.some((c) => c.type === 'YieldKnown' && c.status === 'True');
    for (const y of pool.status?.yields ?? []) yields[y.product] = known ? Number(y.usdPerGpuHour) : null;
  }
  return {
    nodes: [...byNode.values()].sort((a, b) => a.name.localeCompare(b.name)),
    jobs: jobStates,
    yields,
  };
}
