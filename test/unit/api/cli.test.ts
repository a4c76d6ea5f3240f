import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCrds } from '../../../src/api/crdgen.js';
import { buildProgram } from '../../../src/cli/index.js';

async function rigshift(...args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    lines.push(a.join(' '));
  });
  try {
    await buildProgram().parseAsync(['node', 'rigshift', ...args]);
  } finally {
    spy.mockRestore();
  }
  return lines;
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('rigshift crds', () => {
  it('writes the CRDs into --out, and --check passes on them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crds-cli-'));
    const written = await rigshift('crds', '--out', dir);
    expect(written).toHaveLength(5);
    const files = generateCrds();
    expect(readdirSync(dir).sort()).toEqual(files.map((f) => f.fileName).sort());
    for (const f of files) expect(readFileSync(join(dir, f.fileName), 'utf8')).toBe(f.content);
    const checked = await rigshift('crds', '--out', dir, '--check');
    expect(process.exitCode).toBeUndefined();
    expect(checked).toEqual([`CRDs up to date in ${dir}`]);
  });

  it('--check exits 1 and names the stale file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crds-cli-'));
    await rigshift('crds', '--out', dir);
    const stale = join(dir, 'trainingjobs.rigshift.io.yaml');
    appendFileSync(stale, '# hand edit\n');
    const lines = await rigshift('crds', '--out', dir, '--check');
    expect(process.exitCode).toBe(1);
    expect(lines[0]).toBe(`${stale}: differs from the generator output`);
    expect(lines.at(-1)).toContain('npm run crds');
  });
});
