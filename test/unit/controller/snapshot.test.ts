// buildSnapshot: what the planner is told about the cluster, from informer-cache objects alone.
import { describe, expect, it } from '@jest/globals';
import {
  buildSnapshot,
  findOvercommits,
  jobPhase,
  replicaNodes,
  sharesOf,
  type SnapshotInput,
} from '../../../src/controller/snapshot.js';
import { plan } from '../../../src/planner/index.js';
import {
  NOW,
  condition,
  foreignPod,
  gpuNode,
  iso,
  job,
  minerPod,
  modeNode,
  policy,
  pool,
  trainerPod,
} from './operator-fixtures.js';

function input(over: Partial<SnapshotInput> = {}): SnapshotInput {
  return {
    nowMs: NOW,
    nodes: [],
    managedPods: [],
    foreignPods: [],
    jobs: [],
    pools: [pool()],
    policy: policy(),
    ...over,
  };
}

const running = (nodes: string[], since = NOW - 600_000) =>
  ({
    assignedNodes: nodes,
    conditions: [condition('Admitted', 'True', since), condition('Running', 'True', since)],
  }) as Record<string, unknown>;

describe('nodes', () => {
  it.each([
    ['an unlabelled node a pool selects starts as mining', gpuNode('a'), 'mining', undefined],
    [
      'an unlabelled node no pool selects is idle',
      gpuNode('a', { labels: { farm: 'other' } }),
      'idle',
      undefined,
    ],
    ['the mode label is the mode', modeNode('a', 'training'), 'training', undefined],
    [
      'a mining node the planner sent to training is already draining',
      modeNode('a', 'mining', 'training'),
      'draining',
      'training',
    ],
    ['a mining node sent to idle is draining to idle', modeNode('a', 'mining', 'idle'), 'draining', 'idle'],
    [
      'a draining node keeps its destination',
      modeNode('a', 'draining', 'training', { 'rigshift.io/draining-to': 'training' }),
      'draining',
      'training',
    ],
    [
      'a drain for training no job needs any more is not held (shown as mining)',
      modeNode('b', 'draining', 'training', { 'rigshift.io/draining-to': 'training' }),
      'mining',
      undefined,
    ],
    [
      'a planned drain for training no job needs is not begun',
      modeNode('b', 'mining', 'training'),
      'mining',
      undefined,
    ],
  ])('%s', (_name, node, mode, drainingTo) => {
    // Job j is admitted on node a.
    const j = job(
      'j',
      { replicas: 1 },
      { assignedNodes: ['a'], conditions: [condition('Admitted', 'True', NOW - 60_000)] },
    );
    const s = buildSnapshot(input({ nodes: [node], jobs: [j] })).snapshot;
    expect(s.nodes).toHaveLength(1);
    expect(s.nodes[0]?.mode).toBe(mode);
    expect(s.nodes[0]?.drainingTo).toBe(drainingTo);
  });

  it('reads product, GPUs, memory, dwell start and the pool, and skips nodes without GPUs', () => {
    const noGpu = gpuNode('cpu', { gpus: 0 });
    const s = buildSnapshot(
      input({ nodes: [modeNode('b', 'mining'), noGpu, gpuNode('a', { gpus: 4 })] }),
    ).snapshot;
    expect(s.nodes.map((n) => n.name)).toEqual(['a', 'b']);
    expect(s.nodes[1]).toMatchObject({
      product: 'NVIDIA-GeForce-RTX-3090',
      gpus: 8,
      gpuMemoryMiB: 24576,
      modeSinceMs: NOW - 3_600_000,
      pool: 'farm/etc',
      unschedulable: false,
    });
    expect(s.nodes[0]?.gpus).toBe(4);
  });

  it('counts live miners, not terminating ones, and reserves GPUs of foreign pods and stray trainers', () => {
    const terminating = minerPod('m2', 'a', 8, { deletionTimestamp: new Date(NOW) });
    const pods = [minerPod('m1', 'a', 6), terminating, trainerPod('gone', 'a', 2)];
    const foreign = [
      foreignPod('f1', 'a', 1),
      foreignPod('done', 'a', 4, 'Succeeded'),
      foreignPod('elsewhere', 'zz', 4),
    ];
    const s = buildSnapshot(
      input({ nodes: [modeNode('a', 'mining')], managedPods: pods, foreignPods: foreign }),
    ).snapshot;
    expect(s.nodes[0]).toMatchObject({ miningGpus: 6, reservedGpus: 3 });
  });

  it('cordoned nodes and nodes whose drain was just aborted are unschedulable (the planner holds them)', () => {
    const cordoned = modeNode('a', 'mining', 'mining', {}, { unschedulable: true });
    const aborted = modeNode('b', 'mining', 'training', { 'rigshift.io/drain-aborted': iso(NOW - 10_000) });
    const longAgo = modeNode('c', 'mining', 'mining', { 'rigshift.io/drain-aborted': iso(NOW - 3_600_000) });
    const s = buildSnapshot(
      input({ nodes: [cordoned, aborted, longAgo], policy: policy({ drainTimeoutSeconds: 60 }) }),
    ).snapshot;
    expect(s.nodes.map((n) => [n.name, n.mode, n.unschedulable])).toEqual([
      ['a', 'mining', true],
      ['b', 'mining', true],
      ['c', 'mining', false],
    ]);
  });
});

