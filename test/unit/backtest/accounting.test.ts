import { describe, expect, it } from '@jest/globals';
import { MODE_NAMES, type ModeCode } from '../../../src/backtest/market.js';
import { runBacktest, type BacktestDetail } from '../../../src/backtest/run.js';
import { parseTrace } from '../../../src/backtest/trace.js';
import type { PlannerPolicy } from '../../../src/planner/index.js';
import { cents, exactRevenue, readRows, type ExactProfile } from './exact.js';
import { P3090, P4090, policy, pool, rng } from './fixtures.js';

const ROUND: ExactProfile = { hashrate: '100M', miningWatts: 200, trainingWatts: 300, idleWatts: 20 };

// By hand, 8 GPUs, S = 360 s so a switched hour keeps 0.9 of its earnings:
//   step 0: mining 100 × 0.048 / 24 − 0.2 × 0.1 = 0.18; training 0.5 − 0.03 = 0.47; idle −0.002
//   step 1: mining 0.18; training 0.10 − 0.03 = 0.07; idle −0.002
//   step 2: power at 2: mining 0.2 − 0.4 = −0.2; training 0.1 − 0.6 = −0.5; idle −0.04
// always mine 8 × (0.18 + 0.18 − 0.2) = 1.28; always rent 8 × (0.47 × 0.9 + 0.07 − 0.5) = −0.056 → −0.06;
// best: train, mine, idle = 8 × (0.423 + 0.162 − 0.036) = 4.392 → 4.39, with three switches.
const HAND = `time,gpu_product,rental_usd_per_gpu_hour,mining_usd_per_mhs_day,electricity_usd_per_kwh
2024-01-01T00:00:00Z,${P3090},0.50,0.048,0.1
2024-01-01T01:00:00Z,${P3090},0.10,0.048,0.1
2024-01-01T02:00:00Z,${P3090},0.10,0.048,2.0`;

function run(
  csv: string,
  pol: PlannerPolicy,
  profiles: Record<string, ExactProfile>,
  fee: string,
  nodes = 1,
  gpus = 8,
) {
  return runBacktest(parseTrace(csv), pool(profiles, fee), pol, {
    nodesPerProduct: nodes,
    gpusPerNode: gpus,
  });
}

/** Every strategy's reported revenue recomputed from its modes by the independent exact accounting. */
function recomputeAll(
  csv: string,
  d: BacktestDetail,
  profiles: Record<string, ExactProfile>,
  fee: string,
  S: number,
) {
  const rows = readRows(csv);
  const out: Record<string, number> = {};
  const nodesOf = (modesOf: (p: number) => Uint8Array) => {
    const m = new Map<string, { product: string; modes: string[] }>();
    d.market.products.forEach((pm, p) => {
      const modes = [...modesOf(p)].map((c) => MODE_NAMES[c as ModeCode]);
      for (let i = 0; i < d.shape.nodesPerProduct; i++)
        m.set(`${pm.series.product}/${i}`, { product: pm.series.product, modes });
    });
    return m;
  };
  for (const name of ['alwaysMine', 'alwaysRent', 'threshold', 'perfectForesight'] as const) {
    const m = nodesOf((p) => d.baselines[name][p]!.modes);
    out[name] = cents(exactRevenue(rows, m, profiles, fee, d.shape.gpusPerNode, S));
  }
  // rigshift: each node's own modes, read back per step of its product.
  const N = d.rigshift.nodes.length;
  const m = new Map<string, { product: string; modes: string[] }>();
  d.rigshift.nodes.forEach((node, i) => {
    const modes: string[] = [];
    for (let t = 0; t < d.market.timeline.length; t++) {
      const c = d.rigshift.modes[t * N + i] as number;
      if (c !== 255) modes.push(MODE_NAMES[c as ModeCode]);
    }
    m.set(node.name, { product: d.market.products[node.product]!.series.product, modes });
  });
  out.rigshift = cents(exactRevenue(rows, m, profiles, fee, d.shape.gpusPerNode, S));
  return out;
}

