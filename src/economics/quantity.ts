import { Decimal } from './decimal.js';

/**
 * Kubernetes Quantity parsing ("120M", "1.2G", "500m", "2Ki", "1e6"), exact. Used for hashrates, which
 * MiningPool profiles give in hashes per second: "120M" is 120 MH/s.
 */

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const DECIMAL_SUFFIX: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIX: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};

/** The exact value of a Quantity string. Throws with the offending text when it is not one. */
export function parseQuantity(text: string | number): Decimal {
  if (typeof text === 'number') return Decimal.fromNumber(text);
  const m = QUANTITY.exec(text.trim());
  if (!m?.[1]) throw new SyntaxError(`not a Kubernetes quantity: '${text}'`);
  const base = Decimal.parse(m[1]);
  const suffix = m[2] ?? '';
  if (suffix === '') return base;
  const binary = BINARY_SUFFIX[suffix];
  if (binary !== undefined) return base.times(Decimal.fraction(binary, 1n));
  const exp = DECIMAL_SUFFIX[suffix] ?? Number(suffix.slice(1));
  if (Math.abs(exp) > 400) throw new RangeError(`quantity exponent out of range: '${text}'`);
  const p = 10n ** BigInt(Math.abs(exp));
  return exp >= 0 ? base.times(Decimal.fraction(p, 1n)) : base.div(Decimal.fraction(p, 1n));
}

const MEGA = Decimal.fraction(1_000_000n, 1n);

/** Hashrate Quantity (hashes per second) in MH/s, exact. */
export function hashrateMhsExact(quantity: string | number): Decimal {
  return parseQuantity(quantity).div(MEGA);
}

/** Hashrate Quantity (hashes per second) in MH/s, as a number for the hot paths. */
export function hashrateMhs(quantity: string | number): number {
  return hashrateMhsExact(quantity).toNumber();
}