describe('jobs', () => {
  it.each([
    ['new', job('j'), 'pending'],
    [
      'admitted',
      job('j', {}, { assignedNodes: ['a', 'b'], conditions: [condition('Admitted', 'True', NOW - 60_000)] }),
      'admitted',
    ],
    ['running', job('j', {}, running(['a', 'b'])), 'running'],
    [
      'admitted with the wrong number of nodes',
      job('j', {}, { assignedNodes: ['a'], conditions: [condition('Admitted', 'True', NOW - 60_000)] }),
      'pending',
    ],
    ['succeeded', job('j', {}, { conditions: [condition('Succeeded', 'True')] }), 'ended'],
    ['failed', job('j', {}, { conditions: [condition('Failed', 'True')] }), 'ended'],
    ['suspended', job('j', { suspend: true }), 'suspended'],
    ['deleted', job('j', {}, running(['a', 'b']), { deletionTimestamp: iso(NOW) }), 'deleting'],
  ])('phase of a %s job', (_n, j, phase) => {
    expect(jobPhase(j)).toBe(phase);
  });

  it('passes pending, admitted and running jobs with their shares; ended, suspended and deleted ones hold nothing', () => {
    const jobs = [
      job(
        'run',
        { tier: 'Interruptible', minRuntimeSeconds: 3600, bidUsdPerGpuHour: '1.25' },
        running(['a', 'b'], NOW - 120_000),
      ),
      job('wait', { gpuProducts: ['NVIDIA-GeForce-RTX-3090'], minGpuMemoryMiB: 20000 }),
      job('done', {}, { assignedNodes: ['c', 'd'], conditions: [condition('Succeeded', 'True')] }),
      job('gone', {}, running(['c', 'd']), { deletionTimestamp: iso(NOW) }),
    ];
    const r = buildSnapshot(input({ nodes: ['a', 'b', 'c', 'd'].map((n) => modeNode(n, 'training')), jobs }));
    expect(r.snapshot.jobs).toEqual([
      {
        key: 'ml/run',
        replicas: 2,
        gpusPerReplica: 8,
        bidUsdPerGpuHour: 1.25,
        tier: 'Interruptible',
        state: 'running',
        assigned: [
          { node: 'a', gpus: 8 },
          { node: 'b', gpus: 8 },
        ],
        runtimeSeconds: 120,
        minRuntimeSeconds: 3600,
      },
      {
        key: 'ml/wait',
        replicas: 2,
        gpusPerReplica: 8,
        bidUsdPerGpuHour: 1,
        tier: 'OnDemand',
        state: 'pending',
        assigned: [],
        runtimeSeconds: 0,
        minRuntimeSeconds: 0,
        products: ['NVIDIA-GeForce-RTX-3090'],
        minGpuMemoryMiB: 20000,
      },
    ]);
    expect([...r.jobs].map(([k, v]) => [k, v.phase])).toEqual([
      ['ml/run', 'running'],
      ['ml/wait', 'pending'],
      ['ml/done', 'ended'],
      ['ml/gone', 'deleting'],
    ]);
  });

  it('trainers of an assigned job are its own GPUs, not reserved ones', () => {
    const j = job('run', {}, running(['a', 'b']));
    const pods = [trainerPod('run', 'a'), trainerPod('run', 'b'), trainerPod('old', 'b', 0)];
    const s = buildSnapshot(
      input({ nodes: [modeNode('a', 'training'), modeNode('b', 'training')], jobs: [j], managedPods: pods }),
    ).snapshot;
    expect(s.nodes.map((n) => n.reservedGpus)).toEqual([undefined, undefined]);
  });

  it("a pending job is not placed again while its last run's pods are still stopping (a minute at most)", () => {
    const p = job('p', { replicas: 1, bidUsdPerGpuHour: '0.50' });
    const stopping = (ms: number) =>
      trainerPod('p', 'a', 8, 'Running', { deletionTimestamp: new Date(NOW - ms) });
    const nodes = [modeNode('a', 'training'), modeNode('b', 'mining')];
    const at = (pods: ReturnType<typeof trainerPod>[]) =>
      buildSnapshot(input({ nodes, jobs: [p], managedPods: pods })).snapshot;

    const waiting = at([stopping(1000)]);
    expect(waiting.jobs[0]).toMatchObject({ blockedCode: 'PodsStopping' });
    expect(waiting.jobs[0]?.blockedReason).toMatch(
      /still stopping on a; it is placed again once they are gone/,
    );
    const queued = plan(waiting);
    expect(queued.placements).toEqual([]);
    expect(queued.queued.find((w) => w.job === 'ml/p')).toMatchObject({ code: 'PodsStopping' });
    // Its pods gone, or stuck for over a minute: it is placed again (b is free).
    for (const pods of [[], [stopping(61_000)]]) {
      const s = at(pods);
      expect(s.jobs[0]?.blockedCode).toBeUndefined();
      expect(plan(s).placements.map((x) => x.job)).toEqual(['ml/p']);
    }
    // Pods of another job, or finished ones, do not hold it back.
    expect(
      at([trainerPod('q', 'a'), trainerPod('p', 'a', 8, 'Succeeded')]).jobs[0]?.blockedCode,
    ).toBeUndefined();
  });

  it('sends an admitted job back to the queue when a drain for it was aborted', () => {
    const j = job(
      'adm',
      {},
      { assignedNodes: ['a', 'b'], conditions: [condition('Admitted', 'True', NOW - 60_000)] },
    );
    const nodes = [
      modeNode('a', 'mining', 'training', { 'rigshift.io/drain-aborted': iso(NOW - 5000) }),
      modeNode('b', 'training'),
    ];
    const r = buildSnapshot(input({ nodes, jobs: [j] }));
    expect(r.snapshot.jobs[0]).toMatchObject({ state: 'pending', assigned: [] });
    expect(r.requeued.get('ml/adm')).toBe('the drain of a was aborted');

    // With the cause the node reconciler recorded, the job says which pod and why.
    nodes[0] = modeNode('a', 'mining', 'training', {
      'rigshift.io/drain-aborted': iso(NOW - 5000),
      'rigshift.io/drain-stalled': 'farm/etc-a: Terminating, held by finalizer example.com/hold',
    });
    expect(buildSnapshot(input({ nodes, jobs: [j] })).requeued.get('ml/adm')).toBe(
      'the drain of a was aborted (farm/etc-a: Terminating, held by finalizer example.com/hold)',
    );

    // Back in the queue, it keeps saying so while the node cools down; not after.
    const queued = {
      ...condition('Queued', 'True'),
      message: 'the drain of a was aborted (old); no capacity',
    };
    const pending = job('adm', {}, { conditions: [queued] });
    expect(buildSnapshot(input({ nodes, jobs: [pending] })).requeued.get('ml/adm')).toBe(
      'the drain of a was aborted (farm/etc-a: Terminating, held by finalizer example.com/hold)',
    );
    nodes[0] = modeNode('a', 'mining', 'training', { 'rigshift.io/drain-aborted': iso(NOW - 3_600_000) });
    expect(buildSnapshot(input({ nodes, jobs: [pending] })).requeued.has('ml/adm')).toBe(false);
  });

  it('several replicas on one node: one entry each, shares summed', () => {
    expect(sharesOf(['a', 'a', 'b'], 4)).toEqual([
      { node: 'a', gpus: 8 },
      { node: 'b', gpus: 4 },
    ]);
    expect(replicaNodes(sharesOf(['a', 'a', 'b'], 4), 4)).toEqual(['a', 'a', 'b']);
  });
});

