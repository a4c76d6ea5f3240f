import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { DEFAULT_GPU_RESOURCES, NVIDIA } from '../api/v1alpha1/gpus.js';
import type { MiningCounts } from './pool-yields.js';

/** Label on mining pods naming their MiningPool (pods live in the pool's namespace). */
export const MINING_POOL_LABEL = 'rigshift.io/miningpool';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'rigshift';
/** The GPU resource when nothing says otherwise (NVIDIA's device plugin). */
export const GPU_RESOURCE = NVIDIA.resource;

/** Queue key of the MiningPool a mining pod belongs to (for the pod informer's handler), if any. */
export function poolKeyForPod(pod: KubernetesObject): string | undefined {
  const pool = pod.metadata?.labels?.[MINING_POOL_LABEL];
  const ns = pod.metadata?.namespace;
  return pool && ns ? `${ns}/${pool}` : undefined;
}

interface PriceRefs {
  revenueUsdPerMhsDay?: { configMapKeyRef?: { name?: string } };
  electricityUsdPerKwh?: { configMapKeyRef?: { name?: string } };
}

/** Queue keys of the pools in the ConfigMap's namespace that read a price from it. */
export function poolKeysForConfigMap(
  configMap: KubernetesObject,
  pools: readonly KubernetesObject[],
): string[] {
  const ns = configMap.metadata?.namespace;
  const name = configMap.metadata?.name;
  if (!ns || !name) return [];
  const keys: string[] = [];
  for (const pool of pools) {
    if (pool.metadata?.namespace !== ns || !pool.metadata.name) continue;
    const spec = (pool as { spec?: PriceRefs }).spec;
    const refs = [spec?.revenueUsdPerMhsDay, spec?.electricityUsdPerKwh].map((s) => s?.configMapKeyRef?.name);
    if (refs.includes(name)) keys.push(`${ns}/${pool.metadata.name}`);
  }
  return keys;
}

/**
 * GPUs a pod asks for (limits, else requests, summed over its containers) of the given GPU resources: the
 * node's one when known, else every vendor's default.
 */
export function podGpus(pod: V1Pod, resources: string | readonly string[] = DEFAULT_GPU_RESOURCES): number {
  const names = typeof resources === 'string' ? [resources] : resources;
  let total = 0;
  for (const c of pod.spec?.containers ?? []) {
    for (const r of names) {
      const q = c.resources?.limits?.[r] ?? c.resources?.requests?.[r];
      const n = q === undefined ? 0 : Number.parseInt(String(q), 10);
      if (Number.isFinite(n) && n > 0) total += n;
    }
  }
  return total;
}

/**
 * Nodes and GPUs mining for a pool right now: its running, not terminating, rigshift-owned mining pods
 * (label `rigshift.io/miningpool=<pool>`) in the pool's namespace.
 */
export function miningCounts(pods: readonly V1Pod[], pool: string): MiningCounts {
  const nodes = new Set<string>();
  let gpus = 0;
  for (const pod of pods) {
    const labels = pod.metadata?.labels;
    if (labels?.[MINING_POOL_LABEL] !== pool || labels[MANAGED_BY_LABEL] !== MANAGED_BY) continue;
    if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running' || !pod.spec?.nodeName) continue;
    nodes.add(pod.spec.nodeName);
    gpus += podGpus(pod);
  }
  return { nodes: nodes.size, gpus };
}
