import {
  idlePerGpuHour,
  miningYieldPerGpuHour,
  rentalNetPerGpuHour,
  type GpuProfile,
} from '../economics/rates.js';
import type { PoolProfile } from './manifests.js';
import type { Series, Trace } from './trace.js';

/** Per-step rates of one product series, in USD per GPU-hour, as the binding accounting defines them. */

export const MINING = 0;
export const TRAINING = 1;
export const IDLE = 2;
export type ModeCode = typeof MINING | typeof TRAINING | typeof IDLE;
export const MODE_NAMES = ['mining', 'training', 'idle'] as const;

export interface ProductMarket {
  series: Series;
  profile: GpuProfile;
  /** rate[mode][step] */
  rate: [Float64Array, Float64Array, Float64Array];
}

export interface Market {
  products: ProductMarket[];
  feePercent: number;
  /** Every distinct step start over all products, ascending. */
  timeline: Float64Array;
}

export function buildMarket(trace: Trace, pool: PoolProfile): Market {
  const products: ProductMarket[] = [];
  for (const s of trace.series) {
    const profile = pool.profiles.get(s.product);
    if (!profile) {
      const known = [...pool.profiles.keys()].join(', ') || 'none';
      throw new Error(
        `MiningPool ${pool.name} has no gpuProfiles entry for ${s.product}, which the trace uses (it has ${known})`,
      );
    }
    const n = s.startMs.length;
    const mining = new Float64Array(n);
    const training = new Float64Array(n);
    const idle = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const e = s.electricity[k] as number;
      mining[k] = miningYieldPerGpuHour(profile, pool.feePercent, s.revenue[k] as number, e);
      training[k] = rentalNetPerGpuHour(s.rental[k] as number, profile.trainingWatts, e);
      idle[k] = idlePerGpuHour(profile.idleWatts, e);
    }
    products.push({ series: s, profile, rate: [mining, training, idle] });
  }
  const all = new Set<number>();
  for (const p of products) for (const t of p.series.startMs) all.add(t);
  const timeline = Float64Array.from([...all].sort((a, b) => a - b));
  return { products, feePercent: pool.feePercent, timeline };
}

/** Short node-name stem for a product: NVIDIA-GeForce-RTX-3090 → rtx-3090. */
export function productSlug(product: string): string {
  const slug = product
    .toLowerCase()
    .replace(/^nvidia-(geforce-)?/, '')
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug || 'gpu';
}