describe('pools and policy', () => {
  it('a known yield reaches the planner; an unknown one holds every node of the pool', () => {
    const known = buildSnapshot(input({ nodes: [gpuNode('a')] })).snapshot;
    expect(known.pools[0]?.products[0]).toMatchObject({
      miningUsdPerGpuHour: 0.3,
      electricityUsdPerKwh: 0.1,
      trainingWatts: 350,
    });
    const unknownPool = pool(
      'etc',
      {},
      {
        observedGeneration: 1,
        conditions: [
          {
            type: 'YieldKnown',
            status: 'False',
            reason: 'Stale',
            message: 'price too old',
            lastTransitionTime: iso(NOW),
            observedGeneration: 1,
          },
        ],
      },
    );
    const s = buildSnapshot(
      input({ nodes: [modeNode('a', 'mining')], pools: [unknownPool], jobs: [job('j', { replicas: 1 })] }),
    ).snapshot;
    expect(s.pools[0]?.products[0]?.miningUsdPerGpuHour).toBeNull();
    const p = plan(s);
    expect(p.nodes[0]?.mode).toBe('mining');
    expect(p.placements).toEqual([]);
  });

  it('the policy floor and numbers reach the planner', () => {
    const s = buildSnapshot(
      input({ policy: policy({ floorRentalUsdPerGpuHour: '0.25', maxConcurrentDrains: 2 }) }),
    ).snapshot;
    expect(s.policy).toMatchObject({
      floorRentalUsdPerGpuHour: 0.25,
      maxConcurrentDrains: 2,
      minDwellSeconds: 0,
    });
  });
});

