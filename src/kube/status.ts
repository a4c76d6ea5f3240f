/** A metav1.Condition as it appears in status. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string | undefined;
  message?: string | undefined;
  lastTransitionTime?: string | undefined;
  observedGeneration?: number | undefined;
}

/** A condition without its transition time (mergeConditions sets it), for the given generation if any. */
export function condition(
  type: string,
  status: 'True' | 'False',
  reason: string,
  message: string,
  observedGeneration?: number,
): Condition {
  const c: Condition = { type, status, reason, message };
  if (observedGeneration !== undefined) c.observedGeneration = observedGeneration;
  return c;
}

/** Kubernetes timestamps are RFC 3339 with second precision. */
export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Desired conditions with lastTransitionTime set: kept from the existing condition of the same type when its
 * status did not change, `now` otherwise. Order follows `desired`.
 */
export function mergeConditions(
  existing: readonly Condition[] | undefined,
  desired: readonly Condition[],
  now: Date,
): Condition[] {
  const byType = new Map((existing ?? []).map((c) => [c.type, c]));
  return desired.map((d) => {
    const old = byType.get(d.type);
    const keep = old && old.status === d.status && old.lastTransitionTime;
    return {
      ...d,
      lastTransitionTime: keep ? old.lastTransitionTime : (d.lastTransitionTime ?? rfc3339(now)),
    };
  });
}

/**
 * Deep equality of two statuses, ignoring lastTransitionTime inside `conditions` arrays and the order of
 * conditions (matched by type). Properties set to undefined count as absent.
 */
export function statusEqual(a: unknown, b: unknown): boolean {
  return deepEqual(normalize(a), normalize(b));
}

function normalize(v: unknown, key?: string): unknown {
  if (Array.isArray(v)) {
    const items = v.map((x) => normalize(x));
    if (key === 'conditions' && items.every(isTyped)) {
      return items
        .map((c) => {
          const { lastTransitionTime: _t, ...rest } = c;
          return rest;
        })
        .sort((x, y) => (x.type < y.type ? -1 : x.type > y.type ? 1 : 0));
    }
    return items;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) if (val !== undefined) out[k] = normalize(val, k);
    return out;
  }
  return v;
}

function isTyped(x: unknown): x is { type: string; lastTransitionTime?: unknown } {
  return typeof x === 'object' && x !== null && typeof (x as { type?: unknown }).type === 'string';
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  const ak = Object.keys(a as object);
  const bk = Object.keys(b as object);
  if (ak.length !== bk.length) return false;
  return ak.every(
    (k) =>
      Object.hasOwn(b as object, k) &&
      deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}
