import { z } from 'zod';
import { withCel } from './meta.js';

/** Unsigned Kubernetes quantity: a number with an optional binary (Ki..Ei), decimal (n..E) or exponent suffix. */
export const QUANTITY =
  /^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * The value of a Kubernetes quantity as a number ("120M" → 120000000, "1.5Gi" → 1610612736).
 * Exact for the magnitudes used here (hashrates, memory); throws on malformed input.
 */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const s = q.trim();
  const m = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9.]+)?$/.exec(
    s,
  );
  if (!m) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(q)}`);
  const num = Number(m[1]);
  const suffix = m[2] ?? '';
  if (/^[eE]/.test(suffix)) return num * 10 ** Number(suffix.slice(1));
  const factor = SUFFIX[suffix];
  if (factor === undefined) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(q)}`);
  return num * factor;
}

/** A positive quantity at `path` (named in error messages), e.g. a hashrate "120M". */
export function positiveQuantity(path: string, description: string, example: string) {
  const message = `${path} must be a positive Kubernetes quantity such as "${example}"`;
  const base = z
    .string()
    .max(32)
    .refine((s) => QUANTITY.test(s) && parseQuantity(s) > 0, { message })
    .describe(description);
  return withCel(base, { rule: "isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))", message });
}

/** A non-negative quantity checked by pattern (e.g. an emptyDir size limit). */
export function quantity(description: string) {
  return z.string().max(32).regex(QUANTITY).describe(description);
}
