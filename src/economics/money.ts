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
  const text = typeof value === 'number' ? fixedHalfUp(value, maxPlaces) : value.toFixed(maxPlaces, 'halfUp');
  return text.replace(/(\.\d\d\d*?)0+$/, '$1');
}

/**
 * Same result as Decimal.fromNumber(x).toFixed(places, 'halfUp'), done on the digits of the shortest form
 * of the double: no bigints on the planner's path (reasons are formatted on every plan).
 */
export function fixedHalfUp(x: number, places: number): string {
  const text = String(x);
  if (!Number.isFinite(x) || /e/i.test(text)) return Decimal.fromNumber(x).toFixed(places, 'halfUp');
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const dot = body.indexOf('.');
  const intPart = dot < 0 ? body : body.slice(0, dot);
  const frac = dot < 0 ? '' : body.slice(dot + 1);
  let digits = intPart + frac.slice(0, places).padEnd(places, '0');
  if ((frac.charCodeAt(places) || 48) >= 53) {
    // Round the digit string up by one unit in the last place, carrying.
    const chars = digits.split('');
    let i = chars.length - 1;
    while (i >= 0 && chars[i] === '9') chars[i--] = '0';
    if (i >= 0) chars[i] = String.fromCharCode((chars[i] as string).charCodeAt(0) + 1);
    else chars.unshift('1');
    digits = chars.join('');
  }
  const cut = digits.length - places;
  const whole = digits.slice(0, cut).replace(/^0+(?=\d)/, '') || '0';
  const out = places > 0 ? `${whole}.${digits.slice(cut)}` : whole;
  return negative && /[1-9]/.test(out) ? `-${out}` : out;
}
