import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { z } from 'zod';
import {
  CRD_DIRS,
  buildCrd,
  checkCrds,
  generateCrds,
  kindSchema,
  writeCrds,
} from '../../../src/api/crdgen.js';
import {
  KINDS,
  type KindInfo,
  fleetPolicyKind,
  miningPoolKind,
  trainingJobKind,
} from '../../../src/api/v1alpha1/index.js';

type Json = Record<string, unknown>;

interface Node {
  path: string;
  schema: Json;
}

/** Every schema node below a CRD's openAPIV3Schema, with its path. */
function nodes(schema: Json, path = ''): Node[] {
  const out: Node[] = [{ path, schema }];
  for (const [k, v] of Object.entries((schema.properties as Record<string, Json> | undefined) ?? {})) {
    out.push(...nodes(v, path ? `${path}.${k}` : k));
  }
  if (schema.items) out.push(...nodes(schema.items as Json, `${path}[]`));
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    out.push(...nodes(schema.additionalProperties as Json, `${path}.*`));
  }
  return out;
}

function rootSchema(crd: Json): Json {
  const versions = (crd.spec as { versions: { schema: { openAPIV3Schema: Json } }[] }).versions;
  return versions[0]!.schema.openAPIV3Schema;
}

const generated = generateCrds();
const crds = generated.map((f) => ({ file: f.fileName, crd: yaml.load(f.content) as Json }));

describe('committed CRDs', () => {
  it.each(CRD_DIRS.map((d) => [d]))('%s matches the generator output (run `npm run crds` if not)', (dir) => {
    expect(checkCrds(join(process.cwd(), dir), generated)).toEqual([]);
  });

  it('the check notices a stale, a missing and an extra file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crds-'));
    writeCrds(dir, generated);
    expect(checkCrds(dir, generated)).toEqual([]);
    const first = generated[0]!;
    writeFileSync(join(dir, first.fileName), first.content.replace('served: true', 'served: false'));
    writeFileSync(join(dir, 'widgets.rigshift.io.yaml'), '');
    const problems = checkCrds(dir, [...generated, { fileName: 'gadgets.rigshift.io.yaml', content: 'x' }]);
    expect(problems).toEqual([
      `${join(dir, first.fileName)}: differs from the generator output`,
      `${join(dir, 'gadgets.rigshift.io.yaml')}: missing`,
      `${join(dir, 'widgets.rigshift.io.yaml')}: not generated (stale kind?)`,
    ]);
  });

  it('one file per kind, named <plural>.rigshift.io.yaml', () => {
    expect(crds.map((c) => c.file)).toEqual([
      'miningpools.rigshift.io.yaml',
      'trainingjobs.rigshift.io.yaml',
      'fleetpolicies.rigshift.io.yaml',
      'usagerecords.rigshift.io.yaml',
      'jobgrants.rigshift.io.yaml',
    ]);
  });
});

describe.each(crds.map((c) => [c.file, c.crd] as const))('%s', (_file, crd) => {
  const root = rootSchema(crd);
  // apiVersion, kind and metadata are the API server's own, checked by it.
  const all = nodes(root).filter((n) => !['', 'apiVersion', 'kind', 'metadata'].includes(n.path));

  it('describes every field (kubectl explain is the user manual)', () => {
    const missing = all.filter(
      (n) => typeof n.schema.description !== 'string' || n.schema.description.length < 5,
    );
    expect(missing.map((n) => n.path)).toEqual([]);
  });

  it('bounds every string and list', () => {
    const unbounded = all.filter((n) => {
      const s = n.schema;
      if (s.type === 'string' && !s.enum && s.maxLength === undefined) return true;
      if (s.type === 'array' && s.maxItems === undefined) return true;
      if (s['x-kubernetes-int-or-string'] && s.maxLength === undefined) return true;
      return s.type === 'object' && s.additionalProperties !== undefined && s.maxProperties === undefined;
    });
    expect(unbounded.map((n) => n.path)).toEqual([]);
  });

  it('is structural: a type on every node, anyOf only for int-or-string', () => {
    for (const n of all) {
      if (n.schema['x-kubernetes-int-or-string']) {
        expect(n.schema.anyOf).toEqual([{ type: 'integer' }, { type: 'string' }]);
      } else {
        expect([n.path, typeof n.schema.type]).toEqual([n.path, 'string']);
        expect(n.schema.anyOf).toBeUndefined();
      }
    }
  });

  it('names the field in every CEL message', () => {
    const rules = [root, ...all.map((n) => n.schema)].flatMap(
      (s) => (s['x-kubernetes-validations'] as { rule: string; message: string }[] | undefined) ?? [],
    );
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) expect(r.message).toMatch(/^(spec|metadata)\.[A-Za-z]/);
  });

  it('has a status subresource, the rigshift category and a short name', () => {
    const spec = crd.spec as {
      names: { categories: string[]; shortNames: string[] };
      versions: { subresources: Json; served: boolean; storage: boolean }[];
    };
    expect(spec.names.categories).toEqual(['rigshift']);
    expect(spec.names.shortNames).toHaveLength(1);
    expect(spec.versions[0]?.subresources).toEqual({ status: {} });
    expect(spec.versions[0]?.served && spec.versions[0]?.storage).toBe(true);
  });
});

