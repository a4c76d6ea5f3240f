/**
 * Writes whose echo the informer caches have not delivered yet. The fleet planner waits for them before
 * planning again, so it never plans twice from a cache that misses its own last decisions (which could place
 * two jobs on one node). An echo still missing after `timeoutMs` is overdue: the cache is behind, and the
 * planner holds still and says so (fail closed) until it arrives (a relist delivers it, or the object's delete).
 */
export class Expectations {
  private readonly pending = new Map<string, { rv: string; at: number }>();
  /** Latest resourceVersion the caches delivered per object (the echo may arrive before `expect`). */
  private readonly seen = new Map<string, string>();

  constructor(private readonly timeoutMs = 10_000) {}

  /** A write of `kind` `key` returned `resourceVersion`. */
  expect(kind: string, key: string, resourceVersion: string | undefined, nowMs: number): void {
    if (!resourceVersion) return;
    const id = `${kind}|${key}`;
    const seen = this.seen.get(id);
    if (seen !== undefined && (seen === resourceVersion || newer(seen, resourceVersion))) return;
    this.pending.set(id, { rv: resourceVersion, at: nowMs });
  }

  /** The cache delivered `kind` `key` at `resourceVersion` (undefined: the object was deleted). */
  observe(kind: string, key: string, resourceVersion: string | undefined): void {
    const id = `${kind}|${key}`;
    if (resourceVersion === undefined) this.seen.delete(id);
    else this.seen.set(id, resourceVersion);
    const p = this.pending.get(id);
    if (!p) return;
    if (resourceVersion === undefined || resourceVersion === p.rv || newer(resourceVersion, p.rv)) {
      this.pending.delete(id);
    }
  }

  /** Number of echoes still awaited. */
  outstanding(): number {
    return this.pending.size;
  }

  /** Echoes awaited for `timeoutMs` or longer (`Kind key`), oldest first. */
  overdue(nowMs: number): string[] {
    return [...this.pending]
      .filter(([, p]) => nowMs - p.at >= this.timeoutMs)
      .sort(([, a], [, b]) => a.at - b.at)
      .map(([id]) => id.replace('|', ' '));
  }
}

/** Does a cache at resourceVersion `seen` already show the write that returned `written`? */
export function atLeastVersion(seen: string | undefined, written: string): boolean {
  return seen !== undefined && (seen === written || newer(seen, written));
}

/** Resource versions are opaque, but etcd's are integers: a later one also proves the write was seen. */
function newer(a: string, b: string): boolean {
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) > BigInt(b);
}
