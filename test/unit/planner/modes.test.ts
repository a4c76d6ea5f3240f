import { describe, expect, it } from '@jest/globals';
import { plan, type NodeSnapshot, type PlannerPolicy } from '../../../src/planner/index.js';
import { HOUR, NOW, P3090, job, modes, node, policy, pool, product, running, snapshot } from './fixtures.js';

/** One 8-GPU RTX 3090 node against a standing rental market. e = 0.1: training costs 0.035, idle 0.0025. */
function one(
  n: Partial<NodeSnapshot>,
  mining: number | null,
  market: number | undefined,
  pol: Partial<PlannerPolicy> = {},
  electricity = 0.1,
) {
  return plan(
    snapshot({
      nodes: [node('n1', n)],
      pools: [pool('etc', product(P3090, mining, electricity))],
      rentalMarket: market === undefined ? undefined : { [P3090]: market },
      policy: { ...policy, ...pol },
    }),
  );
}

describe('planner: a node picks mining, training or idle', () => {
  it.each<
    [
      string,
      Partial<NodeSnapshot>,
      number | null,
      number | undefined,
      Partial<PlannerPolicy>,
      number,
      string,
      boolean,
    ]
  >([
    // name, node, mining yield, market price, policy, electricity, expected mode, drain started
    ['stays mining when mining pays most', {}, 0.2, 0.15, {}, 0.1, 'mining', false],
    [
      'rents when the market beats mining by more than the hysteresis',
      {},
      0.2,
      0.3,
      {},
      0.1,
      'training(market)',
      true,
    ],
    ['stays mining for a gain under the hysteresis', {}, 0.2, 0.25, {}, 0.1, 'mining', false],
    [
      'switches for the same gain with a smaller hysteresis',
      {},
      0.2,
      0.25,
      { hysteresisPercent: 5 },
      0.1,
      'training(market)',
      true,
    ],
    // market net 0.27 − 0.035 = 0.235 ≥ 1.1 × 0.2, but over a one-hour payback the 300 s switch leaves
    // 0.235 × 11/12 = 0.215 < 0.22: the switching seconds count as lost revenue.
    [
      'counts the switching seconds as lost revenue',
      {},
      0.2,
      0.27,
      { paybackSeconds: 3600 },
      0.1,
      'mining',
      false,
    ],
    [
      'same prices, a free switch: rents',
      {},
      0.2,
      0.27,
      { paybackSeconds: 3600, switchingSeconds: 0 },
      0.1,
      'training(market)',
      true,
    ],
    [
      'goes back to mining from the market',
      { mode: 'training', miningGpus: 0 },
      0.3,
      0.2,
      {},
      0.1,
      'mining',
      false,
    ],
    [
      'stays on the market while it pays',
      { mode: 'training', miningGpus: 0 },
      0.2,
      0.3,
      {},
      0.1,
      'training(market)',
      false,
    ],
    // Power at 2 USD/kWh: mining −0.3, market 0.26 − 0.7 = −0.44, idle −0.05: idle loses least.
    ['idles when every option loses money', {}, -0.3, 0.26, {}, 2, 'idle', true],
    ['never idles when the policy forbids it', {}, -0.3, 0.26, { allowIdle: false }, 2, 'mining', false],
    [
      'leaves idle when idle is not allowed, dwell or not',
      { mode: 'idle', miningGpus: 0, modeSinceMs: NOW },
      -0.3,
      0.26,
      { allowIdle: false },
      2,
      'mining',
      false,
    ],
    [
      'mines again from idle once power is cheap',
      { mode: 'idle', miningGpus: 0 },
      0.2,
      undefined,
      {},
      0.1,
      'mining',
      false,
    ],
    [
      'stays idle while mining still loses',
      { mode: 'idle', miningGpus: 0 },
      -0.1,
      undefined,
      {},
      0.1,
      'idle',
      false,
    ],
    [
      'holds mining within the minimum dwell',
      { modeSinceMs: NOW - 0.5 * HOUR },
      0.2,
      0.5,
      {},
      0.1,
      'mining',
      false,
    ],
    [
      'switches once the dwell is over',
      { modeSinceMs: NOW - HOUR },
      0.2,
      0.5,
      {},
      0.1,
      'training(market)',
      true,
    ],
    ['holds every node when the yield is unknown', {}, null, 0.9, {}, 0.1, 'mining', false],
    [
      'holds an idle node when the yield is unknown',
      { mode: 'idle', miningGpus: 0 },
      null,
      0.9,
      {},
      0.1,
      'idle',
      false,
    ],
    // 0.04 − 0.035 = 0.005 would beat 0.001, but 0.04 is under the 0.05 floor.
    ['ignores a market below the floor', {}, 0.001, 0.04, {}, 0.1, 'mining', false],
    ['leaves a cordoned node alone', { unschedulable: true }, 0.2, 0.9, {}, 0.1, 'mining', false],
    [
      'an empty training node (job gone, no market) goes back to mining now',
      { mode: 'training', miningGpus: 0, modeSinceMs: NOW },
      0.2,
      undefined,
      {},
      0.1,
      'mining',
      false,
    ],
  ])('%s', (_name, n, mining, market, pol, e, mode, drain) => {
    const p = one(n, mining, market, pol, e);
    expect(modes(p)).toEqual({ n1: mode });
    expect(p.drains.map((d) => d.node)).toEqual(drain ? ['n1'] : []);
    expect(p.nodes[0]?.drain).toBe(drain);
  });

  it('explains decisions in words and figures', () => {
    expect(one({}, 0.2, 0.3).nodes[0]?.reason).toBe(
      'training: rental 0.30 net of power 0.265 USD/GPU-h beats mining yield 0.20 by more than the 10% hysteresis net of 5 min switching',
    );
    expect(one({}, 0.2, 0.25).nodes[0]?.reason).toBe(
      'mining: mining yield 0.20 USD/GPU-h; rental 0.25 net of power 0.215 not enough to beat the 10% hysteresis net of 5 min switching',
    );
    expect(one({ modeSinceMs: NOW - 20 * 60_000 }, 0.2, 0.5).nodes[0]?.reason).toMatch(
      /^holding mining for the minimum dwell of 1 h \(40 min left\); rental 0.50 net of power 0.465 would pay more/,
    );
    expect(one({}, null, 0.9).nodes[0]?.reason).toMatch(
      /mining yield unknown \(pool etc\): no switch until it is known/,
    );
    expect(one({}, -0.3, 0.26, {}, 2).nodes[0]?.reason).toMatch(
      /^idle: idle -0.05 USD\/GPU-h beats mining yield -0.30 .*electricity 2.00 USD\/kWh/,
    );
  });

  it('marks what changed', () => {
    expect(one({}, 0.2, 0.3).nodes[0]).toMatchObject({
      changed: true,
      miningGpus: 0,
      idleGpus: 0,
      market: true,
    });
    expect(one({}, 0.2, 0.1).nodes[0]).toMatchObject({ changed: false, miningGpus: 8, idleGpus: 0 });
    expect(one({ mode: 'idle', miningGpus: 0 }, 0.2, undefined).nodes[0]).toMatchObject({
      changed: true,
      drain: false,
      miningGpus: 8,
    });
  });

  it('a negative electricity price: idle earns (25 W paid for), and is weighed like any other rate', () => {
    // e = −0.2: idle +0.005 USD/GPU-h; a mining yield of 0.001 (already net of the power it is paid for) loses.
    const p = one({}, 0.001, undefined, { hysteresisPercent: 0, switchingSeconds: 0 }, -0.2);
    expect(modes(p)).toEqual({ n1: 'idle' });
    expect(p.nodes[0]?.reason).toMatch(
      /^idle: idle 0.005 USD\/GPU-h beats mining yield 0.001 .*electricity -0.20 USD\/kWh/,
    );
    expect(modes(one({ mode: 'idle', miningGpus: 0 }, 0.2, undefined, {}, -0.2))).toEqual({ n1: 'mining' });
  });

  it('reserved GPUs are left out of every count', () => {
    const p = one({ reservedGpus: 2 }, 0.2, undefined);
    expect(p.nodes[0]).toMatchObject({ mode: 'mining', miningGpus: 6, idleGpus: 0 });
  });
});

