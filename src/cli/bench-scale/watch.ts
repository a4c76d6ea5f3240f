import type { KubernetesObject, V1Node, V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../../kube/client.js';
import { Informer, waitForCacheSync } from '../../kube/informer.js';
import { Kinds } from '../../kube/resources.js';

/**
 * What the benchmark sees of the cluster, through its own informers (its own client, not the operator's):
 * every node and pod, and when each pod was first seen Running. Milestones are conditions on one node and the
 * pods bound to it, timed at the first watch event that makes them true.
 */
export const MODE_LABEL = 'rigshift.io/mode';
export const RESERVED_TAINT = 'rigshift.io/reserved';
export const MINER_LABEL = 'rigshift.io/miningpool';

export type NodeCheck = (node: V1Node, pods: readonly V1Pod[]) => boolean;

export class ClusterWatch {
  readonly nodes: Informer<V1Node>;
  readonly pods: Informer<V1Pod>;
  /** Pod uid → first time (ms) it was seen Running, with its namespace. */
  readonly runningAt = new Map<string, { namespace: string; ms: number }>();
  private readonly byNode = new Map<string, Set<string>>();
  private readonly podNode = new Map<string, string>();
  private milestones: { check: NodeCheck; at: Map<string, number>; nodes: Set<string> }[] = [];

  constructor(client: KubeClient) {
    const opts = { silenceSeconds: 300, pageSize: 1000 };
    this.nodes = new Informer<V1Node>(client, Kinds.Node, { ...opts, name: 'bench nodes' });
    this.pods = new Informer<V1Pod>(client, Kinds.Pod, { ...opts, name: 'bench pods' });
    for (const ev of ['add', 'update'] as const) {
      this.nodes.on(ev, (n) => this.evaluate(n.metadata?.name ?? ''));
      this.pods.on(ev, (p) => this.podChanged(p, false));
    }
    this.nodes.on('delete', () => undefined);
    this.pods.on('delete', (p) => this.podChanged(p, true));
  }

  async start(timeoutMs = 120_000): Promise<void> {
    this.nodes.start();
    this.pods.start();
    await waitForCacheSync([this.nodes, this.pods] as Informer<KubernetesObject>[], timeoutMs);
  }

  async stop(): Promise<void> {
    await Promise.all([this.nodes.stop(), this.pods.stop()]);
  }

  podsOn(node: string): V1Pod[] {
    const out: V1Pod[] = [];
    for (const key of this.byNode.get(node) ?? []) {
      const p = this.pods.getByKey(key);
      if (p) out.push(p);
    }
    return out;
  }

  /** Times, per node of `nodes`, the first moment `check` holds (evaluated at once, then on every event). */
  track(nodes: Iterable<string>, check: NodeCheck): Map<string, number> {
    const m = { check, at: new Map<string, number>(), nodes: new Set(nodes) };
    this.milestones.push(m);
    for (const n of m.nodes) this.evaluateOne(m, n);
    return m.at;
  }

  untrack(at: Map<string, number>): void {
    this.milestones = this.milestones.filter((m) => m.at !== at);
  }

  /** Pods Running now in these namespaces. */
  running(namespaces: readonly string[]): number {
    return this.pods
      .list()
      .filter(
        (p) =>
          namespaces.includes(p.metadata?.namespace ?? '') &&
          p.status?.phase === 'Running' &&
          !p.metadata?.deletionTimestamp,
      ).length;
  }

  private podChanged(p: V1Pod, deleted: boolean): void {
    const key = `${p.metadata?.namespace}/${p.metadata?.name}`;
    const uid = p.metadata?.uid ?? key;
    if (!deleted && p.status?.phase === 'Running' && !this.runningAt.has(uid))
      this.runningAt.set(uid, { namespace: p.metadata?.namespace ?? '', ms: Date.now() });
    const old = this.podNode.get(key);
    const node = deleted ? undefined : p.spec?.nodeName || undefined;
    if (old !== node) {
      if (old) this.byNode.get(old)?.delete(key);
      if (node) {
        let s = this.byNode.get(node);
        if (!s) this.byNode.set(node, (s = new Set()));
        s.add(key);
        this.podNode.set(key, node);
      } else this.podNode.delete(key);
    }
    if (old && old !== node) this.evaluate(old);
    if (node) this.evaluate(node);
  }

  private evaluate(node: string): void {
    for (const m of this.milestones) if (m.nodes.has(node)) this.evaluateOne(m, node);
  }

  private evaluateOne(m: { check: NodeCheck; at: Map<string, number> }, name: string): void {
    if (m.at.has(name)) return;
    const node = this.nodes.get(undefined, name);
    if (node && m.check(node, this.podsOn(name))) m.at.set(name, Date.now());
  }
}

export const modeOf = (n: V1Node): string | undefined => n.metadata?.labels?.[MODE_LABEL];
export const tainted = (n: V1Node): boolean =>
  (n.spec?.taints ?? []).some((t) => t.key === RESERVED_TAINT && t.effect === 'NoSchedule');
export const isMiner = (p: V1Pod): boolean => p.metadata?.labels?.[MINER_LABEL] !== undefined;
export const live = (p: V1Pod): boolean =>
  !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
export const isRunning = (p: V1Pod): boolean => live(p) && p.status?.phase === 'Running';
