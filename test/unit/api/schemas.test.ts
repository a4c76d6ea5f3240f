import { describe, expect, it } from '@jest/globals';
import {
  GROUP,
  type LabelSelector,
  MINER_TEMPLATE,
  STRATUM_URL,
  VERSION,
  expandMinerTemplate,
  fleetPolicySpecSchema,
  miningPoolSpecSchema,
  parseFleetPolicy,
  parseMiningPool,
  parseQuantity,
  parseTrainingJob,
  selectorMatches,
  trainingJobSpecSchema,
} from '../../../src/api/v1alpha1/index.js';

const pool = () => ({
  apiVersion: 'rigshift.io/v1alpha1',
  kind: 'MiningPool',
  metadata: { name: 'etc', namespace: 'farm' },
  spec: {
    coin: 'ETC',
    algorithm: 'etchash',
    stratum: { primary: 'stratum+tcp://etc.2miners.com:1010' },
    wallet: '0xabc',
    miner: { image: 'miner:1' },
    gpuProfiles: [
      {
        product: 'NVIDIA-GeForce-RTX-3090',
        hashrate: '122.15M',
        miningWatts: 290,
        trainingWatts: 350,
        idleWatts: 25,
      },
    ],
    revenueUsdPerMhsDay: { http: { url: 'http://prices.local/etc', fieldPath: 'data.usd' } },
    electricityUsdPerKwh: { value: '0.085' },
  },
});

const job = () => ({
  apiVersion: 'rigshift.io/v1alpha1',
  kind: 'TrainingJob',
  metadata: { name: 'train', namespace: 'farm' },
  spec: { image: 'train:1', bidUsdPerGpuHour: '0.35' },
});

function ok<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

describe('constants', () => {
  it('group and version', () => {
    expect([GROUP, VERSION]).toEqual(['rigshift.io', 'v1alpha1']);
  });
});

describe('defaults', () => {
  it('an empty FleetPolicy gets every default', () => {
    const p = ok(parseFleetPolicy({ metadata: { name: 'default' } }));
    expect(p.spec).toEqual({
      hysteresisPercent: 5,
      minDwellSeconds: 3600,
      switchingSeconds: 300,
      paybackSeconds: 86400,
      maxConcurrentDrains: '10%',
      startTimeoutSeconds: 600,
      startBackoffSeconds: 30,
      drainTimeoutSeconds: 600,
      drainTimeoutPolicy: 'Wait',
      allowIdle: true,
      priorityClasses: { mining: 'rigshift-mining', training: 'rigshift-training' },
      modeLabelKey: 'rigshift.io/mode',
      reservedTaintKey: 'rigshift.io/reserved',
      dryRun: false,
      defaultTrainingResources: { requests: { cpu: '1', memory: '2Gi' } },
    });
    expect(p.apiVersion).toBe('rigshift.io/v1alpha1');
    expect(p.kind).toBe('FleetPolicy');
  });

  it('a minimal TrainingJob', () => {
    const j = ok(parseTrainingJob(job()));
    expect(j.spec).toEqual({
      image: 'train:1',
      bidUsdPerGpuHour: '0.35',
      env: [],
      volumes: [],
      volumeMounts: [],
      replicas: 1,
      gpusPerReplica: 1,
      tier: 'OnDemand',
      minRuntimeSeconds: 0,
      backoffLimit: 3,
      checkpointGracePeriodSeconds: 60,
      rendezvous: { port: 29500 },
      automountServiceAccountToken: false,
      suspend: false,
    });
  });

  it('a minimal MiningPool, with HTTP price source timings', () => {
    const p = ok(parseMiningPool(pool()));
    expect(p.spec.workerName).toBe('${NODE}');
    expect(p.spec.poolFeePercent).toBe('0');
    expect(p.spec.miner).toEqual({ image: 'miner:1', args: [], env: [] });
    expect(p.spec.stratum.failovers).toEqual([]);
    expect(p.spec.revenueUsdPerMhsDay.http).toEqual({
      url: 'http://prices.local/etc',
      fieldPath: 'data.usd',
      refreshSeconds: 300,
      timeoutSeconds: 10,
      maxAgeSeconds: 1800,
    });
  });

  it('explicit values win over defaults', () => {
    const j = job();
    Object.assign(j.spec, { tier: 'Interruptible', replicas: 4, gpusPerReplica: 8, suspend: true });
    const s = ok(parseTrainingJob(j)).spec;
    expect([s.tier, s.replicas, s.gpusPerReplica, s.suspend]).toEqual(['Interruptible', 4, 8, true]);
  });
});

