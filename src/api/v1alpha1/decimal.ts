import { z } from 'zod';
import { withCel } from './meta.js';

// Money and prices are decimal strings, never floats: "0.35", not 0.35. The regexes avoid backslashes so the
// same source is valid inside a CEL string literal.

/** USD amount: up to 7 integer digits and 6 decimals, no sign, no exponent. */
export const USD_AMOUNT = /^(0|[1-9][0-9]{0,6})([.][0-9]{1,6})?$/;
/** A market price (revenue per MH/s-day, electricity per kWh): up to 9 decimals, because these are small. */
export const PRICE = /^(0|[1-9][0-9]{0,6})([.][0-9]{1,9})?$/;
/** An electricity price, which can be negative (day-ahead markets pay for consumption at times). */
export const SIGNED_PRICE = /^-?(0|[1-9][0-9]{0,6})([.][0-9]{1,9})?$/;
/** A percentage from 0 to 100 with up to 4 decimals. */
export const PERCENT = /^(100([.]0{1,4})?|[1-9]?[0-9]([.][0-9]{1,4})?)$/;
/** Figures the operator reports in status (signed, larger, up to 9 decimals). */
export const STATUS_DECIMAL = /^-?(0|[1-9][0-9]{0,14})([.][0-9]{1,9})?$/;

function decimalString(path: string, description: string, re: RegExp, shape: string, maxLength: number) {
  const message = `${path} must be ${shape}`;
  const base = z
    .string()
    .max(maxLength)
    .refine((s) => re.test(s), { message })
    .describe(description);
  return withCel(base, { rule: `self.matches('${re.source}')`, message });
}

/** A USD amount such as "0.35" at `path` (used in error messages). */
export function usdAmount(path: string, description: string) {
  return decimalString(
    path,
    description,
    USD_AMOUNT,
    'a decimal USD amount with at most 6 decimal places and no sign or exponent, such as "0.35"',
    16,
  );
}

/** A non-negative price such as "0.0021246" (up to 9 decimals). */
export function price(path: string, description: string) {
  return decimalString(
    path,
    description,
    PRICE,
    'a non-negative decimal number with at most 9 decimal places and no exponent, such as "0.0021246"',
    17,
  );
}

/** A price that may be negative, such as "-0.012" (up to 9 decimals). */
export function signedPrice(path: string, description: string) {
  return decimalString(
    path,
    description,
    SIGNED_PRICE,
    'a decimal number with at most 9 decimal places and no exponent, such as "0.085" or "-0.012"',
    18,
  );
}

/** A percentage such as "1.0" (0 to 100, up to 4 decimals). */
export function percent(path: string, description: string) {
  return decimalString(path, description, PERCENT, 'a decimal percentage from 0 to 100 such as "1.0"', 8);
}

/** A decimal figure in status, written by the operator (checked by pattern only). */
export function statusDecimal(description: string) {
  return z.string().max(32).regex(STATUS_DECIMAL).describe(description);
}
