import { describe, expect, it } from '@jest/globals';
import { runJobsBacktest } from '../../../src/backtest/jobs/run.js';
import { parseJobTrace } from '../../../src/backtest/jobs/trace.js';
import { parseTrace } from '../../../src/backtest/trace.js';
import { buildMarket } from '../../../src/backtest/market.js';
import { World, type Composition } from '../../../src/backtest/jobs/world.js';
import { P3090, policy, pool, rng } from './fixtures.js';

// One RTX 3090 profile with round numbers: at 0.1 USD/kWh mining earns 100 × 0.048 / 24 − 0.02 = 0.18,
// idle −0.002, and a job bidding 0.5 earns 0.5 − 0.03 = 0.47 per GPU-hour. S = 360 s: a switched hour keeps 0.9.
const PROFILE = { [P3090]: { hashrate: '100M', miningWatts: 200, trainingWatts: 300, idleWatts: 20 } };
const POLICY_SPEC = {
  hysteresisPercent: 5,
  minDwellSeconds: 3600,
  switchingSeconds: 360,
  maxConcurrentDrains: 1,
};
const POLICY = policy(POLICY_SPEC);

function market(electricity: number[]): string {
  const lines = ['time,gpu_product,rental_usd_per_gpu_hour,mining_usd_per_mhs_day,electricity_usd_per_kwh'];
  electricity.forEach((e, k) =>
    lines.push(`${new Date(Date.UTC(2024, 0, 1, k)).toISOString()},${P3090},0.3,0.048,${e}`),
  );
  return lines.join('\n');
}

const HEADER =
  'submit_time,name,gpu_product,replicas,gpus_per_replica,duration_hours,bid_usd_per_gpu_hour,tier,patience_hours';

function run(electricity: number[], jobs: string[], nodes = 1, gpus = 4, policy = POLICY) {
  return runJobsBacktest(
    parseTrace(market(electricity)),
    parseJobTrace([HEADER, ...jobs].join('\n')),
    pool(PROFILE, '0'),
    policy,
    { nodesPerProduct: nodes, gpusPerNode: gpus },
  );
}

