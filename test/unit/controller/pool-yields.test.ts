import { describe, expect, it } from '@jest/globals';
import {
  buildPoolStatus,
  computeYields,
  lastGoodOf,
  nextCheckMs,
  readyCondition,
  refusalNote,
  yieldEvent,
  type PoolReadings,
  type YieldSpec,
} from '../../../src/controller/pool-yields.js';
import type { PriceReading } from '../../../src/economics/sources/types.js';

const t0 = new Date('2025-03-01T12:00:00Z');
const at = (seconds: number): Date => new Date(t0.getTime() + seconds * 1000);

const good = (decimal: string, extra: Partial<Extract<PriceReading, { ok: true }>> = {}): PriceReading => ({
  ok: true,
  value: Number(decimal),
  decimal,
  readAt: t0,
  source: `value ${decimal}`,
  ...extra,
});
const bad = (
  code: Extract<PriceReading, { ok: false }>['code'],
  reason: string,
  source: string,
): PriceReading => ({
  ok: false,
  code,
  reason,
  source,
});
const readings = (revenue: PriceReading, power: PriceReading): PoolReadings => ({
  revenueUsdPerMhsDay: revenue,
  electricityUsdPerKwh: power,
});

// The example farm's products (deploy/examples/miningpool-etc.yaml).
const farm: YieldSpec = {
  poolFeePercent: '1.0',
  gpuProfiles: [
    { product: 'NVIDIA-GeForce-RTX-4090', hashrate: '124.7M', miningWatts: 249 },
    { product: 'NVIDIA-GeForce-RTX-3090', hashrate: '122.15M', miningWatts: 290 },
  ],
};
const one = (hashrate: string, miningWatts: number, poolFeePercent = '0'): YieldSpec => ({
  poolFeePercent,
  gpuProfiles: [{ product: 'P', hashrate, miningWatts }],
});

