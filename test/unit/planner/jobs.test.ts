import { describe, expect, it } from '@jest/globals';
import {
  plan,
  type JobSnapshot,
  type NodeSnapshot,
  type Plan,
  type PoolSnapshot,
} from '../../../src/planner/index.js';
import {
  HOUR,
  NOW,
  P3090,
  P4090,
  job,
  modes,
  node,
  placed,
  policy,
  pool,
  product,
  running,
  snapshot,
} from './fixtures.js';

// Default economics: 3090 mining yields 0.20, 4090 0.10; at 0.1 USD/kWh training costs 0.035 per GPU-hour.

function run(
  nodes: NodeSnapshot[],
  jobs: JobSnapshot[],
  extra: { pools?: PoolSnapshot[]; limit?: number } = {},
): Plan {
  return plan(
    snapshot({
      nodes,
      jobs,
      ...(extra.pools ? { pools: extra.pools } : {}),
      policy: { ...policy, maxConcurrentDrains: extra.limit ?? 10 },
    }),
  );
}

const idle = (name: string, over: Partial<NodeSnapshot> = {}) =>
  node(name, { mode: 'idle', miningGpus: 0, ...over });
const training = (name: string, over: Partial<NodeSnapshot> = {}) =>
  node(name, { mode: 'training', miningGpus: 0, ...over });
const wait = (p: Plan, key: string) => [...p.queued, ...p.refused].find((w) => w.job === key);

describe('planner: gangs are all or nothing', () => {
  it('places a gang across nodes and drains them', () => {
    const p = run([node('a'), node('b')], [job('ns/gang', { replicas: 2 })]);
    expect(placed(p, 'ns/gang')).toEqual({ a: 8, b: 8 });
    expect(p.drains.map((d) => d.node)).toEqual(['a', 'b']);
    expect(modes(p)).toEqual({ a: 'training', b: 'training' });
  });

  it('places nothing and drains nothing when one replica cannot be placed', () => {
    const p = run(
      [node('a'), node('b'), node('c', { unschedulable: true })],
      [job('ns/gang', { replicas: 3 })],
    );
    expect(p.placements).toEqual([]);
    expect(p.drains).toEqual([]);
    expect(modes(p)).toEqual({ a: 'mining', b: 'mining', c: 'mining' });
    expect(wait(p, 'ns/gang')).toMatchObject({ code: 'NoCapacity' });
    expect(wait(p, 'ns/gang')?.reason).toMatch(
      /needs 3 × 8 GPUs \(24 in all\): 2 replica slots free now \(1 node held\)/,
    );
  });

  it('refuses a gang larger than every matching node together', () => {
    const p = run([node('a'), node('b')], [job('ns/huge', { replicas: 3 })]);
    expect(p.refused).toEqual([
      {
        job: 'ns/huge',
        code: 'TooLarge',
        reason: 'needs 3 × 8 GPUs (24 in all): the matching nodes can hold at most 2 replicas',
      },
    ]);
  });
});

describe('planner: a job’s nodeSelector', () => {
  const zone = (z: string) => ({
    labels: { 'topology.kubernetes.io/zone': z, 'kubernetes.io/hostname': 'x' },
  });
  const nodes = () => [node('a', zone('dc-2')), node('b', zone('dc-1')), node('c', zone('dc-2'))];

  it('places the gang only on nodes carrying its labels, even where others yield less', () => {
    const p = run(nodes(), [
      job('ns/any', { replicas: 1 }),
      job('ns/dc2', {
        replicas: 2,
        bidUsdPerGpuHour: 0.6,
        nodeSelector: { 'topology.kubernetes.io/zone': 'dc-2' },
      }),
    ]);
    expect(placed(p, 'ns/dc2')).toEqual({ a: 8, c: 8 });
    expect(placed(p, 'ns/any')).toEqual({ b: 8 });
  });

  it('waits, saying what it asks, when no node carries them; jobs without one are placed as before', () => {
    const p = run(nodes(), [
      job('ns/dc3', { nodeSelector: { 'topology.kubernetes.io/zone': 'dc-3' } }),
      job('ns/plain', { replicas: 3 }),
    ]);
    expect(p.placements.map((x) => x.job)).toEqual(['ns/plain']);
    expect(wait(p, 'ns/dc3')).toMatchObject({ code: 'NoMatchingNodes' });
    expect(wait(p, 'ns/dc3')?.reason).toMatch(/on nodes labelled topology\.kubernetes\.io\/zone=dc-3/);
  });

  it('a gang larger than its matching nodes is too large, though the farm has room', () => {
    const p = run(nodes(), [
      job('ns/dc1', { replicas: 2, nodeSelector: { 'topology.kubernetes.io/zone': 'dc-1' } }),
    ]);
    expect(wait(p, 'ns/dc1')).toMatchObject({ code: 'TooLarge' });
    expect(p.drains).toEqual([]);
  });
});