describe('kind details', () => {
  const columns = (k: KindInfo) => k.printerColumns.filter((c) => !c.priority).map((c) => c.name);

  it('prints the columns users look for', () => {
    expect(columns(trainingJobKind)).toEqual(['Replicas', 'GPUs/Replica', 'Bid', 'Tier', 'State', 'Age']);
    expect(columns(miningPoolKind)).toEqual(['Coin', 'Yield', 'Mining GPUs', 'Ready', 'Age']);
    expect(columns(fleetPolicyKind)).toEqual(['Hysteresis', 'Dwell', 'DryRun', 'Age']);
  });

  it('keeps the names other tools rely on', () => {
    const spec = (k: KindInfo) =>
      (kindSchema(k).schema.properties as Record<string, Json>).spec!.properties as Record<string, Json>;
    const profile = ((spec(miningPoolKind).gpuProfiles!.items as Json).properties as Record<string, Json>)!;
    expect(Object.keys(profile)).toEqual([
      'product',
      'resourceName',
      'hashrate',
      'miningWatts',
      'trainingWatts',
      'idleWatts',
    ]);
    expect(spec(miningPoolKind).poolFeePercent).toBeDefined();
    for (const f of ['hysteresisPercent', 'minDwellSeconds', 'switchingSeconds', 'allowIdle', 'dryRun']) {
      expect(spec(fleetPolicyKind)[f]).toBeDefined();
    }
    for (const f of ['replicas', 'gpusPerReplica', 'bidUsdPerGpuHour', 'tier']) {
      expect(spec(trainingJobKind)[f]).toBeDefined();
    }
    expect(spec(fleetPolicyKind).allowIdle?.default).toBe(true);
    expect(spec(trainingJobKind).tier?.enum).toEqual(['OnDemand', 'Interruptible']);
  });

  it('FleetPolicy is cluster-scoped and must be named default', () => {
    const crd = buildCrd(fleetPolicyKind) as { spec: { scope: string } };
    expect(crd.spec.scope).toBe('Cluster');
    const rules = kindSchema(fleetPolicyKind).schema['x-kubernetes-validations'] as { rule: string }[];
    expect(rules.map((r) => r.rule)).toEqual(["self.metadata.name == 'default'"]);
  });

  it('usage lines are a list map keyed by the job uid; the name is the month', () => {
    const k = KINDS.find((x) => x.kind === 'UsageRecord')!;
    const { schema } = kindSchema(k);
    const status = (schema.properties as Record<string, Json>).status!;
    const jobs = (status.properties as Record<string, Json>).jobs!;
    expect(jobs['x-kubernetes-list-map-keys']).toEqual(['uid']);
    expect(schema['x-kubernetes-validations']).toEqual([
      expect.objectContaining({ rule: 'self.metadata.name == self.spec.month' }),
    ]);
  });

  it('conditions are a list map keyed by type', () => {
    // A UsageRecord is a ledger and JobGrants a policy parameter, not reconciled objects: no conditions.
    for (const k of KINDS.filter((x) => x.kind !== 'UsageRecord' && x.kind !== 'JobGrants')) {
      const status = (kindSchema(k).schema.properties as Record<string, Json>).status!;
      const conditions = (status.properties as Record<string, Json>).conditions!;
      expect(conditions['x-kubernetes-list-type']).toBe('map');
      expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
    }
  });

  it('the generator refuses fields without a description, unbounded lists and strings', () => {
    const bad: KindInfo = {
      ...fleetPolicyKind,
      kind: 'Broken',
      specSchema: z.object({
        name: z.string().describe('A name.'),
        tags: z.array(z.string().max(5).describe('A tag.')).describe('Tags.'),
        size: z.int(),
      }),
    };
    expect(kindSchema(bad).problems.sort()).toEqual([
      'Broken spec.name: string without maxLength',
      'Broken spec.size: no description',
      'Broken spec.tags: list without maxItems',
      'Broken spec: no description',
    ]);
    expect(() => buildCrd(bad)).toThrow('CRD schema problems');
  });
});
