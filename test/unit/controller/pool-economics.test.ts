import { describe, expect, it } from '@jest/globals';
import { parseMiningPool, type MiningPool } from '../../../src/api/v1alpha1/index.js';
import { poolEconomics, poolMaxAgeSeconds } from '../../../src/controller/pool-economics.js';

const t0 = Date.parse('2025-03-01T12:00:00Z');

type Source = Record<string, unknown>;

function pool(
  status: Record<string, unknown> | undefined,
  opts: { generation?: number; revenue?: Source; electricity?: Source } = {},
): MiningPool {
  const parsed = parseMiningPool({
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'MiningPool',
    metadata: { name: 'etc', namespace: 'farm', generation: opts.generation ?? 2 },
    spec: {
      coin: 'ETC',
      algorithm: 'etchash',
      stratum: { primary: 'stratum+tcp://etc.example.org:1010' },
      wallet: '0xabc',
      miner: { image: 'miner:1' },
      gpuProfiles: [
        { product: 'RTX-4090', hashrate: '124.7M', miningWatts: 249, trainingWatts: 450, idleWatts: 25 },
        { product: 'RTX-3090', hashrate: '122.15M', miningWatts: 290, trainingWatts: 350, idleWatts: 20 },
      ],
      revenueUsdPerMhsDay: opts.revenue ?? {
        http: { url: 'http://p/x', refreshSeconds: 60, maxAgeSeconds: 600 },
      },
      electricityUsdPerKwh: opts.electricity ?? { value: '0.085' },
    },
    ...(status && { status }),
  });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

const condition = (status: string, reason: string, message = '') => ({
  type: 'YieldKnown',
  status,
  reason,
  message,
  lastTransitionTime: '2025-03-01T11:00:00Z',
});

const known = {
  observedGeneration: 2,
  yields: [
    { product: 'RTX-4090', usdPerGpuHour: '0.030274' },
    { product: 'RTX-3090', usdPerGpuHour: '-0.014069' },
  ],
  electricityUsdPerKwh: '0.085',
  inputsReadTime: '2025-03-01T11:55:00Z',
  conditions: [condition('True', 'PricesKnown')],
};

const economics = (p: MiningPool, nowMs = t0) =>
  poolEconomics(p, nowMs).products.map((e) => [
    e.product,
    e.miningUsdPerGpuHour,
    e.electricityUsdPerKwh,
    e.unknownReason,
  ]);

describe('poolEconomics', () => {
  it('reads known yields and power figures per product, named namespace/name', () => {
    const snap = poolEconomics(pool(known), t0);
    expect(snap).toEqual({
      name: 'farm/etc',
      products: [
        {
          product: 'RTX-4090',
          miningUsdPerGpuHour: 0.030274,
          electricityUsdPerKwh: 0.085,
          trainingWatts: 450,
          idleWatts: 25,
        },
        {
          product: 'RTX-3090',
          miningUsdPerGpuHour: -0.014069,
          electricityUsdPerKwh: 0.085,
          trainingWatts: 350,
          idleWatts: 20,
        },
      ],
    });
    expect(poolEconomics(pool(known), t0, 'etc').name).toBe('etc');
  });

  it.each([
    ['no status yet', undefined, {}, t0, null, 'yield not computed yet'],
    [
      'a status for an older generation',
      known,
      { generation: 3 },
      t0,
      null,
      'yield computed for generation 2, spec is at generation 3',
    ],
    [
      // read 11:55:00, max age 600 s: good up to 12:05:00.999 (whole-second timestamps)
      'prices older than the max age',
      known,
      {},
      Date.parse('2025-03-01T12:05:01Z'),
      null,
      'prices read at 2025-03-01T11:55:00Z are older than maxAgeSeconds 600',
    ],
  ])('is unknown with %s', (_name, status, opts, now, electricity, reason) => {
    expect(economics(pool(status, opts), now)).toEqual([
      ['RTX-4090', null, electricity, reason],
      ['RTX-3090', null, electricity, reason],
    ]);
  });

  it('keeps the electricity price when only the yield is unknown', () => {
    const status = {
      ...known,
      yields: undefined,
      conditions: [
        condition(
          'False',
          'NotANumber',
          "revenueUsdPerMhsDay from ConfigMap c key k: value 'x' is not a number",
        ),
      ],
    };
    const reason =
      "yield unknown (NotANumber): revenueUsdPerMhsDay from ConfigMap c key k: value 'x' is not a number";
    expect(economics(pool(status))).toEqual([
      ['RTX-4090', null, 0.085, reason],
      ['RTX-3090', null, 0.085, reason],
    ]);
  });

  it('is still known at the last millisecond of the max age', () => {
    expect(economics(pool(known), Date.parse('2025-03-01T12:05:00.999Z'))[0]?.[1]).toBe(0.030274);
  });

  it('never ages prices that do not expire (value and ConfigMap sources)', () => {
    const p = pool(known, { revenue: { configMapKeyRef: { name: 'prices', key: 'revenue' } } });
    expect(economics(p, t0 + 365 * 86_400_000)[0]?.[1]).toBe(0.030274);
  });

  it('is unknown for a product missing from status', () => {
    const status = { ...known, yields: [{ product: 'RTX-4090', usdPerGpuHour: '0.03' }] };
    expect(economics(pool(status))[1]).toEqual(['RTX-3090', null, 0.085, 'no yield for RTX-3090 in status']);
  });

  it.each([
    ['no HTTP source', { value: '1' }, { configMapKeyRef: { name: 'a', key: 'b' } }, undefined],
    [
      'one HTTP source',
      { http: { url: 'http://a', maxAgeSeconds: 900, refreshSeconds: 60 } },
      { value: '1' },
      900,
    ],
    [
      'the shorter of two',
      { http: { url: 'http://a', maxAgeSeconds: 900, refreshSeconds: 60 } },
      { http: { url: 'http://b', maxAgeSeconds: 120, refreshSeconds: 60 } },
      120,
    ],
    ['the API default', { http: { url: 'http://a' } }, { value: '1' }, 1800],
  ])('max age: %s', (_name, revenue, electricity, expected) => {
    expect(poolMaxAgeSeconds(pool(undefined, { revenue, electricity }).spec)).toBe(expected);
  });
});
