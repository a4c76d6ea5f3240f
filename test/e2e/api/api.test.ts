// The rigshift API as the API server enforces it: CRDs from crds/, the example farm, the invalid-manifest
// corpus, defaults, kubectl explain and printer columns.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { kindSchema } from '../../../src/api/crdgen.js';
import {
  fleetPolicyKind,
  type KindInfo,
  miningPoolKind,
  parseFleetPolicy,
  parseMiningPool,
  parseTrainingJob,
  trainingJobKind,
} from '../../../src/api/v1alpha1/index.js';
import { getTestCluster, waitFor, type TestCluster } from '../../support/cluster.js';
import { loadExamples, loadInvalidFixtures } from '../../unit/api/corpus.js';

const CRD_DIR = join(process.cwd(), 'crds');
const examples = loadExamples();
const fixtures = loadInvalidFixtures();

let c: TestCluster;
let ns: string;

/** kubectl with the manifest on stdin. */
function apply(manifest: string, ...flags: string[]) {
  return c.kubectl(
    ['apply', '--server-side', '--field-manager=rigshift-api-test', '-n', ns, ...flags, '-f', '-'],
    {
      input: manifest,
      allowFail: true,
    },
  );
}

type Json = Record<string, unknown>;

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** The description the generator wrote for spec.<field> of a kind. */
function descriptionOf(kind: KindInfo, field: string): string {
  const spec = (kindSchema(kind).schema.properties as Record<string, Json>).spec as Json;
  const d = ((spec.properties as Record<string, Json>)[field] as Json | undefined)?.description;
  if (typeof d !== 'string') throw new Error(`no description for ${field}`);
  return d;
}

beforeAll(async () => {
  c = await getTestCluster();
  ns = await c.createNamespace('api');
  const crds = readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml'));
  expect(crds).toHaveLength(5);
  await c.installCrds();
}, 120_000);

describe('example farm', () => {
  it.each(examples.map((e) => [e.file, e.text] as const))(
    '%s applies with a server-side dry run',
    async (_f, text) => {
      const r = await apply(text, '--dry-run=server');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('serverside-applied (server dry run)');
    },
  );

  // FleetPolicy is cluster-scoped and the cluster is shared: the policy is only dry-run (above and below).
  const namespaced = examples.filter((e) => e.object.kind !== 'FleetPolicy');
  it.each(namespaced.map((e) => [e.file, e.text] as const))(
    '%s applies server-side for real',
    async (_f, text) => {
      const r = await apply(text);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('serverside-applied');
    },
  );

  it('the API server applies the same defaults as the zod schemas', async () => {
    const parsers = {
      MiningPool: parseMiningPool,
      TrainingJob: parseTrainingJob,
      FleetPolicy: parseFleetPolicy,
    };
    const minimalPolicy = 'apiVersion: rigshift.io/v1alpha1\nkind: FleetPolicy\nmetadata:\n  name: default\n';
    const inputs = [
      ...examples.filter((e) => e.object.apiVersion === 'rigshift.io/v1alpha1').map((e) => e.text),
      minimalPolicy,
    ];
    for (const text of inputs) {
      const r = await apply(text, '--dry-run=server', '-o', 'json');
      expect(r.code).toBe(0);
      const served = JSON.parse(r.stdout) as { kind: keyof typeof parsers; spec: unknown };
      const parsed = parsers[served.kind](yaml.load(text));
      if (!parsed.ok) throw new Error(parsed.error);
      expect(served.spec).toEqual(JSON.parse(JSON.stringify(parsed.value.spec)));
    }
  });
});

describe('invalid manifests', () => {
  it('the corpus has at least 30 manifests, each expecting a message that names a field', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
    for (const f of fixtures) {
      expect(f.expect.length).toBeGreaterThan(0);
      expect(f.expect.some((e) => /(spec|metadata)\.[A-Za-z]/.test(e))).toBe(true);
    }
  });

  const creates = fixtures.filter((f) => f.mode === 'create');
  it.each(creates.map((f) => [f.file, f] as const))('%s is rejected', async (_file, f) => {
    // --force-conflicts: another test may own a FleetPolicy named default; a dry run changes nothing.
    const r = await apply(f.documents[0] ?? '', '--dry-run=server', '--force-conflicts');
    expect(r.code).not.toBe(0);
    for (const fragment of f.expect) expect(oneLine(r.stderr)).toContain(fragment);
  });

  const updates = fixtures.filter((f) => f.mode === 'update');
  it.each(updates.map((f) => [f.file, f] as const))('%s is rejected on update', async (_file, f) => {
    const [original, changed] = f.documents;
    const created = await apply(original ?? '');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const r = await apply(changed ?? '');
    expect(r.code).not.toBe(0);
    for (const fragment of f.expect) expect(oneLine(r.stderr)).toContain(fragment);
    // The stored object is unchanged.
    const name = (f.objects[0]?.metadata as { name: string }).name;
    const stored = await c.kubectl(['get', 'trainingjob', name, '-n', ns, '-o', 'json']);
    const spec = (JSON.parse(stored.stdout) as { spec: Record<string, unknown> }).spec;
    const originalSpec = f.objects[0]?.spec as Record<string, unknown>;
    for (const [k, v] of Object.entries(originalSpec)) expect(spec[k]).toEqual(v);
  });
});

