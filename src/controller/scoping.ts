import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { applyStatusIfChanged } from '../kube/apply.js';
import { systemClock, type Clock } from '../kube/clock.js';
import type { KubeClient } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import { isNotFound } from '../kube/rest.js';
import type { Condition } from '../kube/status.js';
import { splitKey, type ReconcileFn, type ReconcileResult } from '../kube/workqueue.js';
import type { Logger } from '../log.js';
import type { Store } from './caches.js';
import { miningCounts } from './pool-keys.js';
import type { PoolStatus } from './pool-yields.js';

/** Reason of both conditions of a MiningPool outside the pool namespaces. */
export const POOL_IGNORED_REASON = 'NamespaceNotHonoured';

/**
 * Where MiningPools count. A pool decides which nodes mine, at which prices, for which wallet: only pools in
 * the namespaces the farm's admin configured (`--pool-namespace`) are honoured, so a renter who can write
 * objects in their own namespace can never steer the farm, whatever RBAC they were given there.
 */
export class PoolScope {
  readonly namespaces: readonly string[];

  constructor(namespaces: readonly string[]) {
    if (namespaces.length === 0) throw new Error('at least one pool namespace is needed');
    this.namespaces = [...new Set(namespaces)];
  }

  honours(namespace: string | undefined): boolean {
    return namespace !== undefined && this.namespaces.includes(namespace);
  }

  /** The pools the planner and the node reconciler see: only honoured ones. */
  filter(store: Store<KubernetesObject>): Store<KubernetesObject> {
    return {
      get: (namespace, name) => (this.honours(namespace) ? store.get(namespace, name) : undefined),
      list: (namespace) => {
        if (namespace !== undefined) return this.honours(namespace) ? store.list(namespace) : [];
        return store.list().filter((p) => this.honours(p.metadata?.namespace));
      },
    };
  }

  /** Why a pool in `namespace` is ignored, in kubectl-user words. */
  reason(namespace: string): string {
    const where = this.namespaces.join(', ');
    return (
      `MiningPools are honoured only in namespace${this.namespaces.length === 1 ? '' : 's'} ${where} ` +
      `(the operator's --pool-namespace, Helm value operator.poolNamespaces); this one in ${namespace} is ` +
      'ignored: no node mines for it and its prices are not read'
    );
  }
}

/** The status of an ignored pool: not Ready, yield unknown, both saying why; no yields, no prices. */
export function ignoredPoolStatus(
  scope: PoolScope,
  namespace: string,
  generation: number | undefined,
  counts: { nodes: number; gpus: number },
): PoolStatus {
  const condition = (type: string): Condition => ({
    type,
    status: 'False',
    reason: POOL_IGNORED_REASON,
    message: scope.reason(namespace),
    observedGeneration: generation,
  });
  return {
    observedGeneration: generation,
    miningNodes: counts.nodes,
    miningGpus: counts.gpus,
    conditions: [condition('Ready'), condition('YieldKnown')],
  };
}

export interface IgnoredPoolDeps {
  scope: PoolScope;
  getPool(namespace: string, name: string): KubernetesObject | undefined;
  listPods(namespace: string): readonly V1Pod[];
  client: Pick<KubeClient, 'rest' | 'mapper'>;
  events: Pick<EventRecorder, 'warning'>;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
}

/**
 * Reconciles a MiningPool outside the pool namespaces: writes the status that says it is ignored and, when
 * that status is new, a Warning Event `PoolIgnored`. Reads no price (an ignored pool's HTTP source is never
 * fetched).
 */
export async function reconcileIgnoredPool(
  deps: IgnoredPoolDeps,
  key: string,
  signal?: AbortSignal,
): Promise<ReconcileResult | void> {
  const { namespace, name } = splitKey(key);
  if (!namespace) return;
  const obj = deps.getPool(namespace, name);
  if (!obj) return;
  const now = new Date((deps.clock ?? systemClock).now());
  const counts = miningCounts(deps.listPods(namespace), name);
  const desired = ignoredPoolStatus(deps.scope, namespace, obj.metadata?.generation, counts);
  try {
    const res = await applyStatusIfChanged(
      deps.client,
      obj as KubernetesObject & { status?: PoolStatus },
      desired,
      { now, clock: deps.clock, signal },
    );
    if (!res.written) return;
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  const wasIgnored = (obj as { status?: PoolStatus }).status?.conditions?.some(
    (c) => c.type === 'Ready' && c.reason === POOL_IGNORED_REASON,
  );
  if (wasIgnored) return;
  deps.logger?.warn({ pool: key, honoured: deps.scope.namespaces }, 'MiningPool outside the pool namespaces');
  await deps.events.warning(obj, 'PoolIgnored', 'Scope', deps.scope.reason(namespace));
}

/** The pool queue's function: honoured pools go to `honoured`, the others are reported as ignored. */
export function scopedPoolReconciler(honoured: ReconcileFn, deps: IgnoredPoolDeps): ReconcileFn {
  return (key, signal) =>
    deps.scope.honours(splitKey(key).namespace)
      ? honoured(key, signal)
      : reconcileIgnoredPool(deps, key, signal);
}
