import { describe, expect, it } from '@jest/globals';
import { fleetPolicyFrom, miningPoolFrom } from '../../../src/backtest/manifests.js';
import { parseTrace } from '../../../src/backtest/trace.js';
import { P3090, P4090 } from './fixtures.js';

describe('trace parsing', () => {
  it('takes columns in any order, ignores unknown ones, splits products, accepts CRLF', () => {
    const t = parseTrace(
      'note,electricity_usd_per_kwh,time,gpu_product,rental_usd_per_gpu_hour,mining_usd_per_mhs_day\r\n' +
        `a,0.1,2024-01-01T00:00:00Z,${P4090},0.3,0.002\r\n` +
        `b,0.2,2024-01-01T00:00:00Z,${P3090},0.1,0.05\r\n` +
        `c,-0.05,2024-01-01T00:30:00Z,${P4090},0.31,0.002\r\n`,
    );
    expect(t.series.map((s) => s.product)).toEqual([P3090, P4090]);
    const s4090 = t.series[1]!;
    expect(s4090.times).toEqual(['2024-01-01T00:00:00Z', '2024-01-01T00:30:00Z']);
    expect([...s4090.electricity]).toEqual([0.1, -0.05]);
    // Each step lasts to the next row; the last as long as the one before; a lone row one hour.
    expect([...s4090.hours]).toEqual([0.5, 0.5]);
    expect([...t.series[0]!.hours]).toEqual([1]);
  });

  it.each([
    [
      'time,gpu_product\n2024-01-01T00:00:00Z,x',
      /missing columns rental_usd_per_gpu_hour, mining_usd_per_mhs_day, electricity_usd_per_kwh/,
    ],
    [
      `time,gpu_product,rental_usd_per_gpu_hour,mining_usd_per_mhs_day,electricity_usd_per_kwh\n2024-01-01T01:00:00Z,${P3090},0.1,0.05,0.1\n2024-01-01T01:00:00Z,${P3090},0.1,0.05,0.1`,
      /line 3: time 2024-01-01T01:00:00Z is not after 2024-01-01T01:00:00Z \(line 2\)/,
    ],
    [
      `time,gpu_product,rental_usd_per_gpu_hour,mining_usd_per_mhs_day,electricity_usd_per_kwh\n2024-01-01T01:00:00Z,${P3090},cheap,0.05,0.1`,
      /line 2: rental_usd_per_gpu_hour 'cheap' is not a number/,
    ],
    [
      `time,gpu_product,rental_usd_per_gpu_hour,mining_usd_per_mhs_day,electricity_usd_per_kwh\n01/02/2024,${P3090},0.1,0.05,0.1`,
      /line 2: time '01\/02\/2024' is not an ISO 8601 UTC time/,
    ],
    [
      'time,gpu_product,rental_usd_per_gpu_hour,mining_usd_per_mhs_day,electricity_usd_per_kwh\n',
      /no data rows/,
    ],
  ])('refuses a broken trace %#', (text, message) => {
    expect(() => parseTrace(text, 'T.csv')).toThrow(message);
  });
});

describe('manifests', () => {
  it('refuses a pool manifest the API refuses, naming the field', () => {
    expect(() =>
      miningPoolFrom(
        'apiVersion: rigshift.io/v1alpha1\nkind: MiningPool\nmetadata: {name: p}\nspec: {coin: ETC}',
        'pool.yaml',
      ),
    ).toThrow(/^pool.yaml: MiningPool p: spec\./);
  });

  it('says which kind it wanted when the file holds another', () => {
    expect(() => fleetPolicyFrom('kind: MiningPool\n', 'policy.yaml')).toThrow(
      'policy.yaml: no FleetPolicy in it (found MiningPool)',
    );
  });

  it('reads a policy with its defaults and decimal floor', () => {
    const { policy } = fleetPolicyFrom(
      '---\nkind: Other\n---\napiVersion: rigshift.io/v1alpha1\nkind: FleetPolicy\nmetadata: {name: default}\nspec: {floorRentalUsdPerGpuHour: "0.15", allowIdle: false}\n',
    );
    expect(policy).toEqual({
      hysteresisPercent: 5,
      minDwellSeconds: 3600,
      switchingSeconds: 300,
      paybackSeconds: 86400,
      maxConcurrentDrains: '10%',
      allowIdle: false,
      floorRentalUsdPerGpuHour: 0.15,
    });
  });
});
