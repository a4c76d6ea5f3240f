import { describe, expect, it } from '@jest/globals';
import { perfectForesight, replayModes, thresholdRun } from '../../../src/backtest/baselines.js';
import { buildMarket, type ModeCode } from '../../../src/backtest/market.js';
import { parseTrace } from '../../../src/backtest/trace.js';
import { P3090, pool, rng } from './fixtures.js';

/** A tiny random market of one product, with spikes and negative prices now and then. */
function tinyMarket(seed: number, steps: number) {
  const r = rng(seed);
  const lines = ['time,gpu_product,rental_usd_per_gpu_hour,mining_usd_per_mhs_day,electricity_usd_per_kwh'];
  let t = Date.UTC(2024, 0, 1);
  for (let k = 0; k < steps; k++) {
    const e = r() < 0.2 ? r() * 4 : r() * 0.4 - 0.1;
    lines.push(
      `${new Date(t).toISOString()},${P3090},${(r() * 0.6).toFixed(4)},${(r() * 0.1).toFixed(6)},${e.toFixed(5)}`,
    );
    t += [3_600_000, 1_800_000, 5_400_000][Math.floor(r() * 3)] as number;
  }
  const market = buildMarket(
    parseTrace(lines.join('\n')),
    pool({ [P3090]: { hashrate: '122.15M', miningWatts: 290, trainingWatts: 350, idleWatts: 25 } }, '1'),
  );
  return market.products[0]!;
}

/** Every mode sequence, the slow way. */
function bruteForce(pm: ReturnType<typeof tinyMarket>, modes: number, S: number): number {
  const n = pm.series.hours.length;
  let best = -Infinity;
  const seq = new Uint8Array(n);
  const total = modes ** n;
  for (let code = 0; code < total; code++) {
    let c = code;
    for (let k = 0; k < n; k++) {
      seq[k] = c % modes;
      c = Math.floor(c / modes);
    }
    best = Math.max(best, replayModes(pm, seq, S).revenuePerGpu);
  }
  return best;
}

describe('perfect foresight', () => {
  it.each([
    [1, true, 300],
    [2, true, 1800],
    [3, false, 300],
    [4, true, 5400],
    [5, false, 900],
    [6, true, 0],
    [7, true, 300],
    [8, false, 3600],
  ])('is the exact optimum on tiny trace %i (idle %s, switch %i s)', (seed, allowIdle, S) => {
    const pm = tinyMarket(seed, 7);
    const dp = perfectForesight(pm, allowIdle, S);
    expect(dp.revenuePerGpu).toBeCloseTo(bruteForce(pm, allowIdle ? 3 : 2, S), 10);
    // Its modes, replayed, earn what it says.
    expect(replayModes(pm, dp.modes, S).revenuePerGpu).toBeCloseTo(dp.revenuePerGpu, 10);
    if (!allowIdle) expect([...dp.modes].every((m) => (m as ModeCode) !== 2)).toBe(true);
    // And no rule beats it.
    expect(thresholdRun(pm, 5, allowIdle, S).revenuePerGpu).toBeLessThanOrEqual(dp.revenuePerGpu + 1e-12);
  });
});