describe('lenient parsing', () => {
  it('drops unknown fields at every level instead of failing', () => {
    const p = pool() as Record<string, unknown> & ReturnType<typeof pool>;
    Object.assign(p, { extra: 1 });
    Object.assign(p.spec, { futureField: { a: 1 } });
    Object.assign(p.spec.gpuProfiles[0]!, { tensorCores: 328 });
    const v = ok(parseMiningPool(p));
    expect(v).not.toHaveProperty('extra');
    expect(v.spec).not.toHaveProperty('futureField');
    expect(v.spec.gpuProfiles[0]).not.toHaveProperty('tensorCores');
  });

  it('accepts Dates where the API has timestamps (typed clients produce them)', () => {
    const j = {
      ...job(),
      metadata: { name: 'x', creationTimestamp: new Date('2024-03-01T13:00:00Z') },
      status: { startTime: new Date('2024-03-01T14:00:00Z') },
    };
    const v = ok(parseTrainingJob(j));
    expect(v.metadata.creationTimestamp).toBe('2024-03-01T13:00:00.000Z');
    expect(v.status?.startTime).toBe('2024-03-01T14:00:00.000Z');
  });

  it('drops a status it cannot read, with a warning, and keeps the object', () => {
    const j = { ...job(), status: { state: 'Exploded', conditions: [{ type: 'Running', status: 'Maybe' }] } };
    const r = parseTrainingJob(j);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.status).toBeUndefined();
    expect(r.value.spec.image).toBe('train:1');
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^TrainingJob farm\/train: status ignored: /);
    expect(r.warnings[0]).toContain('status.state: ');
    expect(r.warnings[0]).toContain('status.conditions[0].status');
  });

  it('keeps a good status', () => {
    const status = {
      observedGeneration: 3,
      state: 'Running',
      assignedNodes: ['n1', 'n2'],
      gpuHours: '12.5',
      earnedUsd: '4.375',
      conditions: [
        {
          type: 'Running',
          status: 'True',
          reason: 'AllReplicasRunning',
          lastTransitionTime: '2024-03-01T13:00:00Z',
        },
      ],
    };
    const v = ok(parseTrainingJob({ ...job(), status }));
    expect(v.status).toEqual({ ...status, conditions: [{ ...status.conditions[0], message: '' }] });
  });

  it('fails on a broken spec with a readable error naming the object and the fields', () => {
    const j = job();
    Object.assign(j.spec, { replicas: 0, bidUsdPerGpuHour: '-1' });
    const r = parseTrainingJob(j);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(/^TrainingJob farm\/train: /);
    expect(r.error).toContain('spec.replicas: ');
    expect(r.error).toContain('spec.bidUsdPerGpuHour must be a decimal USD amount');
  });

  it('fails on things that are not objects at all', () => {
    for (const bad of [null, 42, 'x', []]) expect(parseMiningPool(bad).ok).toBe(false);
  });

  it('reads a FleetPolicy under any name (what-if policies for the backtest; the API server wants default)', () => {
    expect(ok(parseFleetPolicy({ metadata: { name: 'aggressive' } })).metadata.name).toBe('aggressive');
  });
});

const accepts = (schema: { safeParse(v: unknown): { success: boolean } }, v: unknown) =>
  schema.safeParse(v).success;

describe('money and decimals', () => {
  const bid = (v: unknown) => {
    const spec = { ...job().spec, bidUsdPerGpuHour: v };
    return accepts(trainingJobSpecSchema, spec);
  };
  it.each(['0', '0.35', '1', '12.5', '0.000001', '9999999.999999'])('bid %s is valid', (v) => {
    expect(bid(v)).toBe(true);
  });
  it.each(['-1', '-0.35', '01', '1.', '.5', '1e3', '0.1234567', '10000000', '0,35', ' 0.35', '', 'NaN'])(
    'bid %p is refused',
    (v) => {
      expect(bid(v)).toBe(false);
    },
  );
  it('a bid must be a string, never a float', () => {
    expect(bid(0.35)).toBe(false);
  });

  const fee = (v: unknown) => accepts(miningPoolSpecSchema, { ...pool().spec, poolFeePercent: v });
  it.each(['0', '1', '1.0', '0.9', '99.99', '100', '100.0'])('pool fee %s is valid', (v) => {
    expect(fee(v)).toBe(true);
  });
  it.each(['101', '100.1', '-1', '1.00001', '1%'])('pool fee %p is refused', (v) => {
    expect(fee(v)).toBe(false);
  });

  const revenue = (v: string) =>
    accepts(miningPoolSpecSchema, { ...pool().spec, revenueUsdPerMhsDay: { value: v } });
  it('prices take up to 9 decimals (revenue per MH/s-day is small) and no sign', () => {
    expect(revenue('0.0021246')).toBe(true);
    expect(revenue('0.000000001')).toBe(true);
    expect(revenue('0.0000000001')).toBe(false);
    expect(revenue('-0.002')).toBe(false);
  });
});

