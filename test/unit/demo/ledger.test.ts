import { describe, expect, it } from '@jest/globals';
import { Ledger, nodeStepUsd, type GpuUse, type NodeStep } from '../../../src/demo/ledger.js';
import { renderFrame } from '../../../src/demo/view.js';

const rates = { mining: 0.1, trainingPower: 0.05, idle: -0.01 };
const use = (mining: number, idle: number, jobs: [string, number, number][] = []): GpuUse => ({
  mining,
  idle,
  jobs: new Map(jobs.map(([k, gpus, bid]) => [k, { gpus, bidUsdPerGpuHour: bid }])),
});
const step = (u: GpuUse): NodeStep => ({ node: 'n1', gpus: 8, use: u, rates });

describe('demo ledger', () => {
  it('books the first step without a switching loss (every node starts mining)', () => {
    const r = nodeStepUsd(undefined, step(use(8, 0)), 1, 300);
    expect(r.mining).toBeCloseTo(0.8, 12);
    expect(r.moved).toBe(0);
  });

  it('takes the switching seconds off only the GPUs that changed assignment', () => {
    // 6 GPUs go from mining to a job bidding 0.4: they earn (0.4 - 0.05) for 3300 of 3600 s.
    const r = nodeStepUsd(use(8, 0), step(use(2, 0, [['ns/a', 6, 0.4]])), 1, 300);
    expect(r.moved).toBe(6);
    expect(r.mining).toBeCloseTo(2 * 0.1, 12);
    expect(r.training).toBeCloseTo(6 * 0.35 * (3300 / 3600), 12);
  });

  it('counts a GPU handed from one job to another as moved', () => {
    const r = nodeStepUsd(use(0, 0, [['ns/a', 8, 0.4]]), step(use(0, 0, [['ns/b', 8, 0.5]])), 2, 360);
    expect(r.moved).toBe(8);
    expect(r.training).toBeCloseTo(8 * 0.45 * 2 * (1 - 360 / 3600 / 2), 12);
  });

  it('sums nodes and steps, and keeps always-mine beside it', () => {
    const l = new Ledger(0);
    l.book([step(use(8, 0))], 1);
    l.book([step(use(0, 8))], 1);
    expect(l.revenueUsd).toBeCloseTo(0.8 - 0.08, 12);
    expect(l.alwaysMineUsd).toBeCloseTo(1.6, 12);
    expect(l.switches).toBe(1);
    expect(l.byMode.idle).toBeCloseTo(-0.08, 12);
  });
});

describe('demo view', () => {
  it('shows every node, the yields and the revenue against always-mine', () => {
    const text = renderFrame({
      marketTime: '2022-04-01T05:00:00Z',
      step: 5,
      steps: 10,
      nodes: [
        {
          name: 'gpu-rtx-3090-0',
          product: 'NVIDIA-GeForce-RTX-3090',
          mode: 'training',
          gpus: 8,
          miningGpus: 0,
          trainingGpus: 8,
          jobs: ['job-1'],
        },
        {
          name: 'gpu-rtx-4090-0',
          product: 'NVIDIA-GeForce-RTX-4090',
          mode: 'mining',
          gpus: 8,
          miningGpus: 8,
          trainingGpus: 0,
          jobs: [],
        },
      ],
      yields: { 'NVIDIA-GeForce-RTX-3090': 0.0421, 'NVIDIA-GeForce-RTX-4090': null },
      electricityUsdPerKwh: 0.2,
      jobs: { running: 1, queued: 2, done: 3, bidsRunning: [0.12] },
      revenueUsd: 10,
      alwaysMineUsd: 7.5,
    });
    expect(text).toContain('step 5/10 [###############---------------]');
    expect(text).toMatch(/gpu-rtx-3090-0\s+NVIDIA-GeForce-RTX-3090\s+training\s+8 \(0\/8\)\s+job-1/);
    expect(text).toContain('NVIDIA-GeForce-RTX-4090    unknown');
    expect(text).toContain('difference +$2.50');
  });
});
