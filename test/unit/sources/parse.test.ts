import { describe, expect, it } from '@jest/globals';
import { parsePrice, toPlainDecimal } from '../../../src/economics/sources/decimal.js';
import { lookupField, parseFieldPath } from '../../../src/economics/sources/field-path.js';

describe('parsePrice', () => {
  it.each([
    [0.0021, 0.0021, '0.0021'],
    ['0.0021', 0.0021, '0.0021'],
    [' 0.35 ', 0.35, '0.35'],
    ['+1.50', 1.5, '1.50'],
    ['2.5e-3', 0.0025, '0.0025'],
    [5e-7, 5e-7, '0.0000005'],
    ['1E3', 1000, '1000'],
    [0, 0, '0'],
    ['-0', 0, '0'],
    ['.5', 0.5, '0.5'],
  ])('accepts %j as %d ("%s")', (raw, value, decimal) => {
    expect(parsePrice(raw)).toEqual({ ok: true, value, decimal });
  });

  it.each([
    [undefined, 'Missing', 'value is missing'],
    [null, 'Missing', 'value is missing'],
    ['  ', 'Missing', 'value is empty'],
    ['abc', 'NotANumber', "value 'abc' is not a number"],
    ['0,35', 'NotANumber', "value '0,35' is not a number"],
    ['NaN', 'NotANumber', "value 'NaN' is not a number"],
    ['Infinity', 'NotANumber', "value 'Infinity' is not a number"],
    ['0x10', 'NotANumber', "value '0x10' is not a number"],
    [true, 'NotANumber', 'value true of type boolean is not a number'],
    [{ usd: 1 }, 'NotANumber', 'value of type object is not a number'],
    [[1], 'NotANumber', 'value of type array is not a number'],
    [Number.NaN, 'NotFinite', 'value NaN is not finite'],
    [Number.POSITIVE_INFINITY, 'NotFinite', 'value Infinity is not finite'],
    ['1e400', 'NotFinite', 'value 1e400 is not finite'],
    [-0.2, 'Negative', 'value -0.2 is negative'],
    ['-0.0001', 'Negative', 'value -0.0001 is negative'],
  ])('refuses %j as %s', (raw, code, reason) => {
    expect(parsePrice(raw)).toEqual({ ok: false, code, reason });
  });

  it('accepts a negative value when signed (electricity), and nothing else changes', () => {
    expect(parsePrice(-0.2, { signed: true })).toEqual({ ok: true, value: -0.2, decimal: '-0.2' });
    expect(parsePrice(' -1.5e-2 ', { signed: true })).toEqual({ ok: true, value: -0.015, decimal: '-0.015' });
    expect(parsePrice('abc', { signed: true })).toMatchObject({ ok: false, code: 'NotANumber' });
  });

  it('shortens a long non-number in its reason', () => {
    const result = parsePrice('x'.repeat(500));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason.length).toBeLessThan(80);
  });

  it('does not expand an absurd exponent into a huge string', () => {
    expect(parsePrice('1e-99999999')).toEqual({ ok: true, value: 0, decimal: '0' });
  });
});

describe('toPlainDecimal', () => {
  it.each([
    ['1.5e2', '150'],
    ['1.5e1', '15'],
    ['1.25e-1', '0.125'],
    ['12.5e-4', '0.00125'],
    ['007.10', '7.10'],
    ['-3e-2', '-0.03'],
    ['-0.000', '0.000'],
  ])('%s → %s', (input, output) => {
    expect(toPlainDecimal(input)).toBe(output);
  });
});

describe('field paths', () => {
  const body = { data: { usdPerMhsDay: 0.002, list: [{ price: 1 }, { price: 2 }] }, n: null };

  it.each([
    ['data.usdPerMhsDay', 0.002],
    ['data.list.1.price', 2],
    ['data.list[0].price', 1],
    ['', body],
  ])('%s finds %j', (path, value) => {
    expect(lookupField(body, parseFieldPath(path))).toEqual({ found: true, value });
  });

  it.each([
    ['data.price', "data has no key 'price'"],
    ['data.list.2.price', 'data.list has 2 items, no index 2'],
    ['data.list.first', "data.list is an array, 'first' is not an index"],
    ['n.x', 'n is null, not an object'],
    ['data.usdPerMhsDay.x', 'data.usdPerMhsDay is a number, not an object'],
    ['toString', "the response has no key 'toString'"],
    ['__proto__', "the response has no key '__proto__'"],
  ])('%s is missing: %s', (path, reason) => {
    expect(lookupField(body, parseFieldPath(path))).toEqual({ found: false, reason });
  });

  it('rejects a path with an empty segment', () => {
    expect(() => parseFieldPath('data..price')).toThrow(/empty segment/);
  });
});
