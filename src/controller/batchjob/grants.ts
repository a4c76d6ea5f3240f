import type { V1ConfigMap } from '@kubernetes/client-node';
import type { KubeClient } from '../../kube/client.js';
import { Kinds, resourcePath } from '../../kube/resources.js';
import { isNotFound } from '../../kube/rest.js';
import type { Store } from '../caches.js';
import { FIELD_MANAGER } from '../labels.js';
import { LEDGER_LABEL, LEDGER_LABEL_VALUE } from './keys.js';

/**
 * The grants: one ConfigMap in the operator's namespace, `<job uid>: <node> <node>...` for every renter Job the
 * operator has unsuspended. The chart's renter GPU policy (a ValidatingAdmissionPolicy) reads it as its
 * parameter: the Job controller may create a GPU pod in a renter namespace only for a Job granted here, pinned
 * to the granted nodes. Renters cannot write it, so no Job of theirs gets GPUs the market did not give it.
 * Keys are added and removed with JSON merge patches, so concurrent Jobs never overwrite each other's.
 */

export const DEFAULT_GRANTS_CONFIGMAP = 'rigshift-job-grants';

export interface GrantsRef {
  namespace: string;
  name: string;
}

/** The nodes granted to a Job (space-separated), from the cached grants. */
export function grantedNodes(
  store: Store<V1ConfigMap> | undefined,
  ref: GrantsRef,
  uid: string,
): string | undefined {
  return store?.get(ref.namespace, ref.name)?.data?.[uid];
}

export function grantValue(nodes: readonly string[]): string {
  return [...new Set(nodes)].sort().join(' ');
}

/** Adds (nodes) or removes (null) a Job's grant; creates the ConfigMap if it is missing. */
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
      path: resourcePath(Kinds.ConfigMap, ref),
      contentType: 'application/merge-patch+json',
      body: { data: { [uid]: value } },
      query: { fieldManager: FIELD_MANAGER },
      ...(signal && { signal }),
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    if (value === null) return;
    await client.rest.request({
      method: 'POST',
      path: resourcePath(Kinds.ConfigMap, { namespace: ref.namespace }),
      body: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: ref.name,
          namespace: ref.namespace,
          labels: { [LEDGER_LABEL]: LEDGER_LABEL_VALUE },
        },
        data: { [uid]: value },
      },
      query: { fieldManager: FIELD_MANAGER },
      ...(signal && { signal }),
    });
  }
}
