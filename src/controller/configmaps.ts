import type { KubernetesObject, V1ConfigMap } from '@kubernetes/client-node';
import type { Informer } from '../kube/informer.js';

/**
 * The ConfigMaps MiningPools read prices from, and no other: one small watch per referenced ConfigMap
 * (field selector metadata.name), started when a pool names it and stopped when none does. A cluster-wide
 * ConfigMap informer would hold every ConfigMap of the cluster for the one or two a farm uses.
 */
export class ReferencedConfigMaps {
  private readonly watches = new Map<string, Informer<V1ConfigMap>>();
  private stopped = false;

  constructor(
    private readonly make: (namespace: string, name: string) => Informer<V1ConfigMap>,
    private readonly onChange: (cm: V1ConfigMap) => void,
  ) {}

  /** Watches exactly the ConfigMaps these pools reference (`spec.*.configMapKeyRef.name`, same namespace). */
  sync(pools: readonly KubernetesObject[]): void {
    if (this.stopped) return;
    const wanted = new Set<string>();
    for (const p of pools) for (const key of configMapRefs(p)) wanted.add(key);
    for (const [key, inf] of this.watches) {
      if (wanted.has(key)) continue;
      this.watches.delete(key);
      void inf.stop();
    }
    for (const key of wanted) {
      if (this.watches.has(key)) continue;
      const [ns, name] = splitKey(key);
      const inf = this.make(ns, name);
      for (const ev of ['add', 'update', 'delete'] as const) inf.on(ev, (cm) => this.onChange(cm));
      this.watches.set(key, inf);
      inf.start();
    }
  }

  get(namespace: string, name: string): V1ConfigMap | undefined {
    return this.watches.get(`${namespace}/${name}`)?.get(namespace, name);
  }

  /** False while the ConfigMap's watch has not listed yet: "absent" would not be true yet. */
  ready(namespace: string, name: string): boolean {
    return this.watches.get(`${namespace}/${name}`)?.hasSynced() ?? false;
  }

  /** How many ConfigMaps are cached (for tests and benchmarks). */
  cached(): number {
    let n = 0;
    for (const inf of this.watches.values()) n += inf.list().length;
    return n;
  }

  watched(): string[] {
    return [...this.watches.keys()].sort();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.watches.values()];
    this.watches.clear();
    await Promise.all(all.map((i) => i.stop()));
  }
}

interface PriceRefs {
  revenueUsdPerMhsDay?: { configMapKeyRef?: { name?: string } };
  electricityUsdPerKwh?: { configMapKeyRef?: { name?: string } };
}

/** `namespace/name` of each ConfigMap a pool reads a price from. */
export function configMapRefs(pool: KubernetesObject): string[] {
  const ns = pool.metadata?.namespace;
  if (!ns || pool.metadata?.deletionTimestamp) return [];
  const spec = (pool as { spec?: PriceRefs }).spec;
  const out: string[] = [];
  for (const s of [spec?.revenueUsdPerMhsDay, spec?.electricityUsdPerKwh]) {
    const name = s?.configMapKeyRef?.name;
    if (typeof name === 'string' && name) out.push(`${ns}/${name}`);
  }
  return out;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}
