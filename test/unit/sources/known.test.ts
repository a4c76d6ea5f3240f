import { describe, expect, it } from '@jest/globals';
import { inputsKnown } from '../../../src/economics/sources/known.js';
import type { PriceReading } from '../../../src/economics/sources/types.js';

const readAt = new Date('2025-03-01T00:00:00Z');
const good = (decimal: string, warning?: { code: 'FetchFailed'; reason: string }): PriceReading => ({
  ok: true,
  value: Number(decimal),
  decimal,
  readAt,
  source: 'test',
  ...(warning && { warning: { ...warning, at: readAt } }),
});
const bad = (code: 'Stale' | 'NotANumber', reason: string): PriceReading => ({
  ok: false,
  code,
  reason,
  source: 'test',
});

describe('inputsKnown', () => {
  it('is known when every input is, listing the values', () => {
    expect(inputsKnown({ revenueUsdPerMhsDay: good('0.0021'), electricityUsdPerKwh: good('0.08') })).toEqual({
      known: true,
      code: 'PricesKnown',
      message: 'revenueUsdPerMhsDay 0.0021, electricityUsdPerKwh 0.08',
      warnings: [],
    });
  });

  it('gives the first unknown input as the reason, in the order given', () => {
    const readings: Array<[string, PriceReading]> = [
      ['revenueUsdPerMhsDay', good('0.0021')],
      [
        'electricityUsdPerKwh',
        bad('Stale', 'last good value 0.08 read 2h ago is older than maxAgeSeconds 1800'),
      ],
      ['other', bad('NotANumber', "value 'x' is not a number")],
    ];
    expect(inputsKnown(readings)).toEqual({
      known: false,
      code: 'Stale',
      input: 'electricityUsdPerKwh',
      message: 'electricityUsdPerKwh: last good value 0.08 read 2h ago is older than maxAgeSeconds 1800',
    });
    expect(inputsKnown([readings[2]!, readings[1]!])).toMatchObject({ code: 'NotANumber', input: 'other' });
  });

  it('stays known on a held value but passes its warning on for an Event', () => {
    const result = inputsKnown({
      revenueUsdPerMhsDay: good('0.0021', { code: 'FetchFailed', reason: 'HTTP 500 from http://x/' }),
    });
    expect(result).toMatchObject({ known: true });
    expect(result.known && result.warnings).toEqual([
      { input: 'revenueUsdPerMhsDay', code: 'FetchFailed', reason: 'HTTP 500 from http://x/', at: readAt },
    ]);
  });
});