describe('backtest with a job trace', () => {
  it('accounts GPU by GPU, worked out by hand', async () => {
    const d = await run(
      [0.1, 0.1, 0.1, 0.1],
      [
        // Too big for a 4-GPU node: refused. Submitted during step 0, so it could start at step 1 at best.
        '2024-01-01T00:10:00Z,big,,1,8,1,0.9,OnDemand,24',
        // Pays less than mining: waits, and leaves after its hour of patience.
        '2024-01-01T00:20:00Z,cheap,,1,1,1,0.1,OnDemand,1',
        // Starts at step 1 on 2 GPUs, runs two steps; the other 2 GPUs keep mining.
        `2024-01-01T00:30:00Z,a,${P3090},1,2,2,0.5,OnDemand,`,
      ],
    );
    // step 0: 4 × 0.18 = 0.72; step 1: 2 × 0.47 × 0.9 + 2 × 0.18 = 1.206; step 2: 2 × 0.47 + 2 × 0.18 = 1.3;
    // step 3: 2 × 0.18 × 0.9 + 2 × 0.18 = 0.684. Total 3.91, with 4 GPU switches.
    for (const name of ['rigshift', 'greedy'] as const) {
      expect(d.report.strategies[name]).toEqual({
        revenueUsd: 3.91,
        switches: 4,
        jobs: { admitted: 1, refused: 1, preempted: 0, expired: 1 },
      });
    }
    // Mining only: 4 × 0.18 × 4 steps; "a" is still waiting when the trace ends (24 h of patience).
    expect(d.report.strategies.alwaysMine).toEqual({
      revenueUsd: 2.88,
      switches: 0,
      jobs: { admitted: 0, refused: 1, preempted: 0, expired: 1 },
    });
  });

  it('stops an interruptible job in a power spike and resumes it after', async () => {
    const d = await run([0.1, 0.1, 5, 0.1, 0.1], ['2024-01-01T00:30:00Z,a,,1,4,2,0.5,Interruptible,24']);
    // rigshift: mine 0.72; train 4 × 0.47 × 0.9 = 1.692; spike: the job (0.5 − 1.5 = −1.0) is stopped and the
    // node idles, 4 × −0.1 × 0.9 = −0.36; the job resumes for its last hour, 1.692; back to mining, 0.648.
    expect(d.report.strategies.rigshift).toEqual({
      revenueUsd: 4.39,
      switches: 16,
      jobs: { admitted: 1, refused: 0, preempted: 1, expired: 0 },
    });
    // greedy never stops a job: it runs through the spike at −1.0 per GPU-hour.
    expect(d.report.strategies.greedy.revenueUsd).toBe(-0.22);
  });

  it('drains a gang larger than the drain limit one wave per step, its drained node held idle', async () => {
    // Two 4-GPU nodes, one drain at a time; a 2 × 4 gang arrives in step 0. Step 0 mines, 8 × 0.18 = 1.44.
    // Step 1: it is admitted, one node drains and waits idle for it (4 × −0.002 × 0.9), the other mines
    // (0.72). Step 2: the other drains, the gang starts on both, 8 × 0.423 = 3.384. Step 3: 8 × 0.47 = 3.76.
    // Step 4: back to mining, 8 × 0.18 × 0.9 = 1.296. Total 10.5928. (Both drained in step 1, as when the
    // backtest ran twelve waves an hour, it would have earned 11.32.)
    const d = await run([0.1, 0.1, 0.1, 0.1, 0.1], ['2024-01-01T00:30:00Z,g,,2,4,2,0.5,OnDemand,24'], 2, 4);
    expect(d.report.strategies.rigshift).toEqual({
      revenueUsd: 10.59,
      switches: 20,
      jobs: { admitted: 1, refused: 0, preempted: 0, expired: 0 },
    });
  });

  it('never reports more than its LP bound, on random instances (seeded), and says what the bound is', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const r = rng(seed);
      const elec = Array.from({ length: 30 }, () => (r() < 0.1 ? 2 + r() * 3 : r() * 0.2).toFixed(4)).map(
        Number,
      );
      const jobs = Array.from({ length: 25 }, (_, i) => {
        const at = new Date(Date.UTC(2024, 0, 1) + r() * 25 * 3_600_000).toISOString();
        const tier = r() < 0.6 ? 'Interruptible' : 'OnDemand';
        return `${at},j${i},,${1 + Math.floor(r() * 2)},${[1, 2, 3, 4][Math.floor(r() * 4)]},${(0.5 + r() * 6).toFixed(2)},${(0.1 + r() * 0.6).toFixed(4)},${tier},${Math.floor(r() * 12)}`;
      });
      const strict = policy({
        ...POLICY_SPEC,
        allowIdle: seed % 2 === 0,
        maxConcurrentDrains: 1 + (seed % 3),
      });
      const d = await run(elec, jobs, 2, 4, strict);
      const bound = d.exact.bound;
      for (const [name, s] of Object.entries(d.report.strategies)) {
        if (name !== 'perfectForesight') expect(s.revenueUsd).toBeLessThanOrEqual(bound + 1e-6);
      }
      expect(d.exact.rigshift).toBeLessThanOrEqual(bound + 1e-6);
      expect(d.report.strategies.perfectForesight.bound).toMatch(/^LP relaxation solved exactly \(HiGHS\)/);
      expect(d.report.captureRatio).toBeGreaterThan(0);
      expect(d.report.captureRatio).toBeLessThanOrEqual(1);
    }
  });

  it('bounds a tiny instance by its optimum, worked out by hand', async () => {
    // One 4-GPU node, two steps at 0.1 USD/kWh: mining earns 0.18. "a" (OnDemand, 4 GPUs, 2 h, bid 0.5: nets
    // 0.47, 0.423 in its switched first step) and "b" (OnDemand, 4 GPUs, 1 h, bid 0.9: 0.87, 0.783 switched)
    // can start at step 1 only (half an hour of patience) and cannot both run. Mining throughout: 1.44; "a"
    // at step 1 (the trace ends there): 0.72 + 4 × 0.423 = 2.412; "b": 0.72 + 4 × 0.783 = 3.852, the optimum.
    const d = await run(
      [0.1, 0.1],
      ['2024-01-01T00:30:00Z,a,,1,4,2,0.5,OnDemand,0.5', '2024-01-01T00:30:00Z,b,,1,4,1,0.9,OnDemand,0.5'],
    );
    expect(d.exact.bound).toBeCloseTo(3.852, 9);
    expect(d.report.strategies.rigshift.revenueUsd).toBe(3.85);
    expect(d.report.strategies.greedy.revenueUsd).toBe(2.41);
  });

  it('credits no run after its patience to an interruptible job that could not start within it', async () => {
    // "a" (Interruptible, 3 h) may start at step 1 only (an hour of patience), when a power spike makes it
    // lose more than any free mode: it leaves unstarted. Its window for resumed runs reaches steps 2 to 4,
    // where it would pay, but a job runs there only after a first run within its patience.
    const elec = [0.1, 5, 0.1, 0.1, 0.1];
    const none = await run(elec, []);
    const late = await run(elec, ['2024-01-01T00:30:00Z,a,,1,4,3,0.5,Interruptible,1']);
    expect(late.exact.bound).toBeCloseTo(none.exact.bound, 9);
    // With two hours of patience it can start at step 2, and the bound counts its three paying hours.
    const patient = await run(elec, ['2024-01-01T00:30:00Z,a,,1,4,3,0.5,Interruptible,2']);
    expect(patient.exact.bound).toBeGreaterThan(none.exact.bound + 4 * 0.29 * 2);
    expect(patient.exact.rigshift).toBeLessThanOrEqual(patient.exact.bound + 1e-9);
  });

  it('counts a losing first step of an interruptible job when the runs it unlocks pay for it', async () => {
    // "a" (Interruptible, 5 h, an hour of patience) can start at step 1 only, when power at 2 USD/kWh makes
    // it lose (0.5 − 0.6 = −0.1 against idle's −0.04); at steps 2 to 5 it nets 0.47 against mining's 0.18.
    // Run by hand from step 1 to its end, it beats mining throughout: the bound must count that schedule.
    const elec = [0.1, 2, 0.1, 0.1, 0.1, 0.1];
    const job = '2024-01-01T00:30:00Z,a,,1,4,5,0.5,Interruptible,1';
    const none = await run(elec, []);
    const d = await run(elec, [job]);
    const shape = { nodesPerProduct: 1, gpusPerNode: 4 };
    const world = new World(
      buildMarket(parseTrace(market(elec)), pool(PROFILE, '0')),
      shape,
      parseJobTrace([HEADER, job].join('\n')),
      360,
    );
    const byHand = world.run({
      name: 'by hand',
      decide(w, view) {
        if (view.t === 1) w.start(0, new Map([[0, 4]]), view.nowMs);
        const c = w.comps[0] as Composition;
        c.mining = w.freeGpus(0);
        c.idle = 0;
      },
    });
    expect(byHand.revenue).toBeGreaterThan(none.exact.bound + 4);
    expect(byHand.revenue).toBeLessThanOrEqual(d.exact.bound + 1e-9);
  });

  it('reports what the bound would be if a stopped interruptible job left instead of resuming', async () => {
    // "a" (Interruptible, 3 h, two hours of patience) pays at steps 1, 4 and 5 only (power spikes at 2 and 3).
    // Resuming, it runs 1, pauses through the spike and runs 4 and 5; leaving when stopped, it gets 1 and 4 at
    // best (its window ends two steps after its last start).
    const elec = [0.1, 0.1, 5, 5, 0.1, 0.1];
    const d = await run(elec, ['2024-01-01T00:30:00Z,a,,1,4,3,0.5,Interruptible,2']);
    const none = await run(elec, []);
    const without = d.report.lp.withoutResumeUsd;
    expect(without).toBeGreaterThan(none.exact.bound + 4 * 0.29);
    expect(d.exact.bound).toBeCloseTo(without + 4 * 0.29, 2);
    expect(none.report.lp.withoutResumeUsd).toBeCloseTo(none.exact.bound, 2);
  });

  it('refuses a job trace made for another window, naming both', async () => {
    await expect(run([0.1, 0.1], ['2023-06-01T00:30:00Z,a,,1,4,2,0.5,OnDemand,24'])).rejects.toThrow(
      'job trace: 1 of 1 jobs are submitted outside the market trace (market 2024-01-01T00:00:00Z to ' +
        '2024-01-01T02:00:00Z; jobs 2023-06-01T00:30:00Z to 2023-06-01T00:30:00Z; e.g. a at 2023-06-01T00:30:00Z)',
    );
  });

  it('alwaysRent mines its free GPUs where the policy forbids idle', async () => {
    const noIdle = policy({ ...POLICY_SPEC, allowIdle: false });
    const d = await run([0.1, 0.1], [], 1, 4, noIdle);
    // No jobs: it mines like alwaysMine (it idled before, at −0.002 per GPU-hour, below the bound).
    expect(d.report.strategies.alwaysRent.revenueUsd).toBe(d.report.strategies.alwaysMine.revenueUsd);
    expect(d.report.strategies.alwaysRent.revenueUsd).toBe(1.44);
  });
});

