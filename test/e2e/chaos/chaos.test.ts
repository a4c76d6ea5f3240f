// `rigshift chaos` at a short setting, as CI runs it: its own local cluster beside the shared one, the real
// operator as child processes killed with SIGKILL, two API server restarts, a frozen watch; the farm must
// converge with no invariant broken. The full run (`rigshift chaos`, 600 s, 50 kills) is a documented command.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { ChaosReport } from '../../../src/chaos/run.js';
import { projectRoot } from '../../../src/local/paths.js';
import { run } from '../../support/cluster.js';

describe('rigshift chaos', () => {
  it('a farm under kills, API server restarts and a frozen watch converges with no invariant broken', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rigshift-chaos-')), 'chaos');
    const r = await run(
      process.execPath,
      [
        join(projectRoot(), 'bin', 'rigshift.js'),
        'chaos',
        '--seed',
        '2',
        '--duration',
        '30',
        '--kills',
        '3',
        '--nodes',
        '6',
        '--quiet',
        '150',
        '--dir',
        dir,
        '--json',
      ],
      { ...process.env },
    );
    const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ChaosReport;
    expect(report.violations).toEqual([]);
    expect(r.code).toBe(0);
    expect(report.faults).toMatchObject({ apiServerRestarts: 2, watchFreezes: 1 });
    // A kill finds no replica when every one is down at that instant (killed, or exiting on a lost lease).
    expect(report.faults.kills).toBeGreaterThanOrEqual(1);
    expect(report.faults.secondReplicaSeconds).toBeGreaterThan(0);
    expect(report.jobsSubmitted).toBeGreaterThan(5);
    expect(report.quietConvergeSeconds).not.toBeNull();
    expect(report.faults.killsSurvived).toBe(report.faults.kills);
  }, 600_000);
});
