import { describe, expect, it } from '@jest/globals';
import { drainLimit, rulesOf, switchGain, worthSwitching } from '../../../src/planner/index.js';
import { policy } from './fixtures.js';

describe('switching rule', () => {
  const oneHour = rulesOf({ ...policy, paybackSeconds: 3600, minDwellSeconds: 0 });

  it('pays back over max(minimum dwell, payback horizon)', () => {
    expect(rulesOf({ ...policy, minDwellSeconds: 7200, paybackSeconds: 3600 }).horizonHours).toBe(2);
    expect(rulesOf({ ...policy, minDwellSeconds: 600, paybackSeconds: 3600 }).horizonHours).toBe(1);
    expect(rulesOf({ ...policy, minDwellSeconds: 600 }).horizonHours).toBe(24);
  });

  it.each<[number, number, number]>([
    // from, to, gain over one hour with 300 s lost: to × 11/12 − from
    [0.2, 0.3, 0.3 * (11 / 12) - 0.2],
    [0.2, 0.2, 0.2 * (11 / 12) - 0.2],
    [-0.5, -0.05, -0.05 * (11 / 12) + 0.5],
  ])('gain from %d to %d', (from, to, gain) => {
    expect(switchGain(oneHour, from, to)).toBeCloseTo(gain, 12);
  });

  it.each<[number, number, boolean]>([
    [0.2, 0.3, true],
    [0.2, 0.24, false], // 0.22 − 0.2 = 0.02 < 10% of 0.2
    [0.2, 0.241, true], // 0.2209 − 0.2 = 0.0209 > 0.02
    [0, 0.001, true], // nothing to lose: any real gain
    [-0.3, -0.05, true], // spike: idle loses less
    [0.2, 0.1, false],
  ])('from %d to %d worth it: %s', (from, to, worth) => {
    expect(worthSwitching(oneHour, from, to)).toBe(worth);
  });
});

describe('drain limit', () => {
  it.each<[number | string, number, number]>([
    [2, 100, 2],
    ['2', 100, 2],
    ['10%', 100, 10],
    ['10%', 5, 1],
    ['33.5%', 10, 3],
    ['50%', 0, 0],
  ])('%s of %i nodes is %i', (value, nodes, limit) => {
    expect(drainLimit(value, nodes)).toBe(limit);
  });

  it.each(['ten', '10 %', '-1', '%'])('refuses %j', (value) => {
    expect(() => drainLimit(value, 10)).toThrow(/count or a percentage/);
  });
});
