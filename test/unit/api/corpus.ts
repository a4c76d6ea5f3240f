// Reads the invalid-manifest corpus: each file starts with `# expect: <fragment>` lines (every fragment must
// appear in the API server's error) and optionally `# mode: update` (create the first document, then apply the
// second, which must be rejected) and `# zod: accepts` (a rule only the API server applies). Shared by the unit tests (zod) and the cluster tests (API server).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';

export const INVALID_DIR = join(process.cwd(), 'test', 'fixtures', 'invalid');
export const EXAMPLES_DIR = join(process.cwd(), 'deploy', 'examples');

export interface InvalidFixture {
  file: string;
  what: string;
  expect: string[];
  mode: 'create' | 'update';
  /** `# zod: accepts`: a rule only the API server applies (the operator's parser accepts the object). */
  zodAccepts: boolean;
  /** YAML text of each document. */
  documents: string[];
  objects: Record<string, unknown>[];
}

export function loadInvalidFixtures(): InvalidFixture[] {
  return readdirSync(INVALID_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(INVALID_DIR, file), 'utf8');
      const header = text.split('\n').filter((l) => l.startsWith('#'));
      const expect = header
        .filter((l) => l.startsWith('# expect: '))
        .map((l) => l.slice('# expect: '.length));
      const what = header.find((l) => l.startsWith('# Invalid: '))?.slice('# Invalid: '.length) ?? file;
      const mode = header.some((l) => l.startsWith('# mode: update')) ? 'update' : 'create';
      const documents = text.split(/^---$/m).map((d) => d.trim() + '\n');
      const objects = documents.map((d) => yaml.load(d) as Record<string, unknown>);
      const zodAccepts = header.some((l) => l.startsWith('# zod: accepts'));
      return { file, what, expect, mode, zodAccepts, documents, objects };
    });
}

/** The example manifests, one object per file. */
export function loadExamples(): { file: string; text: string; object: Record<string, unknown> }[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(EXAMPLES_DIR, file), 'utf8');
      return { file, text, object: yaml.load(text) as Record<string, unknown> };
    });
}