describe('planner: where a job goes', () => {
  it('prefers training nodes, then idle nodes, then the lowest-yield mining nodes', () => {
    const nodes = [
      node('m-dear', { pool: 'dear' }),
      node('m-cheap', { pool: 'cheap' }),
      idle('i1'),
      training('t1'),
    ];
    const pools = [
      pool('cheap', product(P3090, 0.1)),
      pool('dear', product(P3090, 0.3)),
      pool('etc', product(P3090, 0.2)),
    ];
    const jobs = [
      running('ns/x', [['t1', 4]], { tier: 'OnDemand' }),
      job('ns/j1', { gpusPerReplica: 4, bidUsdPerGpuHour: 0.9 }),
      job('ns/j2', { bidUsdPerGpuHour: 0.8 }),
      job('ns/j3', { bidUsdPerGpuHour: 0.7 }),
    ];
    const p = run(nodes, jobs, { pools });
    expect(placed(p, 'ns/j1')).toEqual({ t1: 4 });
    expect(placed(p, 'ns/j2')).toEqual({ i1: 8 });
    expect(placed(p, 'ns/j3')).toEqual({ 'm-cheap': 8 });
    expect(modes(p)['m-dear']).toBe('mining');
    expect(p.drains.map((d) => d.node)).toEqual(['m-cheap']);
  });

  it('prefers the lower-yield product when the job takes any', () => {
    const p = run([node('a3090'), node('b4090', { product: P4090 })], [job('ns/any')]);
    expect(placed(p, 'ns/any')).toEqual({ b4090: 8 });
  });

  it.each<[string, number, number, Record<string, number>]>([
    ['one node for two replicas that fit on it', 2, 4, { a: 8 }],
    ['the smallest node that fits (best fit, then name)', 1, 4, { b: 4 }],
    ['the largest node first when none fits all', 3, 4, { a: 8, b: 4 }],
  ])('puts a job on as few nodes as possible: %s', (_n, replicas, gpusPerReplica, where) => {
    const nodes = [idle('a'), idle('c', { reservedGpus: 4 }), idle('b', { reservedGpus: 4 })];
    expect(placed(run(nodes, [job('ns/j', { replicas, gpusPerReplica })]), 'ns/j')).toEqual(where);
  });

  it('leftover GPUs of a drained node keep mining', () => {
    const p = run([node('a')], [job('ns/half', { gpusPerReplica: 4 })]);
    expect(p.nodes[0]).toMatchObject({
      mode: 'training',
      jobs: [{ job: 'ns/half', gpus: 4 }],
      miningGpus: 4,
      idleGpus: 0,
      drain: true,
    });
    expect(p.nodes[0]?.reason).toBe(
      'training: ns/half (4 GPUs); 4 leftover GPUs mining (yield 0.20 USD/GPU-h)',
    );
  });

  it('leftover GPUs idle when mining loses more than idling', () => {
    const p = run([node('a')], [job('ns/half', { gpusPerReplica: 4 })], {
      pools: [pool('etc', product(P3090, -0.1))],
    });
    expect(p.nodes[0]).toMatchObject({ mode: 'training', miningGpus: 0, idleGpus: 4 });
  });

  it('respects accepted products and GPU memory', () => {
    const p = run(
      [node('a'), node('b', { product: P4090, gpuMemoryMiB: 24564 })],
      [
        job('ns/only4090', { products: [P4090] }),
        job('ns/big-memory', { minGpuMemoryMiB: 24570, bidUsdPerGpuHour: 0.4 }),
        job('ns/h100', { products: ['NVIDIA-H100'] }),
      ],
    );
    expect(placed(p, 'ns/only4090')).toEqual({ b: 8 });
    expect(placed(p, 'ns/big-memory')).toEqual({ a: 8 });
    expect(wait(p, 'ns/h100')).toMatchObject({ code: 'NoMatchingNodes' });
    expect(p.refused.map((r) => r.job)).toEqual(['ns/h100']);
  });
});

