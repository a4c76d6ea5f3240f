import type { V1Container, V1Pod, V1ResourceQuota } from '@kubernetes/client-node';
import { parseQuantity } from '../api/v1alpha1/quantity.js';
import type { QuotaNeed, QuotaRoom, QuotaSnapshot } from '../planner/index.js';

/**
 * Renter limits: what a job's gang would take from the standard ResourceQuotas of its namespace, and what
 * they have left. Pure: the planner then admits a gang only where every quota holds it (QuotaExceeded).
 *
 * Figures come from each quota's status (hard and used, as the quota controller and admission keep them).
 * Pods already created are in `used`; an admitted gang's pods not created yet are held for it. A quota
 * applies to a replica by its scopes: PriorityClass (scopes and scopeSelector) and Terminating /
 * NotTerminating / CrossNamespacePodAffinity are decided on the replica as built; BestEffort, NotBestEffort
 * and unknown scopes count as applying (a LimitRange may default what decides them: fail closed).
 */

export interface QuotaJob {
  /** namespace/name */
  key: string;
  namespace: string;
  phase: 'pending' | 'admitted' | 'running';
  replicas: number;
  /** One replica as the operator would create it. */
  replica: V1Pod;
  /** The job's pods that exist and are not terminal or terminating (already in the quotas' used). */
  livePods: number;
}

export interface QuotaView {
  quotas: QuotaSnapshot[];
  /** Pending jobs: what their whole gang takes from each quota. */
  needs: Map<string, QuotaNeed[]>;
  /** Pending jobs that must wait because a quota's figures are unknown, and why. */
  blocked: Map<string, string>;
}

const COMPUTE = new Set(['cpu', 'memory', 'ephemeral-storage']);

/** Is `name` a resource a pod's containers request (cpu, memory, hugepages-*, or an extended `domain/name`)? */
function podResource(name: string): boolean {
  return COMPUTE.has(name) || name.startsWith('hugepages-') || name.includes('/');
}

function containerAmount(c: V1Container, kind: 'requests' | 'limits', resource: string): number {
  const r = c.resources;
  // A request left out defaults to the limit (the API server does the same).
  const q = kind === 'limits' ? r?.limits?.[resource] : (r?.requests?.[resource] ?? r?.limits?.[resource]);
  return q === undefined ? 0 : parseQuantity(String(q));
}

/** A pod's effective request or limit: containers summed, or the largest init container if more, plus overhead. */
function podAmount(pod: V1Pod, kind: 'requests' | 'limits', resource: string): number {
  let sum = 0;
  for (const c of pod.spec?.containers ?? []) sum += containerAmount(c, kind, resource);
  for (const c of pod.spec?.initContainers ?? []) sum = Math.max(sum, containerAmount(c, kind, resource));
  const overhead = pod.spec?.overhead?.[resource];
  return sum + (overhead === undefined ? 0 : parseQuantity(String(overhead)));
}

/** What one pod takes of a quota's resource name (`pods`, `requests.nvidia.com/gpu`, `limits.cpu`, `memory`...). */
export function podUsage(pod: V1Pod, resource: string): number {
  if (resource === 'pods' || resource === 'count/pods') return 1;
  if (resource.startsWith('requests.')) {
    const r = resource.slice('requests.'.length);
    return podResource(r) ? podAmount(pod, 'requests', r) : 0; // requests.storage is for PVCs
  }
  if (resource.startsWith('limits.')) {
    const r = resource.slice('limits.'.length);
    return podResource(r) ? podAmount(pod, 'limits', r) : 0;
  }
  if (COMPUTE.has(resource) || resource.startsWith('hugepages-')) return podAmount(pod, 'requests', resource);
  return 0;
}