describe('planner: drains', () => {
  const spike = (names: string[], extra: NodeSnapshot[] = [], limit: number | string = 2) =>
    plan(
      snapshot({
        nodes: [...names.map((n) => node(n)), ...extra],
        pools: [pool('etc', product(P3090, -0.3, 2))],
        policy: { ...policy, maxConcurrentDrains: limit },
      }),
    );

  it('never starts more drains than allowed, ties by name', () => {
    const p = spike(['d', 'b', 'a', 'e', 'c']);
    expect(p.drains.map((d) => d.node)).toEqual(['a', 'b']);
    expect(p.drainLimit).toBe(2);
    expect(modes(p)).toEqual({ a: 'idle', b: 'idle', c: 'mining', d: 'mining', e: 'mining' });
    expect(p.nodes.find((n) => n.node === 'c')?.reason).toMatch(
      /waiting for a drain slot \(2 at once, all in use\)/,
    );
  });

  it('counts drains already in progress', () => {
    const p = spike(['a', 'b', 'c'], [node('z', { mode: 'draining', drainingTo: 'idle', miningGpus: 4 })]);
    expect(p.drainsInProgress).toBe(1);
    expect(p.drains.map((d) => d.node)).toEqual(['a']);
    expect(p.nodes.find((n) => n.node === 'z')).toMatchObject({
      mode: 'idle',
      drain: false,
      reason: 'drain to idle in progress',
    });
  });

  it.each<[number | string, number, number]>([
    [3, 10, 3],
    ['25%', 10, 2],
    ['25%', 2, 1],
    ['100%', 4, 4],
    [0, 4, 0],
  ])('limit %s over %i nodes allows %i', (limit, count, allowed) => {
    const names = Array.from({ length: count }, (_, i) => `n${String(i).padStart(2, '0')}`);
    expect(spike(names, [], limit).drains).toHaveLength(allowed);
  });

  it('gives scarce drain slots to the largest gains first', () => {
    const p = plan(
      snapshot({
        nodes: [node('a', { pool: 'cheap' }), node('b', { pool: 'dear' }), node('c', { pool: 'dear' })],
        pools: [pool('cheap', product(P3090, -0.1, 2)), pool('dear', product(P3090, -0.5, 2))],
        policy: { ...policy, maxConcurrentDrains: 2 },
      }),
    );
    expect(p.drains.map((d) => d.node)).toEqual(['b', 'c']);
  });
});