describe('price sources', () => {
  const source = (s: unknown) => accepts(miningPoolSpecSchema, { ...pool().spec, electricityUsdPerKwh: s });
  it.each([
    [{ value: '0.085' }, true],
    [{ configMapKeyRef: { name: 'power', key: 'usdPerKwh' } }, true],
    [{ http: { url: 'https://prices.example.org/power', fieldPath: 'items[0].usd' } }, true],
    [{ http: { url: 'https://prices.example.org/power' } }, true],
    [{}, false],
    [{ value: '0.085', configMapKeyRef: { name: 'power', key: 'k' } }, false],
    [{ http: { url: 'ftp://x/y' } }, false],
    [{ http: { url: 'http://x/y', refreshSeconds: 600, maxAgeSeconds: 300 } }, false],
    [{ http: { url: 'http://x/y', fieldPath: 'a..b' } }, false],
  ])('%j valid: %s', (s, valid) => {
    expect(source(s)).toBe(valid);
  });
});

describe('quantities', () => {
  it.each([
    ['120M', 120e6],
    ['1.2G', 1.2e9],
    ['500k', 500e3],
    ['1Ki', 1024],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1e3', 1000],
    ['250m', 0.25],
    ['42', 42],
  ])('%s is %d', (q, n) => {
    expect(parseQuantity(q)).toBeCloseTo(n, 6);
  });
  it('122.15M is 122.15 MH/s', () => {
    expect(parseQuantity('122.15M') / 1e6).toBeCloseTo(122.15, 9);
  });
  it.each(['', 'M', '120 M', '120MH', '1.2.3', 'twelve'])('%p is not a quantity', (q) => {
    expect(() => parseQuantity(q)).toThrow('not a Kubernetes quantity');
  });

  const hashrate = (h: string) => {
    const spec = pool().spec;
    spec.gpuProfiles[0]!.hashrate = h;
    return accepts(miningPoolSpecSchema, spec);
  };
  it('a hashrate must be a positive quantity', () => {
    expect(hashrate('124.7M')).toBe(true);
    expect(hashrate('0')).toBe(false);
    expect(hashrate('0M')).toBe(false);
    expect(hashrate('-5M')).toBe(false);
    expect(hashrate('120 MH/s')).toBe(false);
  });
});

describe('mining pool fields', () => {
  it.each([
    ['stratum+tcp://etc.2miners.com:1010', true],
    ['stratum+ssl://eu1.etc.pool.example:11010', true],
    ['stratum+tcp://10.0.0.5:3333', true],
    ['stratum+tcp://etc.2miners.com', false],
    ['https://etc.2miners.com:1010', false],
    ['stratum+udp://etc.2miners.com:1010', false],
    ['stratum+tcp://etc.2miners.com:1010/path', false],
  ])('stratum URL %s valid: %s', (url, valid) => {
    expect(STRATUM_URL.test(url)).toBe(valid);
  });

  it.each([
    ['--url=${STRATUM}', true],
    ['-o ${STRATUM} -u ${WALLET}.${WORKER} -p ${PASSWORD}', true],
    ['--failover=${FAILOVERS}', true],
    ['--gpus=${GPU_COUNT} --algo=${ALGORITHM} --coin=${COIN} --node=${NODE}', true],
    ['cost $5', true],
    ['ends with $', true],
    ['--pass=${POOL_PASSWORD}', false],
    ['--x=${stratum}', false],
    ['--x=${STRATUM', false],
  ])('miner arg %p valid: %s', (arg, valid) => {
    expect(MINER_TEMPLATE.test(arg)).toBe(valid);
  });

  it('expands placeholders and leaves unknown ones alone', () => {
    expect(
      expandMinerTemplate('-o ${STRATUM} -u ${WALLET}.${WORKER} ${OTHER}', {
        STRATUM: 'stratum+tcp://p:1',
        WALLET: '0xabc',
        WORKER: 'node-1',
      }),
    ).toBe('-o stratum+tcp://p:1 -u 0xabc.node-1 ${OTHER}');
  });

  it('profiles need at least one product, unique names are enforced by the API server', () => {
    expect(accepts(miningPoolSpecSchema, { ...pool().spec, gpuProfiles: [] })).toBe(false);
  });
});