describe('planner: prices and bids', () => {
  it('higher bids go first', () => {
    const p = run(
      [node('a')],
      [job('ns/low', { bidUsdPerGpuHour: 0.4 }), job('ns/high', { bidUsdPerGpuHour: 0.6 })],
    );
    expect(placed(p, 'ns/high')).toEqual({ a: 8 });
    expect(wait(p, 'ns/low')).toMatchObject({ code: 'NoCapacity' });
  });

  it('equal bids go by name', () => {
    const p = run([node('a')], [job('ns/b'), job('ns/a')]);
    expect(placed(p, 'ns/a')).toEqual({ a: 8 });
    expect(placed(p, 'ns/b')).toBeUndefined();
  });

  it('mining gives way to a rental that beats its yield, not to one that does not', () => {
    // 0.25 − 0.035 = 0.215 beats 0.20 by 7.5%: under the 10% hysteresis. 0.3 − 0.035 = 0.265 clears it.
    const low = run([node('a')], [job('ns/j', { bidUsdPerGpuHour: 0.25 })]);
    expect(low.placements).toEqual([]);
    expect(wait(low, 'ns/j')).toEqual({
      job: 'ns/j',
      code: 'BidBelowYield',
      reason:
        'needs 1 × 8 GPUs (8 in all): bid 0.25 net of power 0.215 USD/GPU-h does not beat mining yield 0.20 by the 10% hysteresis, net of 5 min switching',
    });
    const high = run([node('a')], [job('ns/j', { bidUsdPerGpuHour: 0.3 })]);
    expect(placed(high, 'ns/j')).toEqual({ a: 8 });
    expect(high.placements[0]?.reason).toBe(
      'placed on a (8 GPUs): bid 0.30 net of power 0.265 USD/GPU-h beats mining yield 0.20 by more than the 10% hysteresis; draining a',
    );
  });

  it('refuses bids under the floor', () => {
    const p = run([idle('a')], [job('ns/cheap', { bidUsdPerGpuHour: 0.04 })]);
    expect(p.refused).toEqual([
      { job: 'ns/cheap', code: 'BelowFloor', reason: 'bid 0.04 USD/GPU-h is below the floor 0.05' },
    ]);
  });
});

describe('planner: preemption', () => {
  const victim = (over: Partial<JobSnapshot> = {}) =>
    running('ns/low', [['a', 8]], {
      bidUsdPerGpuHour: 0.3,
      minRuntimeSeconds: 3600,
      runtimeSeconds: 7200,
      ...over,
    });

  it.each<[string, Partial<JobSnapshot>, number, boolean]>([
    ['an interruptible job past its minimum runtime yields to a better bid', {}, 0.6, true],
    ['not before its minimum runtime', { runtimeSeconds: 1800 }, 0.6, false],
    ['never an on-demand job', { tier: 'OnDemand' }, 5, false],
    ['not for a bid within the hysteresis', {}, 0.31, false],
  ])('%s', (_name, over, bid, preempted) => {
    const p = run([training('a')], [victim(over), job('ns/high', { bidUsdPerGpuHour: bid })]);
    if (preempted) {
      expect(p.preemptions).toEqual([
        {
          job: 'ns/low',
          by: 'ns/high',
          reason:
            'preempted for ns/high, which bids 0.60 against its 0.30 USD/GPU-h; interruptible and past its minimum runtime (2 h of 1 h)',
        },
      ]);
      expect(placed(p, 'ns/high')).toEqual({ a: 8 });
      expect(placed(p, 'ns/low')).toBeUndefined();
    } else {
      expect(p.preemptions).toEqual([]);
      expect(placed(p, 'ns/low')).toEqual({ a: 8 });
      expect(wait(p, 'ns/high')).toBeDefined();
    }
  });

  it('preempts only the victims it needs, lowest bid first', () => {
    const p = run(
      [training('a'), training('b'), training('c', { reservedGpus: 4 })],
      [
        running('ns/v1', [['a', 8]], { bidUsdPerGpuHour: 0.3 }),
        running('ns/v2', [['b', 8]], { bidUsdPerGpuHour: 0.4 }),
        running('ns/v3', [['c', 4]], { bidUsdPerGpuHour: 0.28 }),
        job('ns/high', { bidUsdPerGpuHour: 0.9 }),
      ],
    );
    // v3 has the lowest bid but frees only 4 GPUs on c, which cannot hold an 8-GPU replica: it is given back.
    expect(p.preemptions.map((x) => x.job)).toEqual(['ns/v1']);
    expect(placed(p, 'ns/high')).toEqual({ a: 8 });
  });

  it('takes back interruptible GPUs whose bid no longer beats mining', () => {
    const p = run(
      [training('a'), training('b')],
      [
        running('ns/cheap', [['a', 8]], { bidUsdPerGpuHour: 0.1 }),
        running('ns/cheap-ondemand', [['b', 8]], { bidUsdPerGpuHour: 0.1, tier: 'OnDemand' }),
      ],
    );
    expect(p.preemptions).toEqual([
      {
        job: 'ns/cheap',
        reason:
          'bid 0.10 net of power 0.065 USD/GPU-h is below mining yield 0.20; interruptible and past its minimum runtime (2 h of 0 min)',
      },
    ]);
    expect(modes(p)).toEqual({ a: 'mining', b: 'training' });
    expect(p.nodes[0]?.reason).toMatch(/^mining: its job was preempted/);
  });

  it('takes back an interruptible job losing money in a power spike, to idle', () => {
    const pools = [pool('etc', product(P3090, -0.5, 3))];
    const p = run([training('a')], [running('ns/j', [['a', 8]], { bidUsdPerGpuHour: 0.3 })], { pools });
    expect(p.preemptions[0]?.reason).toMatch(/is below idle \(electricity 3.00 USD\/kWh\) -0.075/);
    expect(modes(p)).toEqual({ a: 'idle' });
  });
});

