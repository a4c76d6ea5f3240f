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
  if (typeof value === 'number' && maxPlaces === 4) {
    const known = rateTexts.get(value);
    if (known !== undefined) return known;
  }
  const text = typeof value === 'number' ? fixedHalfUp(value, maxPlaces) : value.toFixed(maxPlaces, 'halfUp');
  const out = text.replace(/(\.\d\d\d*?)0+$/, '$1');
  if (typeof value === 'number' && maxPlaces === 4) {
    if (rateTexts.size >= 100_000) rateTexts.clear();
    rateTexts.set(value, out);
  }
  return out;
}

/** The planner formats the same prices in thousands of reasons per plan: remember the texts. */
const rateTexts = new Map<number, string>();

/**
 * Same result as Decimal.fromNumber(x).toFixed(places, 'halfUp'), done on the digits of the shortest form
 * of the double: no bigints on the planner's path (reasons are formatted on every plan).
 */
export function fixedHalfUp(x: number, places: number): string {
  const text = String(x);
  if (!Number.isFinite(x) || text.includes('e')) return Decimal.fromNumber(x).toFixed(places, 'halfUp');
  const negative = x < 0;
  const body = negative ? text.slice(1) : text;
  const dot = body.indexOf('.');
  const intPart = dot < 0 ? body : body.slice(0, dot);
  const frac = dot < 0 ? '' : body.slice(dot + 1);
  let digits = intPart + (frac.length >= places ? frac.slice(0, places) : frac.padEnd(places, '0'));
  if (frac.length > places && frac.charCodeAt(places) >= 53) {
    // Round away from zero: add one unit in the last place (exact while the digits fit in a double).
    if (digits.length > 15) return Decimal.fromNumber(x).toFixed(places, 'halfUp');
    digits = String(Number(digits) + 1).padStart(digits.length, '0');
  }
  const cut = digits.length - places;
  let whole = digits.slice(0, cut);
  while (whole.length > 1 && whole.charCodeAt(0) === 48) whole = whole.slice(1);
  if (whole === '') whole = '0';
  const out = places > 0 ? `${whole}.${digits.slice(cut)}` : whole;
  if (!negative) return out;
  for (let i = 0; i < out.length; i++) {
    const c = out.charCodeAt(i);
    if (c >= 49 && c <= 57) return `-${out}`;
  }
  return out;
}
