// The zod schemas and the CRDs come from one source, so the operator's parser must refuse what the API server
// refuses (the cluster tests check the API server side of the same corpus) and accept the examples.
import { describe, expect, it } from '@jest/globals';
import {
  type ParseResult,
  parseFleetPolicy,
  parseMiningPool,
  parseTrainingJob,
} from '../../../src/api/v1alpha1/index.js';
import { loadExamples, loadInvalidFixtures } from './corpus.js';

const parsers: Record<string, (o: unknown) => ParseResult<unknown>> = {
  MiningPool: parseMiningPool,
  TrainingJob: parseTrainingJob,
  FleetPolicy: parseFleetPolicy,
};

function parse(obj: Record<string, unknown>): ParseResult<unknown> {
  const parser = parsers[String(obj.kind)];
  if (!parser) throw new Error(`no parser for kind ${String(obj.kind)}`);
  return parser(obj);
}

/** `spec.gpuProfiles[0].hashrate` → `spec.gpuProfiles.hashrate`, to compare paths with or without indexes. */
const bare = (s: string) => s.replace(/\[\d*\]/g, '');

const fixtures = loadInvalidFixtures();

describe('invalid manifest corpus', () => {
  it('holds at least 30 manifests', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
  });

  it.each(fixtures.filter((f) => f.mode === 'create' && !f.zodAccepts).map((f) => [f.file, f] as const))(
    '%s is refused by the zod schema too, naming the same field',
    (_file, f) => {
      const r = parse(f.objects[0]!);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      const field = f.expect.map((e) => /(spec|metadata)(\.[A-Za-z]+|\[\d*\])+/.exec(e)?.[0]).find(Boolean);
      if (field) expect(bare(r.error)).toContain(bare(field));
    },
  );

  it.each(fixtures.filter((f) => f.zodAccepts).map((f) => [f.file, f] as const))(
    '%s is a server-only rule: the zod schema accepts it',
    (_file, f) => {
      expect(parse(f.objects[0]!)).toMatchObject({ ok: true });
    },
  );

  it.each(fixtures.filter((f) => f.mode === 'update').map((f) => [f.file, f] as const))(
    '%s: both versions are valid on their own (only the change is refused)',
    (_file, f) => {
      expect(f.objects).toHaveLength(2);
      for (const o of f.objects) expect(parse(o)).toMatchObject({ ok: true });
    },
  );
});

describe('examples', () => {
  const examples = loadExamples().filter((e) => e.object.apiVersion === 'rigshift.io/v1alpha1');

  it('cover every kind', () => {
    expect(new Set(examples.map((e) => e.object.kind))).toEqual(
      new Set(['MiningPool', 'TrainingJob', 'FleetPolicy']),
    );
  });

  it.each(examples.map((e) => [e.file, e.object] as const))('%s parses without warnings', (_file, obj) => {
    const r = parse(obj);
    if (!r.ok) throw new Error(r.error);
    expect(r.warnings).toEqual([]);
  });

  it('the farm has RTX 3090 and 4090 profiles and a 4×8 OnDemand gang', () => {
    const byFile = new Map(loadExamples().map((e) => [e.file, e.object]));
    const pool = parseMiningPool(byFile.get('miningpool-etc.yaml'));
    const gang = parseTrainingJob(byFile.get('trainingjob-llm-pretrain-4x8.yaml'));
    const spot = parseTrainingJob(byFile.get('trainingjob-finetune-interruptible.yaml'));
    if (!pool.ok || !gang.ok || !spot.ok) throw new Error('example does not parse');
    expect(pool.value.spec.gpuProfiles.map((p) => p.product).sort()).toEqual([
      'NVIDIA-GeForce-RTX-3090',
      'NVIDIA-GeForce-RTX-4090',
    ]);
    expect([gang.value.spec.replicas, gang.value.spec.gpusPerReplica, gang.value.spec.tier]).toEqual([
      4,
      8,
      'OnDemand',
    ]);
    expect(spot.value.spec.tier).toBe('Interruptible');
  });
});
