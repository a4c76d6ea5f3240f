import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kindSchema } from '../../../src/api/crdgen.js';
import {
  CRD_REFERENCE_PATH,
  checkCrdReference,
  constraintsOf,
  generateCrdReference,
  prose,
  typeOf,
} from '../../../src/api/docs.js';
import { KINDS, type KindInfo } from '../../../src/api/v1alpha1/index.js';

type Json = Record<string, unknown>;

const reference = generateCrdReference();

/** Every schema path below spec and status, as the reference names them. */
function paths(schema: Json, path: string): string[] {
  const out = [path];
  for (const [k, v] of Object.entries((schema.properties as Record<string, Json> | undefined) ?? {})) {
    out.push(...paths(v, `${path}.${k}`));
  }
  if (schema.items) out.push(...paths(schema.items as Json, `${path}[]`));
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    out.push(...paths(schema.additionalProperties as Json, `${path}.*`));
  }
  return out;
}

/** The reference's section of one kind (from its `## Kind` heading to the next). */
function kindText(kind: string): string {
  const start = reference.indexOf(`\n## ${kind}\n`);
  const next = reference.indexOf('\n## ', start + 1);
  return reference.slice(start, next < 0 ? undefined : next);
}

/** The facts line under a field's heading in one kind's section. */
function facts(kind: string, path: string): string {
  const text = kindText(kind);
  const at = text.indexOf(`#### \`${path}\`\n\n`);
  if (at < 0) throw new Error(`${kind} ${path} not documented`);
  return text.slice(at).split('\n')[2]!;
}

describe('CRD reference', () => {
  it(`the committed ${CRD_REFERENCE_PATH} matches the generator output (run \`npm run docs\` if not)`, () => {
    expect(checkCrdReference(join(process.cwd(), CRD_REFERENCE_PATH), reference)).toEqual([]);
  });

  it('the check notices a stale and a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'docs-'));
    const file = join(dir, 'ref.md');
    expect(checkCrdReference(file, reference)).toEqual([`${file}: missing`]);
    writeFileSync(file, reference);
    expect(checkCrdReference(file, reference)).toEqual([]);
    writeFileSync(file, reference.replace('default `5`', 'default `6`'));
    expect(checkCrdReference(file, reference)).toEqual([`${file}: differs from the generator output`]);
  });

  it.each(KINDS.map((k): [string, KindInfo] => [k.kind, k]))(
    'documents every field of %s with its description',
    (_name, kind) => {
      const { schema } = kindSchema(kind);
      const props = schema.properties as Record<string, Json>;
      const text = kindText(kind.kind);
      for (const part of ['spec', 'status']) {
        for (const p of paths(props[part]!, part)) {
          expect(text).toContain(`#### \`${p}\`\n`);
        }
      }
      expect(text).toContain(prose(kind.description));
    },
  );

  it('states type, required, default and constraints of a field', () => {
    expect(facts('FleetPolicy', 'spec.hysteresisPercent')).toBe(
      'integer · optional · default `5` · 0 to 100',
    );
    expect(facts('FleetPolicy', 'spec.drainTimeoutPolicy')).toBe(
      'string · optional · default `"Wait"` · one of `Wait`, `ForceEvict`, `Abort`',
    );
    expect(facts('FleetPolicy', 'spec.maxConcurrentDrains')).toMatch(
      /^integer or string · optional · default `"10%"`/,
    );
    expect(facts('TrainingJob', 'spec.bidUsdPerGpuHour')).toMatch(/^string · \*\*required\*\*/);
    expect(facts('TrainingJob', 'spec.env')).toContain('unique by `name` (list map)');
    expect(facts('TrainingJob', 'spec.gpuProducts')).toContain('unique items (set)');
  });

  it('lists CEL rules by their messages', () => {
    expect(kindText('TrainingJob')).toContain(
      '- Rule: spec.image is immutable: delete and recreate the TrainingJob to change it',
    );
    expect(kindText('FleetPolicy')).toContain('- Rule: metadata.name must be "default"');
  });

  it('types and constraints of schema shapes', () => {
    expect(typeOf({ type: 'array', items: { type: 'string' } })).toBe('list of string');
    expect(typeOf({ type: 'object', additionalProperties: { type: 'string' } })).toBe(
      'map of string to string',
    );
    expect(typeOf({ type: 'string', format: 'date-time' })).toBe('string (RFC 3339 time)');
    expect(constraintsOf({ type: 'integer', minimum: 0, exclusiveMinimum: true })).toEqual([
      'greater than 0',
    ]);
    expect(constraintsOf({ type: 'string', minLength: 2, maxLength: 2 })).toEqual(['exactly 2 characters']);
    expect(constraintsOf({ type: 'object', maxProperties: 32 })).toEqual(['at most 32 entries']);
  });

  it('escapes emphasis and HTML in prose but keeps code spans and words with underscores', () => {
    expect(prose('rigshift.io/* and <b> and _x_ in `a*b` RIGSHIFT_POOL')).toBe(
      'rigshift.io/\\* and \\<b> and \\_x\\_ in `a*b` RIGSHIFT_POOL',
    );
  });
});