describe('end to end through plan()', () => {
  it('six mining nodes and a 2×8 job bidding above yield: two nodes drain, four keep mining', () => {
    const nodes = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'].map((n) => modeNode(n, 'mining'));
    const pods = nodes.map((n) => minerPod(`m-${n.metadata?.name}`, n.metadata?.name ?? ''));
    const s = buildSnapshot(
      input({ nodes, managedPods: pods, jobs: [job('big')], policy: policy({ maxConcurrentDrains: 10 }) }),
    ).snapshot;
    const p = plan(s);
    expect(p.placements).toHaveLength(1);
    expect(p.placements[0]?.nodes.map((n) => n.gpus)).toEqual([8, 8]);
    expect(p.nodes.filter((n) => n.mode === 'training')).toHaveLength(2);
    expect(p.nodes.filter((n) => n.mode === 'mining')).toHaveLength(4);
    expect(p.drains).toHaveLength(2);
  });

  it('a job bidding below yield waits with the reason', () => {
    const nodes = ['n0', 'n1'].map((n) => modeNode(n, 'mining'));
    const s = buildSnapshot(input({ nodes, jobs: [job('cheap', { bidUsdPerGpuHour: '0.10' })] })).snapshot;
    const p = plan(s);
    expect(p.placements).toEqual([]);
    expect(p.queued[0]).toMatchObject({ job: 'ml/cheap', code: 'BidBelowYield' });
  });
});

