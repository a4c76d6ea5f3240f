import type { KubernetesObject } from '@kubernetes/client-node';
import { parseUsageRecord } from '../../api/v1alpha1/index.js';
import type { UsageFigure } from '../../kube/metrics.js';
import type { Store } from '../caches.js';
import { dec, monthOf, previousMonth } from './ledger.js';

type Totals = { namespace: string; month: string; gpuHours: number; earnedUsd: number } | null;
/** Per object version (cached objects are replaced, never mutated): a scrape parses only what changed. */
const parsedTotals = new WeakMap<object, Totals>();

function totalsOf(o: KubernetesObject): Totals {
  const hit = parsedTotals.get(o);
  if (hit !== undefined) return hit;
  const r = parseUsageRecord(o);
  const t: Totals =
    r.ok && r.value.metadata.namespace
      ? {
          namespace: r.value.metadata.namespace,
          month: r.value.spec.month,
          gpuHours: dec(r.value.status?.gpuHours).toNumber(),
          earnedUsd: dec(r.value.status?.earnedUsd).toNumber(),
        }
      : null;
  parsedTotals.set(o, t);
  return t;
}

/** Every record's month totals, for the usage metrics; the current and the previous month are `recent`. */
export function usageFigures(records: Store<KubernetesObject>, nowMs: number): UsageFigure[] {
  const month = monthOf(nowMs);
  const recent = new Set([month, previousMonth(month)]);
  const out: UsageFigure[] = [];
  for (const o of records.list()) {
    const t = totalsOf(o);
    if (t) out.push({ ...t, recent: recent.has(t.month) });
  }
  return out;
}
