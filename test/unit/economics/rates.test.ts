import { describe, expect, it } from '@jest/globals';
import { Decimal } from '../../../src/economics/decimal.js';
import { stepEarnings, switchFactor } from '../../../src/economics/accounting.js';
import {
  idleExact,
  idlePerGpuHour,
  miningYieldExact,
  miningYieldPerGpuHour,
  modeRates,
  profileFromSpec,
  rentalNetExact,
  rentalNetPerGpuHour,
} from '../../../src/economics/rates.js';

const rtx3090 = profileFromSpec({
  product: 'NVIDIA-GeForce-RTX-3090',
  hashrate: '122.15M',
  miningWatts: 290,
  trainingWatts: 350,
  idleWatts: 25,
});

describe('yields per GPU-hour', () => {
  it('mining: hashrate × revenue / 24 × (1 − fee) − power, checked by hand', () => {
    // 122.15 × 0.0694993 / 24 × 0.99 = 0.35018525416875; 0.29 kW × 0.09042 = 0.0262218
    const y = miningYieldPerGpuHour(rtx3090, 1, 0.0694993, 0.09042);
    expect(y).toBeCloseTo(0.35018525416875 - 0.0262218, 12);
  });

  it('mining: the number and the exact version agree to 1e-12', () => {
    const cases: Array<[string, string, string]> = [
      ['1', '0.0694993', '0.09042'],
      ['0', '0.0021246', '5.27757'],
      ['2.5', '0.0564242', '-0.085'],
    ];
    for (const [fee, rev, e] of cases) {
      const exact = miningYieldExact({ hashrate: '122.15M', miningWatts: 290 }, fee, rev, e);
      const float = miningYieldPerGpuHour(rtx3090, Number(fee), Number(rev), Number(e));
      expect(Math.abs(exact.toNumber() - float)).toBeLessThan(1e-12);
    }
  });

  it('mining exact: a round case gives a round answer', () => {
    // 120 MH/s × 0.024 USD/MH/s/day / 24 = 0.12; fee 0; 100 W at 0.2 = 0.02 → 0.10 exactly.
    const y = miningYieldExact({ hashrate: '120M', miningWatts: 100 }, '0', '0.024', '0.2');
    expect(y.eq(Decimal.parse('0.1'))).toBe(true);
    expect(y.toFixed(4)).toBe('0.1000');
  });

  it('training: bid net of training power', () => {
    expect(rentalNetPerGpuHour(0.25, 350, 0.1)).toBeCloseTo(0.215, 12);
    expect(rentalNetExact('0.25', 350, '0.1').toString()).toBe('0.215');
  });

  it('idle: costs idle power, earns when power is paid for', () => {
    expect(idlePerGpuHour(25, 0.2)).toBeCloseTo(-0.005, 12);
    expect(idlePerGpuHour(25, -0.08)).toBeCloseTo(0.002, 12);
    expect(idleExact(25, '0.2').toString()).toBe('-0.005');
  });

  it('modeRates bundles the three', () => {
    const r = modeRates(rtx3090, 1, {
      rentalUsdPerGpuHour: 0.103,
      revenueUsdPerMhsDay: 0.0694993,
      electricityUsdPerKwh: 0.09042,
    });
    expect(r.mining).toBeCloseTo(0.32396345416875, 12);
    expect(r.training).toBeCloseTo(0.103 - 0.031647, 9);
    expect(r.idle).toBeCloseTo(-0.0022605, 9);
  });
});

describe('binding step accounting', () => {
  it.each([
    [300, 1, 1 - 300 / 3600],
    [3600, 1, 0],
    [7200, 1, 0],
    [0, 1, 1],
    [300, 0.5, 1 - 600 / 3600],
  ])('switch factor for S=%i s over Δ=%d h', (s, h, f) => {
    expect(switchFactor(s, h)).toBeCloseTo(f, 12);
  });

  it('a switched step loses its first S seconds, also of a loss', () => {
    expect(stepEarnings(8, 1, 0.3, false, 300)).toBeCloseTo(2.4, 12);
    expect(stepEarnings(8, 1, 0.3, true, 300)).toBeCloseTo(2.2, 12);
    expect(stepEarnings(8, 1, -0.3, true, 300)).toBeCloseTo(-2.2, 12);
  });
});
