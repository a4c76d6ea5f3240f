import { Decimal } from '../../../src/economics/decimal.js';
import { parseQuantity } from '../../../src/economics/quantity.js';

/**
 * An independent implementation of the binding accounting (data/README.md) in exact decimals, written from
 * the README and sharing nothing with the backtest but the Decimal type: the tests compare the two to the cent.
 */

export interface ExactProfile {
  hashrate: string;
  miningWatts: number;
  trainingWatts: number;
  idleWatts: number;
}

export interface ExactRow {
  time: string;
  product: string;
  rental: string;
  revenue: string;
  electricity: string;
}

const D = (x: string | number) => Decimal.of(typeof x === 'number' ? String(x) : x);

export function readRows(csv: string): ExactRow[] {
  const [header, ...lines] = csv.trim().split(/\r?\n/);
  const cols = (header as string).split(',');
  const at = (name: string) => cols.indexOf(name);
  return lines.map((l) => {
    const c = l.split(',');
    return {
      time: c[at('time')] as string,
      product: c[at('gpu_product')] as string,
      rental: c[at('rental_usd_per_gpu_hour')] as string,
      revenue: c[at('mining_usd_per_mhs_day')] as string,
      electricity: c[at('electricity_usd_per_kwh')] as string,
    };
  });
}

/** Mode → USD per GPU-hour, exactly as the README writes the formulas. */
export function exactRate(mode: string, row: ExactRow, p: ExactProfile, feePercent: string): Decimal {
  const e = D(row.electricity);
  const kw = (w: number) => D(w).div(D(1000));
  if (mode === 'mining') {
    const mhs = parseQuantity(p.hashrate).div(D(1_000_000));
    return mhs
      .times(D(row.revenue))
      .div(D(24))
      .times(D(1).minus(D(feePercent).div(D(100))))
      .minus(kw(p.miningWatts).times(e));
  }
  if (mode === 'training') return D(row.rental).minus(kw(p.trainingWatts).times(e));
  if (mode === 'idle') return kw(p.idleWatts).times(e).neg();
  throw new Error(`unknown mode ${mode}`);
}

/** Step lengths in hours per row of one product's series (the last as long as the one before). */
export function exactHours(rows: ExactRow[]): Decimal[] {
  const ms = rows.map((r) => Date.parse(r.time));
  return ms.map((t, k) => {
    const diff =
      k + 1 < ms.length ? (ms[k + 1] as number) - t : k > 0 ? t - (ms[k - 1] as number) : 3_600_000;
    return D(diff).div(D(3_600_000));
  });
}

/**
 * Revenue of nodes given their mode at every step of their product's series: G × Δ × rate, times
 * (1 − min(1, S/3600/Δ)) when the mode differs from the step before (every node starts mining).
 */
export function exactRevenue(
  rows: ExactRow[],
  modesByNode: Map<string, { product: string; modes: string[] }>,
  profiles: Record<string, ExactProfile>,
  feePercent: string,
  gpus: number,
  switchingSeconds: number,
): Decimal {
  let total = Decimal.ZERO;
  const byProduct = new Map<string, ExactRow[]>();
  for (const r of rows) byProduct.set(r.product, [...(byProduct.get(r.product) ?? []), r]);
  for (const { product, modes } of modesByNode.values()) {
    const series = byProduct.get(product) as ExactRow[];
    const hours = exactHours(series);
    let prev = 'mining';
    series.forEach((row, k) => {
      const mode = modes[k] as string;
      const h = hours[k] as Decimal;
      let earned = D(gpus)
        .times(h)
        .times(exactRate(mode, row, profiles[product] as ExactProfile, feePercent));
      if (mode !== prev) {
        const lost = D(switchingSeconds).div(D(3600)).div(h);
        earned = earned.times(D(1).minus(lost.cmp(D(1)) > 0 ? D(1) : lost));
      }
      total = total.plus(earned);
      prev = mode;
    });
  }
  return total;
}

export const cents = (d: Decimal): number => Number(d.toFixed(2));
