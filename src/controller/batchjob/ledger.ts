import type { KubernetesObject, V1ConfigMap } from '@kubernetes/client-node';
import { apply } from '../../kube/apply.js';
import type { KubeClient } from '../../kube/client.js';
import { Kinds, resourcePath } from '../../kube/resources.js';
import { isConflict, isNotFound } from '../../kube/rest.js';
import type { Store } from '../caches.js';
import {
  LEDGER_JOB_NAME,
  LEDGER_JOB_NAMESPACE,
  LEDGER_JOB_UID,
  LEDGER_LABEL,
  LEDGER_LABEL_VALUE,
  ledgerName,
} from './keys.js';

/**
 * The ledger of a renter's Job: a ConfigMap in the operator's namespace named after the Job's uid. It holds the
 * planner's admission, the reconciler's progress and earnings, and the renter's original scheduling fields:
 * state the operator acts on, kept where renters (who may edit their Jobs) cannot write. Each data key has one
 * field manager, so server-side apply never drops the other's.
 */

export interface JobIdentity {
  namespace: string;
  name: string;
  uid: string;
}

export function findLedger(
  store: Store<V1ConfigMap> | undefined,
  ledgerNamespace: string,
  uid: string,
): V1ConfigMap | undefined {
  return store?.get(ledgerNamespace, ledgerName(uid));
}

/** Ledgers of a Job name (any incarnation): a deleted Job's are removed, a recreated Job starts afresh. */
export function ledgersOf(
  store: Store<V1ConfigMap> | undefined,
  namespace: string,
  name: string,
): V1ConfigMap[] {
  return (store?.list() ?? []).filter(
    (cm) =>
      cm.metadata?.labels?.[LEDGER_JOB_NAMESPACE] === namespace &&
      cm.metadata.labels[LEDGER_JOB_NAME] === name,
  );
}

/** `namespace/name` of the Job a ledger belongs to. */
export function ledgerJobKey(cm: KubernetesObject): string | undefined {
  const l = cm.metadata?.labels;
  const ns = l?.[LEDGER_JOB_NAMESPACE];
  const name = l?.[LEDGER_JOB_NAME];
  return ns && name ? `${ns}/${name}` : undefined;
}

/** Applies some data keys of a Job's ledger, conditional on `resourceVersion` when given. */
export async function writeLedger(
  client: Pick<KubeClient, 'rest' | 'mapper'>,
  ledgerNamespace: string,
  job: JobIdentity,
  data: Record<string, string>,
  opts: { fieldManager: string; resourceVersion?: string | undefined; signal?: AbortSignal | undefined },
): Promise<V1ConfigMap> {
  const cm = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: ledgerName(job.uid),
      namespace: ledgerNamespace,
      ...(opts.resourceVersion && { resourceVersion: opts.resourceVersion }),
      labels: {
        [LEDGER_LABEL]: LEDGER_LABEL_VALUE,
        [LEDGER_JOB_NAMESPACE]: job.namespace,
        // Label values are at most 63 characters; the uid annotation is what identifies the Job.
        [LEDGER_JOB_NAME]: job.name.slice(0, 63),
      },
      annotations: { [LEDGER_JOB_UID]: job.uid },
    },
    data,
  };
  return apply(client, cm as V1ConfigMap & KubernetesObject, {
    fieldManager: opts.fieldManager,
    force: true,
    ...(opts.signal && { signal: opts.signal }),
  }) as Promise<V1ConfigMap>;
}

export async function deleteLedger(
  client: Pick<KubeClient, 'rest'>,
  cm: V1ConfigMap,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await client.rest.request({
      method: 'DELETE',
      path: resourcePath(Kinds.ConfigMap, { namespace: cm.metadata?.namespace, name: cm.metadata?.name }),
      body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: cm.metadata?.uid } },
      ...(signal && { signal }),
    });
  } catch (err) {
    if (!isNotFound(err) && !isConflict(err)) throw err;
  }
}
