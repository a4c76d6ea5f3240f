import { Decimal } from './decimal.js';
import { hashrateMhs, hashrateMhsExact } from './quantity.js';

/**
 * What one GPU earns per hour in each mode, in USD, net of the power it burns (DOMAIN.md, data/README.md):
 *   mining   = H × revenuePerMhsDay / 24 × (1 − fee/100) − miningWatts / 1000 × electricity
 *   training = bid − trainingWatts / 1000 × electricity
 *   idle     = − idleWatts / 1000 × electricity
 * Number versions feed the planner and the backtest; exact versions are for status and display.
 */

export interface GpuProfile {
  product: string;
  /** MH/s on the pool's algorithm. */
  hashrateMhs: number;
  miningWatts: number;
  trainingWatts: number;
  idleWatts: number;
}

/** A MiningPool `spec.gpuProfiles[]` entry as written in the manifest. */
export interface GpuProfileSpec {
  product: string;
  /** Quantity in hashes per second, e.g. "120M". */
  hashrate: string | number;
  miningWatts: number;
  trainingWatts: number;
  idleWatts: number;
}

export interface ModeRates {
  mining: number;
  training: number;
  idle: number;
}

export function profileFromSpec(spec: GpuProfileSpec): GpuProfile {
  return {
    product: spec.product,
    hashrateMhs: hashrateMhs(spec.hashrate),
    miningWatts: spec.miningWatts,
    trainingWatts: spec.trainingWatts,
    idleWatts: spec.idleWatts,
  };
}

/** Parses a decimal string ("1", "0.5") exactly, then hands back the number. */
export function decimalNumber(text: string | number): number {
  return Decimal.of(text).toNumber();
}

export function powerCostPerGpuHour(watts: number, electricityUsdPerKwh: number): number {
  return (watts / 1000) * electricityUsdPerKwh;
}

export function miningRevenuePerGpuHour(
  hashrateMhs: number,
  feePercent: number,
  revenueUsdPerMhsDay: number,
): number {
  return ((hashrateMhs * revenueUsdPerMhsDay) / 24) * (1 - feePercent / 100);
}

export function miningYieldPerGpuHour(
  profile: Pick<GpuProfile, 'hashrateMhs' | 'miningWatts'>,
  feePercent: number,
  revenueUsdPerMhsDay: number,
  electricityUsdPerKwh: number,
): number {
  return (
    miningRevenuePerGpuHour(profile.hashrateMhs, feePercent, revenueUsdPerMhsDay) -
    powerCostPerGpuHour(profile.miningWatts, electricityUsdPerKwh)
  );
}

export function rentalNetPerGpuHour(
  bidUsdPerGpuHour: number,
  trainingWatts: number,
  electricityUsdPerKwh: number,
): number {
  return bidUsdPerGpuHour - powerCostPerGpuHour(trainingWatts, electricityUsdPerKwh);
}

/** Idle earns nothing and still burns idle watts: never positive unless power is paid for (negative prices). */
export function idlePerGpuHour(idleWatts: number, electricityUsdPerKwh: number): number {
  return -powerCostPerGpuHour(idleWatts, electricityUsdPerKwh);
}

export function modeRates(
  profile: GpuProfile,
  feePercent: number,
  prices: { rentalUsdPerGpuHour: number; revenueUsdPerMhsDay: number; electricityUsdPerKwh: number },
): ModeRates {
  return {
    mining: miningYieldPerGpuHour(
      profile,
      feePercent,
      prices.revenueUsdPerMhsDay,
      prices.electricityUsdPerKwh,
    ),
    training: rentalNetPerGpuHour(
      prices.rentalUsdPerGpuHour,
      profile.trainingWatts,
      prices.electricityUsdPerKwh,
    ),
    idle: idlePerGpuHour(profile.idleWatts, prices.electricityUsdPerKwh),
  };
}

// Exact versions: same formulas on Decimals, for MiningPool status and anything printed.

const D24 = Decimal.fraction(24n, 1n);
const D100 = Decimal.fraction(100n, 1n);
const D1000 = Decimal.fraction(1000n, 1n);

function wattsKw(watts: number | Decimal): Decimal {
  return Decimal.of(watts).div(D1000);
}

export function miningYieldExact(
  profile: { hashrate: string | number; miningWatts: number },
  feePercent: string | Decimal,
  revenueUsdPerMhsDay: string | Decimal,
  electricityUsdPerKwh: string | Decimal,
): Decimal {
  const revenue = hashrateMhsExact(profile.hashrate)
    .times(Decimal.of(revenueUsdPerMhsDay))
    .div(D24)
    .times(Decimal.ONE.minus(Decimal.of(feePercent).div(D100)));
  return revenue.minus(wattsKw(profile.miningWatts).times(Decimal.of(electricityUsdPerKwh)));
}

export function rentalNetExact(
  bidUsdPerGpuHour: string | Decimal,
  trainingWatts: number,
  electricityUsdPerKwh: string | Decimal,
): Decimal {
  return Decimal.of(bidUsdPerGpuHour).minus(wattsKw(trainingWatts).times(Decimal.of(electricityUsdPerKwh)));
}

export function idleExact(idleWatts: number, electricityUsdPerKwh: string | Decimal): Decimal {
  return wattsKw(idleWatts).times(Decimal.of(electricityUsdPerKwh)).neg();
}
