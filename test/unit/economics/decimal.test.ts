import { describe, expect, it } from '@jest/globals';
import { Decimal, type RoundingMode } from '../../../src/economics/decimal.js';
import { fixedHalfUp, formatRate, formatUsd, roundMoney } from '../../../src/economics/money.js';
import { hashrateMhs, parseQuantity } from '../../../src/economics/quantity.js';

describe('Decimal', () => {
  it.each([
    ['0.35', '0.35'],
    ['-1.50', '-1.5'],
    ['+2', '2'],
    ['.5', '0.5'],
    ['2.5e-3', '0.0025'],
    ['1.2E3', '1200'],
    ['0', '0'],
    ['-0.000', '0'],
  ])('parses %s exactly as %s', (text, exact) => {
    expect(Decimal.parse(text).toString()).toBe(exact);
  });

  it.each(['', '.', 'abc', '1..2', '0x10', '1e', '--1', '1,5', 'NaN', 'Infinity'])('refuses %j', (text) => {
    expect(() => Decimal.parse(text)).toThrow(/not a decimal/);
  });

  it('adds without binary drift: 0.1 + 0.2 is 0.3', () => {
    expect(Decimal.parse('0.1').plus(Decimal.parse('0.2')).eq(Decimal.parse('0.3'))).toBe(true);
    expect(0.1 + 0.2).not.toBe(0.3);
  });

  it('divides exactly and rounds only when asked', () => {
    const third = Decimal.ONE.div(Decimal.parse('3'));
    expect(third.times(Decimal.parse('3')).eq(Decimal.ONE)).toBe(true);
    expect(third.toFixed(4)).toBe('0.3333');
    expect(third.toString()).toBe('0.33333333333333333333');
  });

  it.each<[string, number, RoundingMode, string]>([
    ['1.005', 2, 'halfUp', '1.01'],
    ['1.005', 2, 'halfEven', '1.00'],
    ['1.015', 2, 'halfEven', '1.02'],
    ['-1.005', 2, 'halfUp', '-1.01'],
    ['-1.005', 2, 'halfEven', '-1.00'],
    ['1.009', 2, 'down', '1.00'],
    ['-1.001', 2, 'floor', '-1.01'],
    ['-1.009', 2, 'ceil', '-1.00'],
    ['1.001', 2, 'ceil', '1.01'],
    ['-0.004', 2, 'halfUp', '0.00'],
    ['2.5', 0, 'halfEven', '2'],
    ['3.5', 0, 'halfEven', '4'],
    ['1234.5', 0, 'halfUp', '1235'],
  ])('rounds %s to %i places (%s) as %s', (text, places, mode, out) => {
    expect(Decimal.parse(text).toFixed(places, mode)).toBe(out);
  });

  it('rounds to tens with negative places', () => {
    expect(Decimal.parse('1250').round(-2, 'halfEven').toString()).toBe('1200');
    expect(Decimal.parse('1250').round(-2, 'halfUp').toString()).toBe('1300');
  });

  it('compares and converts', () => {
    expect(Decimal.parse('0.35').cmp(Decimal.parse('0.350'))).toBe(0);
    expect(Decimal.parse('-2').cmp(Decimal.parse('1'))).toBe(-1);
    expect(Decimal.parse('0.35').toNumber()).toBe(0.35);
    expect(Decimal.fromNumber(0.1).eq(Decimal.parse('0.1'))).toBe(true);
    expect(Decimal.parse('-3').abs().toString()).toBe('3');
    expect(Decimal.parse('-3').sign()).toBe(-1);
  });
});

describe('money display', () => {
  it('formats floats as the decimal people read, not the binary neighbour', () => {
    // 1.005 is stored as 1.00499999999999989...; Number.prototype.toFixed gets this wrong.
    expect((1.005).toFixed(2)).toBe('1.00');
    expect(formatUsd(1.005)).toBe('1.01');
    expect(roundMoney(2.675)).toBe(2.68);
    expect(formatUsd(-12.3456, 3)).toBe('-12.346');
  });

  it.each([
    [0.25, '0.25'],
    [0.031, '0.031'],
    [0.03149, '0.0315'],
    [-0.0058, '-0.0058'],
    [1, '1.00'],
    [0.00004, '0.00'],
  ])('formats the rate %d as %s', (value, text) => {
    expect(formatRate(value)).toBe(text);
  });
});

describe('Kubernetes quantities', () => {
  it.each([
    ['120M', '120000000'],
    ['1.2G', '1200000000'],
    ['122.15M', '122150000'],
    ['500m', '0.5'],
    ['2Ki', '2048'],
    ['1Mi', '1048576'],
    ['1e6', '1000000'],
    ['1.5E-3', '0.0015'],
    ['7', '7'],
    ['100k', '100000'],
  ])('parses %s as %s', (text, value) => {
    expect(parseQuantity(text).toString()).toBe(value);
  });

  it.each(['', 'M', '12 M', '1.2.3G', '120MB', '1K', '12Gb', 'abc'])('refuses %j', (text) => {
    expect(() => parseQuantity(text)).toThrow(/not a Kubernetes quantity/);
  });

  it('reads hashrates in MH/s', () => {
    expect(hashrateMhs('120M')).toBe(120);
    expect(hashrateMhs('1.2G')).toBe(1200);
    expect(hashrateMhs('122150k')).toBe(122.15);
  });
});

describe('fast half-up formatting agrees with the exact one', () => {
  it('on a spread of doubles', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const values = [
      0, -0, 0.5, 1.005, -1.005, 2.675, 9.99995, -9.99995, 0.00005, -0.00004, 123456.78945, 1e-7, 5e21,
    ];
    for (let i = 0; i < 2000; i++) values.push((rnd() - 0.5) * 10 ** Math.floor(rnd() * 8 - 4));
    for (const v of values) {
      for (const places of [0, 2, 4]) {
        expect(`${v}:${places}:${fixedHalfUp(v, places)}`).toBe(
          `${v}:${places}:${Decimal.fromNumber(v).toFixed(places, 'halfUp')}`,
        );
      }
    }
  });
});