/** Does the quota count this pod (its scopes and scopeSelector)? */
export function quotaApplies(quota: V1ResourceQuota, pod: V1Pod): boolean {
  const pc = pod.spec?.priorityClassName || undefined;
  const scope = (name: string, operator: string, values: readonly string[]): boolean => {
    switch (name) {
      case 'PriorityClass':
        if (operator === 'In') return pc !== undefined && values.includes(pc);
        if (operator === 'NotIn') return pc === undefined || !values.includes(pc);
        if (operator === 'DoesNotExist') return pc === undefined;
        return pc !== undefined;
      case 'Terminating':
      case 'NotTerminating': {
        const terminating = pod.spec?.activeDeadlineSeconds !== undefined;
        const positive = operator !== 'DoesNotExist';
        return (name === 'Terminating') === terminating ? positive : !positive;
      }
      case 'CrossNamespacePodAffinity':
        return operator === 'DoesNotExist'; // replicas have no pod affinity terms
      default:
        return true; // BestEffort, NotBestEffort, anything newer: counted (fail closed)
    }
  };
  for (const s of quota.spec?.scopes ?? []) if (!scope(s, 'Exists', [])) return false;
  for (const e of quota.spec?.scopeSelector?.matchExpressions ?? []) {
    if (!scope(e.scopeName, e.operator, e.values ?? [])) return false;
  }
  return true;
}

function quotaKey(q: V1ResourceQuota): string {
  return `${q.metadata?.namespace ?? ''}/${q.metadata?.name ?? ''}`;
}

/** The quotas' room and each pending job's needs; admitted gangs hold what their missing pods will take. */
export function quotaView(quotas: readonly V1ResourceQuota[], jobs: readonly QuotaJob[]): QuotaView {
  const byNs = new Map<string, V1ResourceQuota[]>();
  for (const q of quotas) {
    if (q.metadata?.deletionTimestamp) continue;
    const ns = q.metadata?.namespace ?? '';
    let l = byNs.get(ns);
    if (!l) byNs.set(ns, (l = []));
    l.push(q);
  }
  const rooms = new Map<string, Map<string, QuotaRoom>>();
  const needs = new Map<string, QuotaNeed[]>();
  const blocked = new Map<string, string>();

  for (const job of jobs) {
    if (job.phase === 'running') continue; // its pods are all in used
    for (const q of byNs.get(job.namespace) ?? []) {
      if (!quotaApplies(q, job.replica)) continue;
      const key = quotaKey(q);
      const name = `ResourceQuota ${q.metadata?.name ?? ''} in ns ${job.namespace}`;
      for (const resource of Object.keys(q.spec?.hard ?? q.status?.hard ?? {})) {
        let perReplica: number;
        try {
          perReplica = podUsage(job.replica, resource);
        } catch (err) {
          blocked.set(job.key, `${name}: ${resource}: ${(err as Error).message}`);
          continue;
        }
        if (!(perReplica > 0)) continue;
        const hardText = q.status?.hard?.[resource];
        const usedText = q.status?.used?.[resource];
        if (hardText === undefined || usedText === undefined) {
          // Quota admission refuses pods until the quota controller has counted this resource.
          if (job.phase === 'pending')
            blocked.set(job.key, `${name}: ${resource} not counted yet by the quota controller`);
          continue;
        }
        let room = rooms.get(key)?.get(resource);
        if (!room) {
          try {
            room = { resource, hard: parseQuantity(hardText), used: parseQuantity(usedText), held: 0 };
          } catch {
            if (job.phase === 'pending')
              blocked.set(job.key, `${name}: ${resource} has an unreadable status`);
            continue;
          }
          let m = rooms.get(key);
          if (!m) rooms.set(key, (m = new Map()));
          m.set(resource, room);
        }
        if (job.phase === 'admitted') {
          room.held += Math.max(0, job.replicas - job.livePods) * perReplica;
        } else {
          let l = needs.get(job.key);
          if (!l) needs.set(job.key, (l = []));
          l.push({ quota: key, resource, amount: job.replicas * perReplica });
        }
      }
    }
  }
  const out: QuotaSnapshot[] = [];
  for (const [key, m] of rooms) out.push({ key, resources: [...m.values()] });
  out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { quotas: out, needs, blocked };
}