describe('computeYields', () => {
  // yield = MH/s × revenue / 24 × (1 − fee/100) − watts/1000 × electricity, rounded half away from zero to 6
  // decimals, trailing zeros dropped (at least two decimals kept).
  it.each([
    // 124.7 × 0.01 / 24 × 0.99 = 0.05143875; − 0.249 × 0.085 = 0.021165 → 0.03027375 → 0.030274
    // 122.15 × 0.01 / 24 × 0.99 = 0.050386875; − 0.29 × 0.085 = 0.02465 → 0.025736875 → 0.025737
    ['the example farm', farm, '0.01', '0.085', ['0.030274', '0.025737']],
    // 0.0021: 124.7 → 0.010802025 − 0.021165 = −0.010362975; 122.15 → 0.01058124375 − 0.02465 = −0.01406875625
    ['mining at a loss (negative yields)', farm, '0.0021', '0.085', ['-0.010363', '-0.014069']],
    // A negative electricity price pays for consumption: 0.010802025 + 0.249 × 0.02 = 0.015782025;
    // 0.01058124375 + 0.29 × 0.02 = 0.01638124375.
    ['a negative electricity price (paid to consume)', farm, '0.0021', '-0.02', ['0.015782', '0.016381']],
    // 1 × 0.000012 / 24 = 0.0000005 exactly: half rounds away from zero, not to even.
    ['an exact half rounds up', one('1M', 0), '0.000012', '0', ['0.000001']],
    ['a negative exact half rounds down', one('1M', 1), '0', '0.0005', ['-0.000001']],
    // 100 × 0.0036 / 24 = 0.015, at least two decimals are kept
    ['trailing zeros dropped', one('100M', 0), '0.0036', '0.1', ['0.015']],
    ['a round figure keeps two decimals', one('1G', 0), '0.024', '0', ['1.00']],
    ['zero', one('100M', 0), '0', '0.1', ['0.00']],
    // the fee takes its share before power: 100 × 0.024 / 24 × 0.5 = 0.05; − 0.1 × 0.2 = 0.03
    ['half the revenue to the pool', one('100M', 100, '50'), '0.024', '0.2', ['0.03']],
    ['all of it to the pool', one('100M', 100, '100'), '0.024', '0.2', ['-0.02']],
  ])('%s', (_name, spec, revenue, power, expected) => {
    const out = computeYields(spec, readings(good(revenue), good(power)));
    expect(out.known).toBe(true);
    if (!out.known) return;
    expect(out.yields).toEqual(
      spec.gpuProfiles.map((p, i) => ({ product: p.product, usdPerGpuHour: expected[i] })),
    );
    expect(out.reason).toBe('PricesKnown');
    expect(out.refusals).toEqual([]);
  });

  it('reports the prices as read, plain, rounded to 9 decimals', () => {
    const out = computeYields(farm, readings(good('0.0021246000'), good('0.0850000000004')));
    expect(out.prices).toEqual({ revenueUsdPerMhsDay: '0.0021246', electricityUsdPerKwh: '0.085' });
    expect(out.message).toBe(
      'revenueUsdPerMhsDay 0.0021246000 from value 0.0021246000; electricityUsdPerKwh 0.0850000000004 from value 0.0850000000004',
    );
  });

  it.each([
    [
      'a ConfigMap value that is not a number',
      bad('NotANumber', "value 'garbage' is not a number", 'ConfigMap prices key revenue'),
      good('0.085'),
      'NotANumber',
      "revenueUsdPerMhsDay from ConfigMap prices key revenue: value 'garbage' is not a number",
    ],
    [
      'a missing key',
      good('0.01'),
      bad('Missing', 'key kwh missing from ConfigMap power', 'ConfigMap power key kwh'),
      'Missing',
      'electricityUsdPerKwh from ConfigMap power key kwh: key kwh missing from ConfigMap power',
    ],
    [
      'a stale HTTP price',
      bad(
        'Stale',
        'last good value 0.01 read 31m ago is older than maxAgeSeconds 1800 (latest refresh: HTTP 500 from http://p/x)',
        'HTTP http://p/x field price',
      ),
      good('0.085'),
      'Stale',
      'revenueUsdPerMhsDay from HTTP http://p/x field price: last good value 0.01 read 31m ago is older than ' +
        'maxAgeSeconds 1800 (latest refresh: HTTP 500 from http://p/x)',
    ],
    [
      'the first unknown input wins',
      bad('FetchFailed', 'boom', 'HTTP a'),
      bad('Negative', 'value -1 is negative', 'value -1'),
      'FetchFailed',
      'revenueUsdPerMhsDay from HTTP a: boom',
    ],
  ])('is unknown with %s', (_name, revenue, power, reason, message) => {
    const out = computeYields(farm, readings(revenue, power));
    expect(out).toMatchObject({ known: false, reason, message });
    expect('yields' in out).toBe(false);
  });

  it('keeps the known price when the other is unknown', () => {
    const out = computeYields(farm, readings(bad('NotANumber', 'x', 'ConfigMap a key b'), good('0.085')));
    expect(out.prices).toEqual({ electricityUsdPerKwh: '0.085' });
  });

  it('lists a refused refresh whose last good value still holds, and says so in the message', () => {
    const warning = { code: 'FetchFailed' as const, reason: 'HTTP 500 from http://p/x', at: at(300) };
    const held = good('0.01', { source: 'HTTP http://p/x field price', expiresAt: at(1800), warning });
    const out = computeYields(farm, readings(held, good('0.085')));
    expect(out.known).toBe(true);
    expect(out.refusals).toEqual([
      {
        input: 'revenueUsdPerMhsDay',
        source: 'HTTP http://p/x field price',
        code: 'FetchFailed',
        reason: 'HTTP 500 from http://p/x',
        at: at(300),
        heldValue: '0.01',
        heldReadAt: t0,
        heldUntil: at(1800),
      },
    ]);
    expect(out.message).toContain(
      'revenueUsdPerMhsDay 0.01 from HTTP http://p/x field price (holding the value read at 2025-03-01T12:00:00Z: ' +
        'latest refresh refused: HTTP 500 from http://p/x)',
    );
    expect(refusalNote(out.refusals[0]!)).toBe(
      'revenueUsdPerMhsDay from HTTP http://p/x field price: HTTP 500 from http://p/x; keeping the last good ' +
        'value 0.01 read at 2025-03-01T12:00:00Z until 2025-03-01T12:30:00Z',
    );
  });

  it.each([
    [
      'a price too large for status',
      one('1M', 0),
      '1234567890123456',
      '0',
      'OutOfRange',
      /revenueUsdPerMhsDay 1234567890123456/,
    ],
    [
      'a yield too large for status',
      one('1E', 0),
      '1000000',
      '0',
      'OutOfRange',
      /yield of P .* is too large/,
    ],
    ['a hashrate that cannot be parsed', one('1e999', 0), '1', '0', 'InvalidSpec', /gpuProfiles P: .*1e999/],
  ])('is unknown with %s', (_name, spec, revenue, power, reason, message) => {
    const out = computeYields(spec, readings(good(revenue), good(power)));
    expect(out.known).toBe(false);
    expect(out.reason).toBe(reason);
    expect(out.message).toMatch(message);
  });
});