describe('planner: limits and holds', () => {
  it('never drains more nodes than allowed for jobs either: the next job is admitted and its drain waits', () => {
    const p = run(
      [node('a'), node('b')],
      [job('ns/j1', { bidUsdPerGpuHour: 0.9 }), job('ns/j2', { bidUsdPerGpuHour: 0.8 })],
      { limit: 1 },
    );
    expect(placed(p, 'ns/j1')).toEqual({ a: 8 });
    expect(placed(p, 'ns/j2')).toEqual({ b: 8 });
    expect(p.drains.map((d) => d.node)).toEqual(['a']);
    expect(modes(p)).toEqual({ a: 'training', b: 'mining' });
    expect(p.nodes[1]?.reason).toMatch(/^mining until a drain slot frees .*reserved for ns\/j2/);
  });

  it('drains a gang larger than the drain limit in waves, holding the drained nodes for it', () => {
    const gang = job('ns/gang', { replicas: 3, bidUsdPerGpuHour: 2 });
    // Round 1: admitted on three mining nodes, one drain at once.
    const p1 = run([node('a'), node('b'), node('c')], [gang], { limit: 1 });
    expect(placed(p1, 'ns/gang')).toEqual({ a: 8, b: 8, c: 8 });
    expect(p1.drains.map((d) => d.node)).toEqual(['a']);
    expect(modes(p1)).toEqual({ a: 'training', b: 'mining', c: 'mining' });
    expect(p1.placements[0]?.reason).toMatch(/draining a; b, c wait for a drain slot \(1 drain at once\)/);
    const admitted = {
      ...gang,
      state: 'admitted' as const,
      assigned: ['a', 'b', 'c'].map((n) => ({ node: n, gpus: 8 })),
    };
    // Round 2: a still drains: no slot, b and c mine on, reserved.
    const p2 = run(
      [node('a', { mode: 'draining', drainingTo: 'training' }), node('b'), node('c')],
      [admitted],
      { limit: 1 },
    );
    expect(p2.drains).toEqual([]);
    expect(modes(p2)).toEqual({ a: 'training', b: 'mining', c: 'mining' });
    expect(p2.nodes.find((n) => n.node === 'b')?.miningGpus).toBe(8);
    // Round 3: a trains (held idle for the gang): the slot goes to b, the next wave.
    const p3 = run([training('a'), node('b'), node('c')], [admitted], { limit: 1 });
    expect(p3.drains.map((d) => d.node)).toEqual(['b']);
    expect(p3.drains[0]?.reason).toMatch(/next wave of ns\/gang/);
    expect(modes(p3)).toEqual({ a: 'training', b: 'training', c: 'mining' });
    expect(p3.nodes.find((n) => n.node === 'a')?.miningGpus).toBe(0);
    // The slot goes to the admitted gang before any new job or price-driven drain.
    const other = job('ns/late', { bidUsdPerGpuHour: 9 });
    const p4 = run([training('a'), node('b'), node('c'), node('d')], [admitted, other], { limit: 1 });
    expect(p4.drains.map((d) => d.node)).toEqual(['b']);
    expect(placed(p4, 'ns/late')).toEqual({ d: 8 });
    expect(modes(p4)).toMatchObject({ d: 'mining' });
  });

  it('does not place a job again before its start backoff ends', () => {
    const backoff = job('ns/j', { notBeforeMs: NOW + 60_000, notBeforeReason: 'start failed once' });
    const p = run([idle('a')], [backoff]);
    expect(wait(p, 'ns/j')).toMatchObject({ code: 'StartBackoff' });
    expect(wait(p, 'ns/j')?.reason).toMatch(
      /start failed once; not placed again before 2024-01-01T12:01:00Z/,
    );
    expect(placed(run([idle('a')], [{ ...backoff, notBeforeMs: NOW - 1 }]), 'ns/j')).toEqual({ a: 8 });
  });

  it('an idle node takes a job without a drain slot', () => {
    const p = run([idle('a')], [job('ns/j')], { limit: 0 });
    expect(placed(p, 'ns/j')).toEqual({ a: 8 });
    expect(p.drains).toEqual([]);
  });

  it('waits for the minimum dwell of a node that just switched', () => {
    const p = run([node('a', { modeSinceMs: NOW - 10 * 60_000 })], [job('ns/j')]);
    expect(wait(p, 'ns/j')).toMatchObject({ code: 'Dwell' });
  });

  it('holds nodes and queues jobs while the yield is unknown', () => {
    const p = run([node('a'), idle('b')], [job('ns/j', { replicas: 2 })], {
      pools: [pool('etc', product(P3090, null))],
    });
    expect(wait(p, 'ns/j')).toMatchObject({ code: 'YieldUnknown' });
    expect(modes(p)).toEqual({ a: 'mining', b: 'idle' });
  });

  it('places a job again when its node is gone', () => {
    const p = run([node('a')], [running('ns/j', [['gone', 8]])]);
    expect(placed(p, 'ns/j')).toEqual({ a: 8 });
    expect(p.placements[0]?.reason).toMatch(/^node gone is gone; placed on a/);
  });

  it('keeps running jobs where they are', () => {
    const p = run([training('a')], [running('ns/j', [['a', 8]], { tier: 'OnDemand' })]);
    expect(p.placements).toEqual([
      { job: 'ns/j', nodes: [{ node: 'a', gpus: 8 }], isNew: false, reason: 'running on a (8 GPUs)' },
    ]);
    expect(p.nodes[0]).toMatchObject({ mode: 'training', changed: false, drain: false });
  });

  it('is deterministic whatever the order of nodes and jobs', () => {
    const nodes = [node('c'), idle('a'), node('b', { product: P4090 }), training('d')];
    const jobs = [
      job('ns/z', { gpusPerReplica: 2 }),
      job('ns/y', { replicas: 2, gpusPerReplica: 4 }),
      running('ns/r', [['d', 8]], { bidUsdPerGpuHour: 0.3 }),
      job('ns/x', { bidUsdPerGpuHour: 0.7 }),
    ];
    const a = run(nodes, jobs);
    const b = run([...nodes].reverse(), [...jobs].reverse());
    expect(b).toEqual(a);
    expect(a.placements.length).toBeGreaterThan(1);
  });

  it('dwell is measured on the node clock', () => {
    const p = run([node('a', { modeSinceMs: NOW - HOUR })], [job('ns/j')]);
    expect(placed(p, 'ns/j')).toEqual({ a: 8 });
  });
});