describe('kubectl', () => {
  it.each([
    ['trainingjob.spec.bidUsdPerGpuHour', descriptionOf(trainingJobKind, 'bidUsdPerGpuHour')],
    ['tj.spec.tier', descriptionOf(trainingJobKind, 'tier')],
    ['miningpool.spec.poolFeePercent', descriptionOf(miningPoolKind, 'poolFeePercent')],
    ['fleetpolicy.spec.hysteresisPercent', descriptionOf(fleetPolicyKind, 'hysteresisPercent')],
  ])('explain %s prints the field description', async (field, description) => {
    const out = await waitFor(
      `kubectl explain ${field}`,
      async () => {
        const r = await c.kubectl(['explain', field], { allowFail: true });
        return r.code === 0 ? r.stdout : undefined;
      },
      60_000,
      500,
    );
    expect(oneLine(out)).toContain(oneLine(description));
  });

  it('get tj shows replicas, GPUs per replica, bid, tier, state and age', async () => {
    const job = examples.find((e) => e.file === 'trainingjob-llm-pretrain-4x8.yaml');
    expect((await apply(job?.text ?? '')).code).toBe(0);
    await c.kubectl([
      'patch',
      'trainingjob',
      'llm-pretrain-7b',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { state: 'Running', earnedUsd: '12.16' } }),
    ]);
    const r = await c.kubectl(['get', 'tj', 'llm-pretrain-7b', '-n', ns]);
    const [header, row] = r.stdout.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'REPLICAS', 'GPUS/REPLICA', 'BID', 'TIER', 'STATE', 'AGE']);
    expect(row?.split(/\s+/).slice(0, 6)).toEqual([
      'llm-pretrain-7b',
      '4',
      '8',
      '0.38',
      'OnDemand',
      'Running',
    ]);
    const wide = await c.kubectl(['get', 'tj', 'llm-pretrain-7b', '-n', ns, '-o', 'wide']);
    expect(wide.stdout).toContain('EARNED');
    expect(wide.stdout).toContain('12.16');
  });

  it('get mp shows the coin, the main product’s yield and the mining GPUs', async () => {
    const pool = examples.find((e) => e.file === 'miningpool-etc.yaml');
    expect((await apply(pool?.text ?? '')).code).toBe(0);
    const status = {
      yields: [
        { product: 'NVIDIA-GeForce-RTX-4090', usdPerGpuHour: '0.0071' },
        { product: 'NVIDIA-GeForce-RTX-3090', usdPerGpuHour: '-0.0012' },
      ],
      miningGpus: 48,
    };
    await c.kubectl([
      'patch',
      'miningpool',
      'etc-2miners',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]);
    const r = await c.kubectl(['get', 'mp', 'etc-2miners', '-n', ns]);
    const [header, row] = r.stdout.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'COIN', 'YIELD', 'MINING', 'GPUS', 'READY', 'AGE']);
    expect(row?.split(/\s+/).slice(0, 4)).toEqual(['etc-2miners', 'ETC', '0.0071', '48']);
  });

  it('get fp shows hysteresis, dwell and dryRun (dry run of the example)', async () => {
    const r = await c.kubectl(['get', 'crd', 'fleetpolicies.rigshift.io', '-o', 'json']);
    const crd = JSON.parse(r.stdout) as {
      spec: { versions: { additionalPrinterColumns: { name: string }[] }[] };
    };
    const names = crd.spec.versions[0]?.additionalPrinterColumns.map((col) => col.name);
    expect(names).toEqual(expect.arrayContaining(['Hysteresis', 'Dwell', 'DryRun']));
  });

  it('status is written only through the status subresource', async () => {
    const job = examples.find((e) => e.file === 'trainingjob-finetune-interruptible.yaml');
    expect((await apply(job?.text ?? '')).code).toBe(0);
    await c.kubectl([
      'patch',
      'trainingjob',
      'lora-finetune',
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ status: { state: 'Succeeded' } }),
    ]);
    const r = await c.kubectl(['get', 'trainingjob', 'lora-finetune', '-n', ns, '-o', 'json']);
    expect((JSON.parse(r.stdout) as { status?: { state?: string } }).status?.state).toBeUndefined();
  });

  it('the bid stays mutable', async () => {
    const r = await c.kubectl([
      'patch',
      'trainingjob',
      'lora-finetune',
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { bidUsdPerGpuHour: '0.31' } }),
    ]);
    expect(r.code).toBe(0);
    const got = await c.kubectl([
      'get',
      'tj',
      'lora-finetune',
      '-n',
      ns,
      '-o',
      'jsonpath={.spec.bidUsdPerGpuHour}',
    ]);
    expect(got.stdout).toBe('0.31');
  });

  it('short names and the rigshift category list every kind', async () => {
    const r = await c.kubectl(['api-resources', '--api-group=rigshift.io', '--no-headers']);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/));
    expect(rows.map((row) => [row[0], row[1]])).toEqual(
      expect.arrayContaining([
        ['fleetpolicies', 'fp'],
        ['miningpools', 'mp'],
        ['trainingjobs', 'tj'],
      ]),
    );
    const all = await c.kubectl(['get', 'rigshift', '-n', ns, '-o', 'name']);
    expect(all.stdout).toContain('trainingjob.rigshift.io/llm-pretrain-7b');
    expect(all.stdout).toContain('miningpool.rigshift.io/etc-2miners');
  });
});