describe('gangs that do not start', () => {
  const admittedSince = (
    since: number,
    status: Record<string, unknown> = {},
    spec: Record<string, unknown> = {},
  ) =>
    job(
      'g',
      { replicas: 2, ...spec },
      {
        assignedNodes: ['a', 'b'],
        conditions: [
          condition('Admitted', 'True', since),
          { ...condition('Running', 'False', since, 'PodRefused'), message: 'replica 1: exceeded quota: q' },
        ],
        ...status,
      },
    );
  const nodes = () => [modeNode('a', 'training', 'training'), modeNode('b', 'mining', 'training')];

  it('keeps an admitted gang within its start timeout', () => {
    const r = buildSnapshot(input({ nodes: nodes(), jobs: [admittedSince(NOW - 599_000)] }));
    expect(r.jobs.get('ml/g')?.phase).toBe('admitted');
    expect(r.startFailed.size).toBe(0);
  });

  it('rolls back a gang past its start timeout, says why from the replica, and backs off', () => {
    const r = buildSnapshot(input({ nodes: nodes(), jobs: [admittedSince(NOW - 600_000)] }));
    expect(r.jobs.get('ml/g')?.phase).toBe('pending');
    expect(r.startFailed.get('ml/g')).toEqual({
      failures: 1,
      retryAfterMs: NOW + 30_000,
      reason: expect.stringMatching(
        /did not start within its start timeout of 600 s \(PodRefused: replica 1: exceeded quota: q\)/,
      ),
    });
    const snap = r.snapshot.jobs.find((j) => j.key === 'ml/g');
    expect(snap).toMatchObject({ state: 'pending', assigned: [], notBeforeMs: NOW + 30_000 });
    // The planner does not place it again before the backoff ends.
    const p = plan(r.snapshot);
    expect(p.queued.find((w) => w.job === 'ml/g')).toMatchObject({ code: 'StartBackoff' });
  });

  it('doubles the backoff with each failure, and a job may set its own timeout', () => {
    const third = admittedSince(NOW - 120_000, { startFailures: 2 }, { startTimeoutSeconds: 120 });
    const r = buildSnapshot(input({ nodes: nodes(), jobs: [third] }));
    expect(r.startFailed.get('ml/g')).toMatchObject({ failures: 3, retryAfterMs: NOW + 120_000 });
  });

  it('a pending job waits until retryAfterTime, then is placed again', () => {
    const waiting = job('w', { replicas: 1 }, { startFailures: 1, retryAfterTime: iso(NOW + 5000) });
    const before = buildSnapshot(input({ jobs: [waiting] })).snapshot.jobs[0];
    expect(before?.notBeforeMs).toBe(NOW + 5000);
    const after = buildSnapshot(input({ nowMs: NOW + 5000, jobs: [waiting] })).snapshot.jobs[0];
    expect(after?.notBeforeMs).toBeUndefined();
  });

  it('a node cordoned before the gang started sends the gang back to the queue at once', () => {
    const b = modeNode('b', 'mining', 'training');
    b.spec = { ...b.spec, unschedulable: true };
    const r = buildSnapshot(
      input({ nodes: [modeNode('a', 'training', 'training'), b], jobs: [admittedSince(NOW - 10_000)] }),
    );
    expect(r.jobs.get('ml/g')?.phase).toBe('pending');
    expect(r.requeued.get('ml/g')).toMatch(/b was cordoned before the gang started/);
    expect(r.startFailed.size).toBe(0);
  });
});