describe('buildPoolStatus', () => {
  const counts = { nodes: 2, gpus: 16 };
  const known = (r: PoolReadings) => ({ outcome: computeYields(farm, r), readings: r });

  it('writes yields, prices, counts and both conditions for the generation', () => {
    const r = readings(good('0.01'), good('0.085'));
    const status = buildPoolStatus({ ...known(r), generation: 3, previous: undefined, counts, now: at(5) });
    expect(status).toEqual({
      observedGeneration: 3,
      yields: [
        { product: 'NVIDIA-GeForce-RTX-4090', usdPerGpuHour: '0.030274' },
        { product: 'NVIDIA-GeForce-RTX-3090', usdPerGpuHour: '0.025737' },
      ],
      revenueUsdPerMhsDay: '0.01',
      electricityUsdPerKwh: '0.085',
      inputsReadTime: '2025-03-01T12:00:05Z',
      miningNodes: 2,
      miningGpus: 16,
      conditions: [
        expect.objectContaining({
          type: 'Ready',
          status: 'True',
          reason: 'SpecValid',
          observedGeneration: 3,
        }),
        expect.objectContaining({
          type: 'YieldKnown',
          status: 'True',
          reason: 'PricesKnown',
          observedGeneration: 3,
        }),
      ],
    });
  });

  it('leaves yields out while unknown and keeps the last successful read time', () => {
    const r = readings(bad('NotANumber', 'nope', 'ConfigMap c key k'), good('0.085'));
    const previous = {
      inputsReadTime: '2025-03-01T11:00:00Z',
      yields: [{ product: 'x', usdPerGpuHour: '1.00' }],
    };
    const status = buildPoolStatus({ ...known(r), generation: 1, previous, counts, now: at(5) });
    expect(status.yields).toBeUndefined();
    expect(status.revenueUsdPerMhsDay).toBeUndefined();
    expect(status.electricityUsdPerKwh).toBe('0.085');
    expect(status.inputsReadTime).toBe('2025-03-01T11:00:00Z');
    expect(status.conditions?.[1]).toMatchObject({ status: 'False', reason: 'NotANumber' });
  });

  it.each([
    // values and ConfigMaps are read on every reconcile: the time moves only when a value changes
    ['unchanged static prices keep the time', good('0.01'), good('0.085'), '0.01', '2025-03-01T11:00:00Z'],
    ['a changed static price takes now', good('0.02'), good('0.085'), '0.01', '2025-03-01T12:00:05Z'],
    // an HTTP price gives its own read time (the oldest of the expiring ones)
    [
      'HTTP prices give the oldest read time',
      good('0.01', { readAt: at(-100), expiresAt: at(1700) }),
      good('0.085', { readAt: at(-40), expiresAt: at(1760) }),
      '0.01',
      '2025-03-01T11:58:20Z',
    ],
  ])('inputsReadTime: %s', (_name, revenue, power, previousRevenue, expected) => {
    const r = readings(revenue, power);
    const previous = {
      inputsReadTime: '2025-03-01T11:00:00Z',
      revenueUsdPerMhsDay: previousRevenue,
      electricityUsdPerKwh: '0.085',
    };
    const status = buildPoolStatus({ ...known(r), generation: 1, previous, counts, now: at(5) });
    expect(status.inputsReadTime).toBe(expected);
  });

  it('Ready is False when a price source spec cannot work', () => {
    const r = readings(good('0.01'), bad('InvalidSource', 'http.url is not a URL', 'invalid price source'));
    expect(readyCondition(r, 4)).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'InvalidPriceSource',
      message: 'electricityUsdPerKwh: http.url is not a URL',
      observedGeneration: 4,
    });
  });
});