describe('backtest accounting', () => {
  const hourly = policy({
    hysteresisPercent: 5,
    minDwellSeconds: 3600,
    switchingSeconds: 360,
    maxConcurrentDrains: 1,
  });

  it('matches a trace worked out by hand, to the cent', () => {
    const d = run(HAND, hourly, { [P3090]: ROUND }, '0');
    const s = d.report.strategies;
    expect(s.alwaysMine).toEqual({ revenueUsd: 1.28, switches: 0 });
    expect(s.alwaysRent).toEqual({ revenueUsd: -0.06, switches: 1 });
    expect(s.perfectForesight).toEqual({ revenueUsd: 4.39, switches: 3 });
    expect(s.threshold).toEqual({ revenueUsd: 4.39, switches: 3 });
    expect(s.rigshift).toEqual({ revenueUsd: 4.39, switches: 3 });
    expect(d.report.captureRatio).toBe(1);
    expect(d.report.steps).toBe(3);
  });

  it('holds a node for the minimum dwell and pays for it', () => {
    // With 2 h of dwell the node cannot leave training at step 1: 8 × (0.423 + 0.07 − 0.036) = 3.656.
    const d = run(
      HAND,
      policy({ minDwellSeconds: 7200, switchingSeconds: 360, maxConcurrentDrains: 1 }),
      { [P3090]: ROUND },
      '0',
    );
    expect(d.report.strategies.rigshift).toEqual({ revenueUsd: 3.66, switches: 2 });
  });

  it('charges a whole step when the switch takes longer than the step', () => {
    // S = 2 h: a switched step earns nothing, which also means it loses nothing. The best is to mine two
    // hours and "switch" to idle in the power spike: 8 × (0.18 + 0.18 + 0) = 2.88.
    const d = run(HAND, policy({ switchingSeconds: 7200 }), { [P3090]: ROUND }, '0');
    expect(d.report.strategies.perfectForesight).toEqual({ revenueUsd: 2.88, switches: 1 });
    expect(d.report.strategies.alwaysRent.revenueUsd).toBe(-3.44); // 8 × (0 + 0.07 − 0.5)
  });

  it.each<[number, number, string]>([
    // One drain at a time, started at a step start: however short S is, a drain started after another has
    // finished would switch its node mid-step, which the accounting cannot credit. So one node leaves mining
    // for the market in the first step, comes back to mine (no drain needed), and one goes idle in the spike.
    [300, 1, '1000/0000/2000'],
    [1800, 1, '1000/0000/2000'],
  ])('starts at most maxConcurrentDrains drains per step, S = %i s', (S, firstStep, expected) => {
    const d = run(
      HAND,
      policy({ switchingSeconds: S, maxConcurrentDrains: 1, minDwellSeconds: 0 }),
      { [P3090]: ROUND },
      '0',
      4,
    );
    const N = d.rigshift.nodes.length;
    const steps = [0, 1, 2].map((t) =>
      Array.from({ length: N }, (_, i) => d.rigshift.modes[t * N + i]).join(''),
    );
    expect(steps.join('/')).toBe(expected);
    expect(steps[0]!.split('').filter((m) => m !== '0')).toHaveLength(firstStep);
    expect(d.rigshift.maxDrainsPerWave).toBe(1);
  });

  it.each([1, 2, 3, 4, 5])('agrees with the independent exact accounting on generated trace %i', (seed) => {
    const r = rng(seed);
    const profiles: Record<string, ExactProfile> = {
      [P3090]: { hashrate: '122.15M', miningWatts: 290, trainingWatts: 350, idleWatts: 25 },
      [P4090]: { hashrate: '1.247e8', miningWatts: 249, trainingWatts: 450, idleWatts: 25 },
    };
    const lines = [
      'electricity_usd_per_kwh,gpu_product,time,mining_usd_per_mhs_day,rental_usd_per_gpu_hour,comment',
    ];
    for (const product of [P3090, P4090]) {
      let t = Date.UTC(2024, 2, 30, 22);
      for (let k = 0; k < 40; k++) {
        const e = r() < 0.1 ? (r() * 3).toFixed(5) : (r() * 0.3 - 0.03).toFixed(5);
        lines.push(
          `${e},${product},${new Date(t).toISOString().replace('.000', '')},${(r() * 0.08).toFixed(7)},${(0.05 + r() * 0.4).toFixed(4)},x`,
        );
        t += [3_600_000, 1_800_000, 7_200_000, 900_000][Math.floor(r() * 4)] as number;
      }
    }
    const csv = lines.join('\n');
    const S = 300 + Math.floor(r() * 1500);
    const pol = policy({
      hysteresisPercent: Math.floor(r() * 10),
      minDwellSeconds: 1800,
      switchingSeconds: S,
      maxConcurrentDrains: 1,
    });
    const d = run(csv, pol, profiles, '1.5', 3, 4);
    const exact = recomputeAll(csv, d, profiles, '1.5', S);
    const reported = Object.fromEntries(
      Object.entries(d.report.strategies).map(([k, v]) => [k, v.revenueUsd]),
    );
    expect(reported).toEqual(exact);
    // Perfect foresight is the best any sequence can do.
    for (const v of Object.values(reported))
      expect(v).toBeLessThanOrEqual(reported.perfectForesight as number);
    // The drain limit of one held: no plan started more than one drain.
    expect(d.rigshift.maxDrainsPerWave).toBeLessThanOrEqual(1);
  });
});
