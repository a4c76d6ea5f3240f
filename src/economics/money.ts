import { Decimal, type RoundingMode } from './decimal.js';

/**
 * Display of money. Every figure shown to a person goes through here: the value is taken as the decimal
 * a person would read (shortest form of the double, or the exact Decimal) and rounded explicitly.
 */

function toDecimal(value: number | Decimal): Decimal {
  return value instanceof Decimal ? value : Decimal.fromNumber(value);
}

/** Rounds to `places` decimals (half away from zero by default) and returns the number. */
export function roundMoney(value: number | Decimal, places = 2, mode: RoundingMode = 'halfUp'): number {
  return toDecimal(value).round(places, mode).toNumber();
}

/** "12.35": a USD amount with a fixed number of decimals (cents by default). */
export function formatUsd(value: number | Decimal, places = 2, mode: RoundingMode = 'halfUp'): string {
  return toDecimal(value).toFixed(places, mode);
}

/**
 * A price per GPU-hour as people quote it: up to 4 decimals, trailing zeros dropped but at least two kept
 * ("0.25", "0.031", "0.0315", "-0.006").
 */
export function formatRate(value: number | Decimal, maxPlaces = 4): string {
  const text = toDecimal(value).toFixed(maxPlaces, 'halfUp');
  return text.replace(/(\.\d\d\d*?)0+$/, '$1');
}