describe('yieldEvent', () => {
  const next = (status: string, reason: string) => ({ status, reason, message: 'm' });
  it.each([
    ['a new pool with known yield', undefined, next('True', 'PricesKnown'), undefined],
    ['a new pool with unknown yield', undefined, next('False', 'NotANumber'), 'Warning YieldUnknown'],
    [
      'known turning unknown',
      { status: 'True', reason: 'PricesKnown' },
      next('False', 'Stale'),
      'Warning YieldUnknown',
    ],
    ['unknown for the same reason', { status: 'False', reason: 'Stale' }, next('False', 'Stale'), undefined],
    [
      'unknown for a new reason',
      { status: 'False', reason: 'Stale' },
      next('False', 'Missing'),
      'Warning YieldUnknown',
    ],
    [
      'unknown turning known',
      { status: 'False', reason: 'Stale' },
      next('True', 'PricesKnown'),
      'Normal YieldKnown',
    ],
    [
      'known staying known',
      { status: 'True', reason: 'PricesKnown' },
      next('True', 'PricesKnown'),
      undefined,
    ],
  ])('%s', (_name, previous, nextState, expected) => {
    const e = yieldEvent(previous, nextState);
    expect(e ? `${e.type} ${e.reason}` : undefined).toBe(expected);
  });
});

describe('nextCheckMs', () => {
  const source = (d: Date | undefined) => ({ nextRefreshAt: () => d });
  const now = t0.getTime();
  it.each([
    [
      'value and ConfigMap sources are event driven',
      [undefined, undefined],
      [good('1'), good('2')],
      undefined,
    ],
    ['the next refresh', [at(300), undefined], [good('1', { expiresAt: at(1800) }), good('2')], 300_000],
    ['the earlier of two refreshes', [at(300), at(60)], [good('1'), good('2')], 60_000],
    // a held value expiring before the next refresh: look again just after it expires
    ['an expiry before the refresh', [at(300)], [good('1', { expiresAt: at(120) })], 120_001],
    ['an expiry exactly now still ahead by 1 ms', [at(300)], [good('1', { expiresAt: at(0) })], 1],
    ['times in the past are ignored', [at(-5)], [bad('Stale', 's', 'h')], undefined],
  ])('%s', (_name, refreshes, rs, expected) => {
    expect(nextCheckMs(refreshes.map(source), rs, now)).toBe(expected);
  });
});

describe('lastGoodOf', () => {
  const status = {
    observedGeneration: 3,
    revenueUsdPerMhsDay: '0.0021',
    electricityUsdPerKwh: '-0.012',
    inputsReadTime: '2025-03-01T11:55:00Z',
  };

  it('restores each input the status recorded, read at inputsReadTime', () => {
    expect(lastGoodOf(status, 3, 'revenueUsdPerMhsDay')).toEqual({
      decimal: '0.0021',
      readAt: new Date('2025-03-01T11:55:00Z'),
    });
    expect(lastGoodOf(status, 3, 'electricityUsdPerKwh')?.decimal).toBe('-0.012');
  });

  it('nothing from a status of another generation, without a read time, or without the input', () => {
    expect(lastGoodOf(status, 4, 'revenueUsdPerMhsDay')).toBeUndefined();
    expect(lastGoodOf({ ...status, inputsReadTime: undefined }, 3, 'revenueUsdPerMhsDay')).toBeUndefined();
    expect(
      lastGoodOf({ ...status, revenueUsdPerMhsDay: undefined }, 3, 'revenueUsdPerMhsDay'),
    ).toBeUndefined();
    expect(lastGoodOf(undefined, 3, 'revenueUsdPerMhsDay')).toBeUndefined();
  });
});