describe('label selectors', () => {
  const labels = { 'nvidia.com/gpu.product': 'NVIDIA-GeForce-RTX-3090', zone: 'a' };
  const cases: [LabelSelector | undefined, boolean][] = [
    [undefined, true],
    [{}, true],
    [{ matchLabels: { zone: 'a' } }, true],
    [{ matchLabels: { zone: 'b' } }, false],
    [
      {
        matchExpressions: [
          { key: 'nvidia.com/gpu.product', operator: 'In', values: ['NVIDIA-GeForce-RTX-3090'] },
        ],
      },
      true,
    ],
    [
      {
        matchExpressions: [
          { key: 'nvidia.com/gpu.product', operator: 'NotIn', values: ['NVIDIA-GeForce-RTX-3090'] },
        ],
      },
      false,
    ],
    [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, false],
    [{ matchLabels: { zone: 'a' }, matchExpressions: [{ key: 'gone', operator: 'Exists' }] }, false],
  ];
  it.each(cases)('%j matches: %s', (selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });

  it('In without values is refused', () => {
    const spec = { ...pool().spec, nodeSelector: { matchExpressions: [{ key: 'zone', operator: 'In' }] } };
    expect(accepts(miningPoolSpecSchema, spec)).toBe(false);
  });
});

describe('fleet policy fields', () => {
  it.each([
    [3, true],
    ['10%', true],
    ['100%', true],
    ['1%', true],
    [0, false],
    ['0%', false],
    ['101%', false],
    ['10', false],
    [1.5, false],
  ])('maxConcurrentDrains %p valid: %s', (v, valid) => {
    expect(accepts(fleetPolicySpecSchema, { maxConcurrentDrains: v })).toBe(valid);
  });

  it.each([
    [{ hysteresisPercent: 101 }, false],
    [{ hysteresisPercent: 0 }, true],
    [{ drainTimeoutPolicy: 'ForceEvict' }, true],
    [{ drainTimeoutPolicy: 'Retry' }, false],
    [{ floorRentalUsdPerGpuHour: '0.20' }, true],
    [{ floorRentalUsdPerGpuHour: 'cheap' }, false],
    [{ modeLabelKey: 'example.com/mode' }, true],
    [{ modeLabelKey: 'a/b/c' }, false],
  ])('%j valid: %s', (spec, valid) => {
    expect(accepts(fleetPolicySpecSchema, spec)).toBe(valid);
  });
});

describe('training job fields', () => {
  const spec = (extra: Record<string, unknown>) => ({ ...job().spec, ...extra });
  it.each([
    [{ replicas: 0 }, false],
    [{ replicas: 256 }, true],
    [{ replicas: 257 }, false],
    [{ gpusPerReplica: 8 }, true],
    [{ gpusPerReplica: 1.5 }, false],
    [{ image: '' }, false],
    [{ tier: 'Spot' }, false],
    [{ tier: 'Interruptible', minRuntimeSeconds: 600, maxRuntimeSeconds: 3600 }, true],
    [{ minRuntimeSeconds: 7200, maxRuntimeSeconds: 3600 }, false],
    [{ gpuProducts: ['NVIDIA-GeForce-RTX-4090'], minGpuMemoryMiB: 24576 }, true],
    [{ volumes: [{ name: 'd', emptyDir: {} }], volumeMounts: [{ name: 'd', mountPath: '/d' }] }, true],
    [{ volumeMounts: [{ name: 'd', mountPath: '/d' }] }, false],
    [{ volumes: [{ name: 'd' }] }, false],
    [{ volumes: [{ name: 'd', emptyDir: {}, secret: { secretName: 's' } }] }, false],
    [
      {
        volumes: [{ name: 'd', emptyDir: {} }],
        volumeMounts: [{ name: 'd', mountPath: '/d', subPath: '../x' }],
      },
      false,
    ],
    [{ env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }, true],
    [{ env: [{ name: 'A', value: '1', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }, false],
    [{ env: [{ name: 'A', valueFrom: {} }] }, false],
  ])('%j valid: %s', (extra, valid) => {
    expect(accepts(trainingJobSpecSchema, spec(extra))).toBe(valid);
  });
});