describe('job trace parsing', () => {
  it('reads defaults and sorts by submission', () => {
    const jobs = parseJobTrace(
      'name,submit_time,gpu_product,replicas,gpus_per_replica,duration_hours,bid_usd_per_gpu_hour,tier\r\n' +
        'b,2024-01-01T02:00:00Z,,2,8,3,0.4,OnDemand\r\n' +
        `a,2024-01-01T01:00:00Z,${P3090},1,1,1.5,0.25,Interruptible\r\n`,
    );
    expect(jobs.map((j) => [j.name, j.patienceHours, j.product, j.replicas])).toEqual([
      ['a', 24, P3090, 1],
      ['b', 24, '', 2],
    ]);
  });

  it.each([
    [
      `${HEADER}\n2024-01-01T00:00:00Z,a,,1,1,1,0.4,Spot,24`,
      /line 2: tier 'Spot' must be OnDemand or Interruptible/,
    ],
    [
      `${HEADER}\n2024-01-01T00:00:00Z,a,,0,1,1,0.4,OnDemand,24`,
      /line 2: replicas must be a whole number of at least 1/,
    ],
    [
      `${HEADER}\n2024-01-01T00:00:00Z,a,,1,1,1,abc,OnDemand,24`,
      /line 2: bid_usd_per_gpu_hour 'abc' is not a number/,
    ],
    [
      `${HEADER}\nyesterday,a,,1,1,1,0.4,OnDemand,24`,
      /line 2: submit_time 'yesterday' is not an ISO 8601 UTC time/,
    ],
    [
      `${HEADER}\n2024-01-01T00:00:00Z,a,,1,1,1,0.4,OnDemand,24\n2024-01-01T00:00:00Z,a,,1,1,1,0.4,OnDemand,24`,
      /line 3: job name a appears twice/,
    ],
    [
      `${HEADER}\n2024-01-01T00:00:00Z,a,,1,1,0,0.4,OnDemand,24`,
      /line 2: duration_hours must be more than 0 \(job a\)/,
    ],
    ['name,tier\na,OnDemand', /missing columns submit_time, gpu_product/],
  ])('refuses a broken job trace %#', (text, message) => {
    expect(() => parseJobTrace(text)).toThrow(message);
  });
});
