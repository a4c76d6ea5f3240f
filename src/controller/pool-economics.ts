import { findCondition, type MiningPool, type MiningPoolSpec } from '../api/v1alpha1/index.js';
import { Decimal } from '../economics/decimal.js';
import { HTTP_DEFAULTS } from '../economics/sources/factory.js';
import type { PoolSnapshot, ProductEconomics } from '../planner/types.js';

/**
 * Reads a MiningPool's status (written by the pool reconciler) back into the planner's economics. The
 * planner trusts a yield only when YieldKnown is True for the current generation and the prices behind it
 * are younger than the sources' max age; anything else is unknown, and the planner holds the pool's nodes.
 */

/** The shortest maxAgeSeconds of the pool's HTTP sources; undefined when no source expires. */
export function poolMaxAgeSeconds(
  spec: Pick<MiningPoolSpec, 'revenueUsdPerMhsDay' | 'electricityUsdPerKwh'>,
): number | undefined {
  const ages = [spec.revenueUsdPerMhsDay, spec.electricityUsdPerKwh]
    .filter((s) => s.http !== undefined)
    .map((s) => s.http?.maxAgeSeconds ?? HTTP_DEFAULTS.maxAgeSeconds);
  return ages.length > 0 ? Math.min(...ages) : undefined;
}

/** Planner name of a pool: `namespace/name`, the same as its queue key. */
export function poolName(pool: Pick<MiningPool, 'metadata'>): string {
  const { namespace, name } = pool.metadata;
  return namespace ? `${namespace}/${name ?? ''}` : (name ?? '');
}

function number(text: string | undefined): number | null {
  if (text === undefined) return null;
  try {
    const n = Decimal.parse(text).toNumber();
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

export interface StatusProblem {
  reason: string;
  /** The status' electricity price is still current (only the yield is unknown). */
  electricityUsable: boolean;
}

/**
 * Why the pool's yields cannot be trusted at `nowMs`, or undefined when they can. Timestamps in status have
 * whole seconds (truncated), so a read time is taken as the end of its second.
 */
export function poolStatusProblem(pool: MiningPool, nowMs: number): StatusProblem | undefined {
  const status = pool.status;
  const cond = findCondition(status?.conditions, 'YieldKnown');
  if (!status || !cond) return { reason: 'yield not computed yet', electricityUsable: false };
  const generation = pool.metadata.generation;
  if (generation !== undefined && status.observedGeneration !== generation) {
    const seen = status.observedGeneration ?? 'none';
    return {
      reason: `yield computed for generation ${seen}, spec is at generation ${generation}`,
      electricityUsable: false,
    };
  }
  if (cond.status !== 'True') {
    // The reconciler writes only prices it currently knows, so the electricity price (if any) holds.
    return { reason: `yield unknown (${cond.reason}): ${cond.message}`, electricityUsable: true };
  }
  const maxAge = poolMaxAgeSeconds(pool.spec);
  if (maxAge === undefined) return undefined;
  const readMs = status.inputsReadTime ? Date.parse(status.inputsReadTime) : NaN;
  if (Number.isNaN(readMs)) return { reason: 'yield has no price read time', electricityUsable: false };
  if (nowMs > readMs + 999 + maxAge * 1000) {
    return {
      reason: `prices read at ${status.inputsReadTime} are older than maxAgeSeconds ${maxAge}`,
      electricityUsable: false,
    };
  }
  return undefined;
}

/**
 * The planner's view of one pool: a ProductEconomics per spec.gpuProfiles entry. `name` defaults to
 * `namespace/name` (what NodeSnapshot.pool must then carry).
 */
export function poolEconomics(pool: MiningPool, nowMs: number, name = poolName(pool)): PoolSnapshot {
  const problem = poolStatusProblem(pool, nowMs);
  const status = pool.status;
  const usable = problem === undefined || problem.electricityUsable;
  const electricity = usable ? number(status?.electricityUsdPerKwh) : null;
  const products = pool.spec.gpuProfiles.map((profile): ProductEconomics => {
    const base = {
      product: profile.product,
      electricityUsdPerKwh: electricity,
      trainingWatts: profile.trainingWatts,
      idleWatts: profile.idleWatts,
    };
    if (problem !== undefined) return { ...base, miningUsdPerGpuHour: null, unknownReason: problem.reason };
    const found = status?.yields?.find((y) => y.product === profile.product);
    const mining = number(found?.usdPerGpuHour);
    if (mining === null) {
      return {
        ...base,
        miningUsdPerGpuHour: null,
        unknownReason: `no yield for ${profile.product} in status`,
      };
    }
    if (electricity === null) {
      return { ...base, miningUsdPerGpuHour: null, unknownReason: 'electricity price missing from status' };
    }
    return { ...base, miningUsdPerGpuHour: mining };
  });
  return { name, products };
}
