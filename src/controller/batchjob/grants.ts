import type { KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION, type JobGrants } from '../../api/v1alpha1/index.js';
import type { KubeClient } from '../../kube/client.js';
import { Kinds, resourcePath } from '../../kube/resources.js';
import { isNotFound } from '../../kube/rest.js';
import type { Store } from '../caches.js';
import { FIELD_MANAGER } from '../labels.js';

/**
 * The grants: one JobGrants object in the operator's namespace, spec.jobs `<job uid>: [node, ...]` for every
 * renter Job the operator has unsuspended. The chart's renter GPU policy (a ValidatingAdmissionPolicy) reads it
 * as its parameter: the Job controller may create a GPU pod in a renter namespace only for a Job granted here,
 * pinned to the granted nodes. Renters cannot write it, so no Job of theirs gets GPUs the market did not give
 * it. A custom resource, not a ConfigMap: kube-apiserver stops resolving ConfigMap parameters once the last
 * binding using one is deleted (kubernetes/kubernetes#133827). Keys are added and removed with JSON merge
 * patches, so concurrent Jobs never overwrite each other's.
 */

export const DEFAULT_JOB_GRANTS = 'rigshift-job-grants';

export interface GrantsRef {
  namespace: string;
  name: string;
}

/** The nodes granted to a Job, from the cached grants (sorted, as written). */
export function grantedNodes(
  store: Store<KubernetesObject> | undefined,
  ref: GrantsRef,
  uid: string,
): string[] | undefined {
  return (store?.get(ref.namespace, ref.name) as JobGrants | undefined)?.spec?.jobs?.[uid];
}

export function grantValue(nodes: readonly string[]): string[] {
  return [...new Set(nodes)].sort();
}

export function sameGrant(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((n, i) => n === b[i]);
}

/** Adds (nodes) or removes (null) a Job's grant; creates the JobGrants if it is missing. */
export async function setGrant(
  client: Pick<KubeClient, 'rest'>,
  ref: GrantsRef,
  uid: string,
  nodes: readonly string[] | null,
  signal?: AbortSignal,
): Promise<void> {
  const value = nodes === null ? null : grantValue(nodes);
  try {
    await client.rest.request({
      method: 'PATCH',
      path: resourcePath(Kinds.JobGrants, ref),
      contentType: 'application/merge-patch+json',
      body: { spec: { jobs: { [uid]: value } } },
      query: { fieldManager: FIELD_MANAGER },
      ...(signal && { signal }),
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    if (value === null) return;
    await client.rest.request({
      method: 'POST',
      path: resourcePath(Kinds.JobGrants, { namespace: ref.namespace }),
      body: {
        apiVersion: API_VERSION,
        kind: 'JobGrants',
        metadata: { name: ref.name, namespace: ref.namespace },
        spec: { jobs: { [uid]: value } },
      },
      query: { fieldManager: FIELD_MANAGER },
      ...(signal && { signal }),
    });
  }
}
