// The chart's values against the API: values.schema.json's fleetPolicy.spec is derived from the generated
// FleetPolicy CRD (so `helm install` rejects what the API server would), and values.yaml's defaults are the
// API's defaults. After an API change run
//   RIGSHIFT_UPDATE_VALUES_SCHEMA=1 NODE_OPTIONS=--experimental-vm-modules npx jest test/unit/install/values-schema
// to rewrite the derived part, then review the diff.
import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { FLEET_POLICY_NAME, parseFleetPolicy, QUANTITY } from '../../../src/api/v1alpha1/index.js';

type Json = Record<string, unknown>;

const CHART = join(process.cwd(), 'helm', 'rigshift');
const SCHEMA_PATH = join(CHART, 'values.schema.json');

function crdSpecSchema(): Json {
  const crd = yaml.load(
    readFileSync(join(process.cwd(), 'crds', 'fleetpolicies.rigshift.io.yaml'), 'utf8'),
  ) as Json;
  const version = (crd.spec as { versions: Json[] }).versions[0] as Json;
  const root = (version.schema as Json).openAPIV3Schema as Json;
  return (root.properties as Json).spec as Json;
}

/** The one regular expression in a CEL `self.matches('...')` call. */
function celPattern(rule: string): string {
  const m = /self\.matches\('((?:[^'\\]|\\.)*)'\)/.exec(rule);
  if (!m?.[1]) throw new Error(`cannot turn CEL rule into a JSON schema: ${rule}`);
  return m[1];
}

/** A Kubernetes quantity, as a pattern (what `isQuantity(self)` checks). */
const QUANTITY_PATTERN = QUANTITY.source;

/**
 * An object property (e.g. defaultTrainingResources) as a JSON schema: no Kubernetes extensions, closed objects,
 * quantity rules as patterns. Rules comparing its fields (request ≤ limit) have no JSON schema form: the API
 * server checks them when the chart's FleetPolicy is applied.
 */
function convertObject(prop: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(prop)) {
    if (k.startsWith('x-kubernetes-') || k === 'format') continue;
    out[k] = v;
  }
  if (prop.type === 'object' && prop.properties) {
    out.additionalProperties = false;
    out.properties = Object.fromEntries(
      Object.entries(prop.properties as Record<string, Json>).map(([k, v]) => [k, convertObject(v)]),
    );
  }
  const rules = (prop['x-kubernetes-validations'] as { rule: string }[] | undefined) ?? [];
  if (prop.type === 'string' && rules.some((r) => r.rule.startsWith('isQuantity(self)')))
    out.pattern = QUANTITY_PATTERN;
  return out;
}

/** One CRD property as a JSON schema Helm understands: no Kubernetes extensions, CEL rules as patterns. */
function convert(name: string, prop: Json): Json {
  if (prop.type === 'object') return convertObject(prop);
  const out: Json = {};
  for (const [k, v] of Object.entries(prop)) {
    if (k.startsWith('x-kubernetes-') || k === 'format' || k === 'anyOf') continue;
    out[k] = v;
  }
  const rules = (prop['x-kubernetes-validations'] as { rule: string }[] | undefined) ?? [];
  if (prop['x-kubernetes-int-or-string']) {
    // `type(self) == int ? self >= N : self.matches('re')`
    const [rule, ...rest] = rules;
    const min = rule && /self >= (\d+)/.exec(rule.rule);
    if (!rule || !min?.[1] || rest.length > 0) throw new Error(`${name}: unexpected int-or-string rules`);
    delete out.maxLength;
    out.oneOf = [
      { type: 'integer', minimum: Number(min[1]) },
      { type: 'string', maxLength: prop.maxLength, pattern: celPattern(rule.rule) },
    ];
    return out;
  }
  if (rules.length > 1) throw new Error(`${name}: several CEL rules`);
  if (rules[0]) out.pattern = celPattern(rules[0].rule);
  if (prop.default === undefined && out.type === 'string') {
    // Optional in the API: the empty string in values means "absent" (the template leaves it out).
    const { description, ...rest } = out;
    return { description, anyOf: [{ const: '' }, rest] };
  }
  return out;
}

function derivedFleetSpecSchema(): Json {
  const spec = crdSpecSchema();
  const props = { ...(spec.properties as Record<string, Json>) };
  delete props.priorityClasses; // from the chart's priorityClasses values: one name for the class and the policy
  return {
    type: 'object',
    description: `${String(spec.description)} Derived from the FleetPolicy CRD; priorityClasses come from the chart's priorityClasses values.`,
    additionalProperties: false,
    properties: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, convert(k, v)])),
  };
}

describe('values.schema.json', () => {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Json;
  const fleet = (schema.properties as Json).fleetPolicy as { properties: Json };

  it('checks fleetPolicy.spec exactly as the FleetPolicy CRD does', () => {
    const derived = derivedFleetSpecSchema();
    if (process.env.RIGSHIFT_UPDATE_VALUES_SCHEMA) {
      fleet.properties.spec = derived;
      writeFileSync(SCHEMA_PATH, `${JSON.stringify(schema, null, 2)}\n`);
    }
    expect(fleet.properties.spec).toEqual(derived);
  });

  it('carries every CRD spec field but priorityClasses, which the chart fills from its PriorityClasses', () => {
    const crdFields = Object.keys(crdSpecSchema().properties as Json).sort();
    const valueFields = Object.keys((fleet.properties.spec as { properties: Json }).properties).sort();
    expect(valueFields).toEqual(crdFields.filter((f) => f !== 'priorityClasses'));
  });

  it('rejects unknown keys at every level it owns (a typo fails instead of being ignored)', () => {
    const open: string[] = [];
    const walk = (s: Json, path: string) => {
      if (s.type !== 'object' || !s.properties) return;
      if (s.additionalProperties !== false) open.push(path || '<root>');
      for (const [k, v] of Object.entries(s.properties as Record<string, Json>)) walk(v, `${path}.${k}`);
    };
    walk(schema, '');
    expect(open).toEqual([]);
  });
});

describe('values.yaml', () => {
  const values = yaml.load(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as {
    priorityClasses: { mining: { name: string; value: number }; training: { name: string; value: number } };
    fleetPolicy: { create: boolean; spec: Json };
  };

  it('defaults the FleetPolicy to the API defaults', () => {
    const parsed = parseFleetPolicy({ metadata: { name: FLEET_POLICY_NAME } });
    if (!parsed.ok) throw new Error(parsed.error);
    const { floorRentalUsdPerGpuHour, ...spec } = values.fleetPolicy.spec;
    expect(floorRentalUsdPerGpuHour).toBe('');
    expect({
      ...spec,
      priorityClasses: {
        mining: values.priorityClasses.mining.name,
        training: values.priorityClasses.training.name,
      },
    }).toEqual(parsed.value.spec);
  });

  it('puts mining below every ordinary pod and training far above it', () => {
    expect(values.priorityClasses.mining.value).toBeLessThan(0);
    expect(values.priorityClasses.training.value).toBeGreaterThan(values.priorityClasses.mining.value);
  });
});
