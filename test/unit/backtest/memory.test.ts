import { describe, expect, it } from '@jest/globals';
import { runJobsBacktest } from '../../../src/backtest/jobs/run.js';
import { parseJobTrace, withBigMemoryJobs } from '../../../src/backtest/jobs/trace.js';
import { parseTrace } from '../../../src/backtest/trace.js';
import { P3090, P4090, policy, pool } from './fixtures.js';

// A mixed fleet: one 8-GPU node of each product. The 4090 stands for a big card that mines poorly (half the
// hashrate), so by yield alone it is drained first; the 3090 is given 12 GiB.
const PROFILES = {
  [P3090]: { hashrate: '100M', miningWatts: 200, trainingWatts: 300, idleWatts: 20 },
  [P4090]: { hashrate: '50M', miningWatts: 200, trainingWatts: 300, idleWatts: 20 },
};
const SPEC = { hysteresisPercent: 5, minDwellSeconds: 0, switchingSeconds: 360, maxConcurrentDrains: 2 };
const HEADER =
  'submit_time,name,gpu_product,replicas,gpus_per_replica,duration_hours,bid_usd_per_gpu_hour,tier,patience_hours,min_gpu_memory_mib';

function market(hours: number): string {
  const lines = ['time,gpu_product,rental_usd_per_gpu_hour,mining_usd_per_mhs_day,electricity_usd_per_kwh'];
  for (let k = 0; k < hours; k++) {
    const t = new Date(Date.UTC(2024, 0, 1, k)).toISOString();
    for (const p of [P3090, P4090]) lines.push(`${t},${p},0.3,0.048,0.1`);
  }
  return lines.join('\n');
}

const JOBS = [
  // Fits any card, bids more: placed first.
  '2024-01-01T00:10:00Z,small,,1,8,2,0.8,OnDemand,1,',
  // Needs a 24 GiB card.
  '2024-01-01T00:10:00Z,big,,1,8,2,0.7,OnDemand,1,24576',
];

function run(placement: 'yield' | 'smallestMemory') {
  return runJobsBacktest(
    parseTrace(market(4)),
    parseJobTrace([HEADER, ...JOBS].join('\n')),
    pool(PROFILES, '0'),
    { ...policy(SPEC), placement },
    { nodesPerProduct: 1, gpusPerNode: 8, gpuMemoryMiB: { [P3090]: 12288 } },
  );
}

describe('backtest: memory-aware placement on a mixed fleet', () => {
  it('the small job takes the small card and the big job runs; by yield alone the big job is stranded', async () => {
    const memory = await run('smallestMemory');
    const yieldOnly = await run('yield');
    expect(memory.report.strategies.rigshift.jobs).toMatchObject({ admitted: 2, expired: 0 });
    expect(yieldOnly.report.strategies.rigshift.jobs).toMatchObject({ admitted: 1, expired: 1 });
    expect(memory.report.strategies.rigshift.revenueUsd).toBeGreaterThan(
      yieldOnly.report.strategies.rigshift.revenueUsd,
    );
    // The simple strategies and the bound never put the big job on the 12 GiB card either: greedy admits the
    // small job first fit on the 3090 (name order), so both run.
    expect(memory.report.strategies.greedy.jobs.admitted).toBe(2);
    expect(memory.report.strategies.perfectForesight.revenueUsd).toBeGreaterThanOrEqual(
      memory.report.strategies.rigshift.revenueUsd,
    );
  });

  it('a job whose memory no card has is never admitted', async () => {
    const r = await runJobsBacktest(
      parseTrace(market(4)),
      parseJobTrace([HEADER, '2024-01-01T00:10:00Z,huge,,1,8,2,0.9,OnDemand,1,49152'].join('\n')),
      pool(PROFILES, '0'),
      policy(SPEC),
      { nodesPerProduct: 1, gpusPerNode: 8 },
    );
    for (const s of ['rigshift', 'greedy', 'threshold', 'alwaysRent'] as const)
      expect(r.report.strategies[s].jobs.admitted).toBe(0);
  });

  it('--big-memory-jobs picks the same jobs by name whatever the order, only among jobs naming no product', () => {
    const jobs = parseJobTrace(
      [
        HEADER,
        ...Array.from(
          { length: 200 },
          (_, i) => `2024-01-01T00:10:00Z,j${i},${i % 2 ? P3090 : ''},1,1,1,0.5,OnDemand,1,`,
        ),
      ].join('\n'),
    );
    const picked = withBigMemoryJobs(jobs, 30, 24576).filter((j) => j.minGpuMemoryMiB === 24576);
    const again = withBigMemoryJobs([...jobs].reverse(), 30, 24576).filter(
      (j) => j.minGpuMemoryMiB === 24576,
    );
    expect(picked.map((j) => j.name).sort()).toEqual(again.map((j) => j.name).sort());
    expect(picked.every((j) => j.product === '')).toBe(true);
    // About 30% of the 100 jobs naming no product.
    expect(picked.length).toBeGreaterThan(15);
    expect(picked.length).toBeLessThan(45);
  });
});
