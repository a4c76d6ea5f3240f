import { describe, expect, it } from '@jest/globals';
import { plan, type JobSnapshot, type NodeSnapshot, type Plan } from '../../../src/planner/index.js';
import { P3090, job, node, placed, policy, pool, product, snapshot } from './fixtures.js';

/** Memory-aware placement: the smallest card that fits first, so big cards stay for jobs that need them. */

const P3060 = 'NVIDIA-GeForce-RTX-3060';
const MI100 = 'AMD-Instinct-MI100';

function run(nodes: NodeSnapshot[], jobs: JobSnapshot[], placement?: 'yield' | 'smallestMemory'): Plan {
  return plan(
    snapshot({
      nodes,
      jobs,
      // The big card mines for less than the small one: by yield alone it would be drained first.
      pools: [pool('etc', product(P3090, 0.1), product(P3060, 0.15), product(MI100, 0.12))],
      policy: placement ? { ...policy, placement } : policy,
    }),
  );
}

const small = (name: string, over: Partial<NodeSnapshot> = {}) =>
  node(name, { product: P3060, gpuMemoryMiB: 12288, ...over });
const big = (name: string, over: Partial<NodeSnapshot> = {}) => node(name, { gpuMemoryMiB: 24576, ...over });

describe('planner: memory-aware placement', () => {
  it('a job that fits a small card takes it, leaving the big card for the job that needs it', () => {
    const p = run(
      [big('a'), small('b')],
      [
        job('ns/small', { bidUsdPerGpuHour: 0.6, minGpuMemoryMiB: 4096 }),
        job('ns/big', { bidUsdPerGpuHour: 0.5, minGpuMemoryMiB: 20480 }),
      ],
    );
    expect(placed(p, 'ns/small')).toEqual({ b: 8 });
    expect(placed(p, 'ns/big')).toEqual({ a: 8 });
  });

  it('placement yield (the old order) drains the lowest yield first and strands the big job', () => {
    const p = run(
      [big('a'), small('b')],
      [
        job('ns/small', { bidUsdPerGpuHour: 0.6, minGpuMemoryMiB: 4096 }),
        job('ns/big', { bidUsdPerGpuHour: 0.5, minGpuMemoryMiB: 20480 }),
      ],
      'yield',
    );
    expect(placed(p, 'ns/small')).toEqual({ a: 8 });
    expect(placed(p, 'ns/big')).toBeUndefined();
  });

  it('idle nodes: the smallest memory first, whatever the name order', () => {
    const idle = { mode: 'idle' as const, miningGpus: 0 };
    const p = run([big('a', idle), small('z', idle)], [job('ns/any')]);
    expect(placed(p, 'ns/any')).toEqual({ z: 8 });
  });

  it('the placement class still comes first: free GPUs of a training node before draining a smaller card', () => {
    const p = run(
      [big('a', { mode: 'training', miningGpus: 0 }), small('b')],
      [
        job('ns/running', { state: 'running', assigned: [{ node: 'a', gpus: 4 }], gpusPerReplica: 4 }),
        job('ns/half', { gpusPerReplica: 4 }),
      ],
    );
    expect(placed(p, 'ns/half')).toEqual({ a: 4 });
  });

  it('minimum compute capability and driver: only nodes publishing enough qualify', () => {
    const nodes = [
      big('ampere', { computeCapability: 806, driverMajor: 535 }),
      big('turing', { computeCapability: 705, driverMajor: 550 }),
      node('amd', { product: MI100, gpuMemoryMiB: 32768 }),
    ];
    const p = run(nodes, [
      job('ns/cc', { minComputeCapability: 800, bidUsdPerGpuHour: 0.7 }),
      job('ns/driver', { minDriverMajor: 545, bidUsdPerGpuHour: 0.6 }),
      job('ns/hopper', { minComputeCapability: 900 }),
    ]);
    expect(placed(p, 'ns/cc')).toEqual({ ampere: 8 });
    expect(placed(p, 'ns/driver')).toEqual({ turing: 8 });
    expect(p.refused.find((r) => r.job === 'ns/hopper')).toMatchObject({
      code: 'NoMatchingNodes',
      reason: 'no node offers what it asks: needs 1 × 8 GPUs (8 in all) of compute capability ≥ 9.0',
    });
  });
});
