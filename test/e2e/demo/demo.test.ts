// `rigshift demo --hours N` as CI runs it: its own cluster beside the shared one, the real operator, the
// embedded trace; it must finish on its own, report revenue against always-mine, draw a chart, and leave
// nothing running.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { projectRoot } from '../../../src/local/paths.js';
import { run } from '../../support/cluster.js';

describe('rigshift demo', () => {
  it('replays market hours on a local farm non-interactively and cleans up', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rigshift-demo-')), 'demo');
    const chart = join(dir, 'chart.svg');
    const r = await run(
      process.execPath,
      [
        join(projectRoot(), 'bin', 'rigshift.js'),
        'demo',
        '--hours',
        '6',
        '--speed',
        '2',
        '--nodes',
        '2',
        '--dir',
        dir,
        '--chart',
        chart,
      ],
      { ...process.env },
    );
    expect(r.stderr).toContain('operator started');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('replayed 6 market hours');
    const revenue = Number(/revenue\s+\$(-?[\d.]+)/.exec(r.stdout)?.[1]);
    const alwaysMine = Number(/always-mine\s+\$(-?[\d.]+)/.exec(r.stdout)?.[1]);
    expect(Number.isFinite(revenue)).toBe(true);
    // Four nodes of 8 GPUs mining for 6 hours at June 2022 yields earn something: the ledger saw the farm.
    expect(alwaysMine).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/jobs: \d+ submitted/);
    const svg = readFileSync(chart, 'utf8');
    expect(svg.startsWith('<svg') || svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('RTX-4090');
    // The demo's cluster is gone (its state folder is removed with every process stopped).
    expect(existsSync(join(dir, 'cluster', 'state.json'))).toBe(false);
  });
});
