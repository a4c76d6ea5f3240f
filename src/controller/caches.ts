import type {
  KubernetesObject,
  V1ConfigMap,
  V1Job,
  V1Node,
  V1Pod,
  V1ResourceQuota,
} from '@kubernetes/client-node';
import {
  parseMiningPool,
  parseTrainingJob,
  type MiningPool,
  type TrainingJob,
} from '../api/v1alpha1/index.js';
import type { EffectivePolicy } from './policy.js';

/** The read side of an informer: what reconcilers see of the cluster. */
export interface Store<T extends KubernetesObject> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(namespace?: string): readonly T[];
}

/** Everything the reconcilers read, all from informer caches (never from the API server directly). */
export interface Caches {
  nodes: Store<V1Node>;
  /** Pods labelled app.kubernetes.io/managed-by=rigshift. */
  managedPods: Store<V1Pod>;
  /** Other pods that are not terminal (their GPUs are off limits). */
  foreignPods: Store<V1Pod>;
  jobs: Store<KubernetesObject>;
  pools: Store<KubernetesObject>;
  /** ResourceQuotas: renter limits the planner admits gangs within (absent: none read). */
  quotas?: Store<V1ResourceQuota>;
  /** UsageRecords: a deleted job keeps its finalizer until its usage is in one (absent: not waited for). */
  usageRecords?: Store<KubernetesObject>;
  /** batch/v1 Jobs (those not opted in trimmed to their metadata); absent: the integration is off. */
  batchJobs?: Store<V1Job>;
  /** The ledgers of opted-in Jobs (ConfigMaps in the operator's namespace). */
  ledgers?: Store<V1ConfigMap>;
  /** The JobGrants the renter GPU policy reads (in the operator's namespace). */
  jobGrants?: Store<KubernetesObject>;
  /** The policy in force (FleetPolicy `default`, the policy file, or the defaults). */
  policy(): EffectivePolicy;
  /**
   * The same caches grouped by node (absent: reconcilers filter the lists): a node's reconcile at a thousand
   * nodes must not walk every pod and job of the farm.
   */
  byNode?: {
    managedPods: Grouped<V1Pod>;
    foreignPods: Grouped<V1Pod>;
    /** TrainingJobs by the nodes in their status.assignedNodes. */
    jobs: Grouped<KubernetesObject>;
    /** Managed pods by their owning TrainingJob (`namespace/name`). */
    podsOfJob: Grouped<V1Pod>;
  };
}

/**
 * A cache's objects grouped by keys (e.g. node names), regrouped lazily on the first read after a change
 * (`changed()`, called from the informer's handlers): rebuilt from the list, so it cannot drift from it.
 */
export class Grouped<T extends KubernetesObject> {
  private groups: Map<string, T[]> | undefined;
  constructor(
    private readonly list: () => readonly T[],
    private readonly keysOf: (o: T) => readonly string[],
  ) {}

  changed(): void {
    this.groups = undefined;
  }

  get(key: string): readonly T[] {
    if (!this.groups) {
      const groups = new Map<string, T[]>();
      for (const o of this.list()) {
        for (const k of new Set(this.keysOf(o))) {
          const g = groups.get(k);
          if (g) g.push(o);
          else groups.set(k, [o]);
        }
      }
      this.groups = groups;
    }
    return this.groups.get(key) ?? [];
  }
}

/** A Store over a plain array (tests, benchmarks). */
export function arrayStore<T extends KubernetesObject>(items: () => readonly T[]): Store<T> {
  return {
    get: (namespace, name) =>
      items().find(
        (o) => o.metadata?.name === name && (o.metadata?.namespace ?? undefined) === (namespace || undefined),
      ),
    list: (namespace) => (namespace ? items().filter((o) => o.metadata?.namespace === namespace) : items()),
  };
}

/**
 * Parsing through zod once per object version: cached objects are replaced, never mutated, on update, so the
 * object itself is the cache key. Objects that do not parse are reported once and skipped.
 */
export class Parsed {
  private readonly jobs = new WeakMap<object, TrainingJob | null>();
  private readonly pools = new WeakMap<object, MiningPool | null>();

  constructor(private readonly onError?: (kind: string, error: string) => void) {}

  job(obj: KubernetesObject): TrainingJob | undefined {
    return this.memo(this.jobs, obj, 'TrainingJob', parseTrainingJob);
  }

  pool(obj: KubernetesObject): MiningPool | undefined {
    return this.memo(this.pools, obj, 'MiningPool', parseMiningPool);
  }

  jobsOf(store: Store<KubernetesObject>, namespace?: string): TrainingJob[] {
    const out: TrainingJob[] = [];
    for (const o of store.list(namespace)) {
      const j = this.job(o);
      if (j) out.push(j);
    }
    return out;
  }

  poolsOf(store: Store<KubernetesObject>, namespace?: string): MiningPool[] {
    const out: MiningPool[] = [];
    for (const o of store.list(namespace)) {
      const p = this.pool(o);
      if (p) out.push(p);
    }
    return out;
  }

  private memo<T>(
    map: WeakMap<object, T | null>,
    obj: KubernetesObject,
    kind: string,
    parse: (o: unknown) => { ok: true; value: T } | { ok: false; error: string },
  ): T | undefined {
    const hit = map.get(obj);
    if (hit !== undefined) return hit ?? undefined;
    const r = parse(obj);
    if (r.ok) {
      map.set(obj, r.value);
      return r.value;
    }
    map.set(obj, null);
    this.onError?.(kind, r.error);
    return undefined;
  }
}

/** One Store over several (e.g. a node informer per GPU vendor); the first that has an object wins. */
export function mergedStore<T extends KubernetesObject>(stores: readonly Store<T>[]): Store<T> {
  if (stores.length === 1) return stores[0] as Store<T>;
  return {
    get: (namespace, name) => {
      for (const s of stores) {
        const o = s.get(namespace, name);
        if (o) return o;
      }
      return undefined;
    },
    list: (namespace) => {
      const seen = new Set<string>();
      const out: T[] = [];
      for (const s of stores) {
        for (const o of s.list(namespace)) {
          const key = `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
          if (!seen.has(key)) {
            seen.add(key);
            out.push(o);
          }
        }
      }
      return out;
    },
  };
}
