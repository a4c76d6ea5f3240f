import type { PriceProblemCode } from './types.js';

export type ParsedNumber =
  { ok: true; value: number; decimal: string } | { ok: false; code: PriceProblemCode; reason: string };

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Accepts a JSON number or a numeric string ("0.0021", " 2.5e-3 "); refuses anything else with a reason.
 * Non-finite values are refused here too, and negative ones unless `signed` (electricity can be negative).
 */
export function parsePrice(raw: unknown, opts: { signed?: boolean; quote?: boolean } = {}): ParsedNumber {
  const quoteText = opts.quote ?? true;
  if (raw === undefined || raw === null) return { ok: false, code: 'Missing', reason: 'value is missing' };
  let text: string;
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return { ok: false, code: 'NotFinite', reason: `value ${raw} is not finite` };
    text = String(raw);
  } else if (typeof raw === 'string') {
    text = raw.trim();
    if (text === '') return { ok: false, code: 'Missing', reason: 'value is empty' };
    if (!NUMERIC.test(text)) {
      // An HTTP answer's strings are never shown: the field could be anything (a cloud access key fits).
      const shown = quoteText ? `value ${quote(text)}` : `value (a string of ${text.length} characters)`;
      return { ok: false, code: 'NotANumber', reason: `${shown} is not a number` };
    }
  } else {
    return { ok: false, code: 'NotANumber', reason: `value ${describe(raw)} is not a number` };
  }
  const value = Number(text);
  if (!Number.isFinite(value)) return { ok: false, code: 'NotFinite', reason: `value ${text} is not finite` };
  if (value < 0 && !opts.signed) return { ok: false, code: 'Negative', reason: `value ${text} is negative` };
  // An absurd exponent ("1e-99999999") would expand to a huge string; the double already says it all.
  const exponent = /[eE]([+-]?\d+)$/.exec(text)?.[1];
  const plain = exponent && Math.abs(Number(exponent)) > 400 ? String(value) : text;
  return { ok: true, value: value === 0 ? 0 : value, decimal: toPlainDecimal(plain) };
}

/** "2.5e-3" → "0.0025", "+1.50" → "1.50", "-0" → "0": the same number written without an exponent. */
export function toPlainDecimal(text: string): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal: ${text}`);
  const sign = m[1] === '-' ? '-' : '';
  let intPart = m[2] ?? '';
  let frac = m[3] ?? '';
  const exp = Number(m[4] ?? '0');
  if (exp > 0) {
    frac = frac.padEnd(exp, '0');
    intPart += frac.slice(0, exp);
    frac = frac.slice(exp);
  } else if (exp < 0) {
    intPart = intPart.padStart(-exp + 1, '0');
    frac = intPart.slice(intPart.length + exp) + frac;
    intPart = intPart.slice(0, intPart.length + exp);
  }
  intPart = intPart.replace(/^0+(?=\d)/, '') || '0';
  const out = frac === '' ? intPart : `${intPart}.${frac}`;
  return sign && /[1-9]/.test(out) ? sign + out : out;
}

function quote(text: string): string {
  return `'${text.length > 40 ? `${text.slice(0, 40)}…` : text}'`;
}

function describe(raw: unknown): string {
  if (Array.isArray(raw)) return 'of type array';
  if (typeof raw === 'object') return 'of type object';
  return `${String(raw)} of type ${typeof raw}`;
}