describe('planner: many queued jobs', () => {
  it('a gang that found no room does not stop smaller ones behind it, nor preemptions', () => {
    const p = run(
      [training('a'), training('b'), node('c', { unschedulable: true })],
      [
        running('ns/va', [['a', 8]], { bidUsdPerGpuHour: 0.3 }),
        running('ns/vb', [['b', 8]], { bidUsdPerGpuHour: 0.35 }),
        job('ns/big', { replicas: 3, bidUsdPerGpuHour: 0.9 }),
        job('ns/j1', { bidUsdPerGpuHour: 0.8 }),
        job('ns/j2', { bidUsdPerGpuHour: 0.7 }),
        job('ns/j3', { bidUsdPerGpuHour: 0.6 }),
      ],
    );
    // big could fit one day (c is only cordoned) but not now, even preempting both.
    expect(wait(p, 'ns/big')).toMatchObject({ code: 'NoCapacity' });
    expect(placed(p, 'ns/j1')).toEqual({ a: 8 });
    expect(placed(p, 'ns/j2')).toEqual({ b: 8 });
    expect(p.preemptions.map((x) => [x.job, x.by])).toEqual([
      ['ns/va', 'ns/j1'],
      ['ns/vb', 'ns/j2'],
    ]);
    expect(wait(p, 'ns/j3')).toMatchObject({ code: 'NoCapacity' });
  });

  it('same-shaped gangs behind a failed one wait with the same reason', () => {
    const p = run(
      [node('a')],
      [
        job('ns/g1', { replicas: 2, gpusPerReplica: 4, bidUsdPerGpuHour: 0.2 }),
        job('ns/g2', { replicas: 2, gpusPerReplica: 4, bidUsdPerGpuHour: 0.21 }),
      ],
    );
    expect(p.queued.map((q) => q.code)).toEqual(['BidBelowYield', 'BidBelowYield']);
  });
});