describe('double-booked nodes', () => {
  const placed = (key: string, bid: number, shares: [string, number][], running = false, admittedMs = 0) => ({
    key,
    bid,
    running,
    admittedMs,
    shares: shares.map(([node, gpus]) => ({ node, gpus })),
  });
  const eight = (node: string) => (node === 'gone' ? undefined : 8);

  it('finds none when every node holds what is assigned to it', () => {
    const jobs = [
      placed('ml/a', 1, [['n1', 8]]),
      placed('ml/b', 2, [['n2', 4]]),
      placed('ml/c', 3, [['n2', 4]]),
    ];
    expect(findOvercommits(jobs, eight).size).toBe(0);
  });

  it('the lower bid gives up all its nodes, naming the node and the job that keeps it', () => {
    const jobs = [
      placed('ml/low', 1, [
        ['n1', 8],
        ['n2', 8],
      ]),
      placed('ml/high', 2, [['n2', 8]]),
    ];
    const over = findOvercommits(jobs, eight);
    expect([...over.keys()]).toEqual(['ml/low']);
    expect(over.get('ml/low')).toMatchObject({ node: 'n2', gpus: 8, assigned: 16, keptBy: ['ml/high'] });
    expect(over.get('ml/low')?.reason).toBe(
      'node n2 was double-booked (16 GPUs assigned, it has 8): ml/high keeps it, placed again',
    );
  });

  it('on equal bids the running job keeps the node, then the earlier admission; the loser frees room', () => {
    expect([
      ...findOvercommits(
        [placed('ml/a', 1, [['n1', 8]]), placed('ml/b', 1, [['n1', 8]], true)],
        eight,
      ).keys(),
    ]).toEqual(['ml/a']);
    expect([
      ...findOvercommits(
        [placed('ml/a', 1, [['n1', 8]], false, 2000), placed('ml/b', 1, [['n1', 8]], false, 1000)],
        eight,
      ).keys(),
    ]).toEqual(['ml/a']);
    // Once low gives n1 up, mid fits on n2 beside nothing else: only low goes.
    const jobs = [
      placed('ml/top', 3, [['n1', 8]]),
      placed('ml/low', 1, [
        ['n1', 4],
        ['n2', 4],
      ]),
      placed('ml/mid', 2, [['n2', 8]]),
    ];
    expect([...findOvercommits(jobs, eight).keys()]).toEqual(['ml/low']);
  });

  it('a node of unknown size is not judged; one job alone beyond a node says so', () => {
    expect(
      findOvercommits([placed('ml/a', 1, [['gone', 8]]), placed('ml/b', 2, [['gone', 8]])], eight).size,
    ).toBe(0);
    expect(findOvercommits([placed('ml/big', 1, [['n1', 16]])], eight).get('ml/big')?.reason).toBe(
      'node n1 has 8 GPUs, fewer than the 16 assigned to this job: placed again',
    );
  });

  it('in the snapshot the lower bid is back in the queue holding nothing, the other keeps its node', () => {
    const high = job('high', { replicas: 1, bidUsdPerGpuHour: '2.00' }, running(['a']));
    const low = job('low', { replicas: 1, bidUsdPerGpuHour: '1.00' }, running(['a']));
    const r = buildSnapshot(
      input({ nodes: [modeNode('a', 'training'), modeNode('b', 'mining')], jobs: [low, high] }),
    );
    expect(r.snapshot.jobs.find((j) => j.key === 'ml/low')).toMatchObject({ state: 'pending', assigned: [] });
    expect(r.snapshot.jobs.find((j) => j.key === 'ml/high')).toMatchObject({
      state: 'running',
      assigned: [{ node: 'a', gpus: 8 }],
    });
    expect(r.jobs.get('ml/low')?.phase).toBe('pending');
    expect(r.overcommitted.get('ml/low')?.keptBy).toEqual(['ml/high']);
    expect(r.requeued.get('ml/low')).toMatch(/^node a was double-booked .*ml\/high keeps it/);
    // The planner then never places both on a.
    const decided = plan(r.snapshot);
    const onA = decided.placements.filter((p) => p.nodes.some((n) => n.node === 'a'));
    expect(onA.map((p) => p.job)).toEqual(['ml/high']);
  });
});