describe('planner: determinism', () => {
  it('gives the same plan whatever the input order', () => {
    const nodes = ['e', 'a', 'd', 'b', 'c'].map((n, i) => node(n, { modeSinceMs: NOW - i * HOUR }));
    const base = snapshot({
      nodes,
      pools: [pool('etc', product(P3090, -0.3, 2))],
      policy: { ...policy, maxConcurrentDrains: 2 },
    });
    const a = plan(base);
    const b = plan({ ...base, nodes: [...nodes].reverse() });
    expect(b).toEqual(a);
    expect(a.nodes.map((n) => n.node)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});

describe('planner: a yield unknown stops switching, not mining', () => {
  const unknown = (nodes: NodeSnapshot[], jobs = [] as ReturnType<typeof job>[]) =>
    plan(snapshot({ nodes, jobs, pools: [pool('etc', product(P3090, null, null))] }));

  it('a new node (no miner yet) mines on all its free GPUs', () => {
    const p = unknown([node('new', { miningGpus: 0, modeSinceMs: 0, reservedGpus: 2 })]);
    expect(p.nodes[0]).toMatchObject({ mode: 'mining', miningGpus: 6, idleGpus: 0, drain: false });
    expect(p.nodes[0]?.reason).toMatch(
      /^mining: mining yield unknown \(pool etc\): no switch until it is known; mining goes on, the farm's default$/,
    );
  });

  it('a training node whose job is gone mines again; an idle node stays idle; a drain goes on', () => {
    const p = unknown([
      node('t', { mode: 'training', miningGpus: 0 }),
      node('i', { mode: 'idle', miningGpus: 0 }),
      node('d', { mode: 'draining', drainingTo: 'idle', miningGpus: 0 }),
    ]);
    expect(modes(p)).toEqual({ d: 'idle', i: 'idle', t: 'mining' });
    expect(p.nodes.find((n) => n.node === 't')).toMatchObject({ changed: true, miningGpus: 8 });
    expect(p.nodes.find((n) => n.node === 'i')).toMatchObject({ changed: false, miningGpus: 0 });
  });

  it('no job is placed on a node whose yield is unknown, however high its bid; a running job keeps its node', () => {
    const p = unknown(
      [node('a'), node('b', { mode: 'training', miningGpus: 0 })],
      [job('ml/rich', { bidUsdPerGpuHour: 100 }), running('ml/run', [['b', 8]])],
    );
    expect(p.placements.filter((x) => x.isNew)).toEqual([]);
    expect(p.placements.map((x) => x.job)).toEqual(['ml/run']);
    expect(p.drains).toEqual([]);
    expect(p.queued.map((q) => q.job)).toEqual(['ml/rich']);
    expect(modes(p)).toEqual({ a: 'mining', b: 'training' });
  });

  it('a cordoned node is held as it is, miners or not', () => {
    const p = unknown([node('c', { unschedulable: true, miningGpus: 0 })]);
    expect(p.nodes[0]).toMatchObject({ mode: 'mining', miningGpus: 0 });
  });
});
