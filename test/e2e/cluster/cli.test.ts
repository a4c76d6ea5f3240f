// `rigshift local` as a user runs it: a second cluster beside the shared one (free ports), nodes, kubectl, down.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { isAlive } from '../../../src/local/process.js';
import { readState } from '../../../src/local/cluster.js';
import { projectRoot } from '../../../src/local/paths.js';
import { run } from '../../support/cluster.js';

const cli = (args: string[]) =>
  run(process.execPath, [join(projectRoot(), 'bin', 'rigshift.js'), ...args], process.env);

describe('rigshift local', () => {
  it('starts a second cluster side by side, adds GPU nodes, runs kubectl, and stops everything', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rigshift-cli-')), 'local');
    const up = await cli(['local', 'up', '--dir', dir]);
    expect(up.stderr).toContain('ready in');
    expect(up.code).toBe(0);
    const state = readState(dir)!;
    try {
      expect(up.stdout.trim()).toBe(join(dir, 'kubeconfig'));
      const status = await cli(['local', 'status', '--dir', dir]);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/kube-apiserver\s+running/);
      expect(status.stdout).toMatch(/kwok\s+running/);

      const add = await cli([
        'local',
        'nodes',
        'add',
        '--dir',
        dir,
        '--count',
        '2',
        '--product',
        'NVIDIA-GeForce-RTX-4090',
        '--gpus',
        '8',
        '--memory-mib',
        '24564',
      ]);
      expect(add.stderr).toContain('2 node(s) Ready');
      const get = await cli([
        'local',
        'kubectl',
        '--dir',
        dir,
        '--',
        'get',
        'nodes',
        '-o',
        'jsonpath={range .items[*]}{.metadata.labels.nvidia\\.com/gpu\\.product} {.status.allocatable.nvidia\\.com/gpu}{"\\n"}{end}',
      ]);
      expect(get.stdout.trim().split('\n')).toEqual([
        'NVIDIA-GeForce-RTX-4090 8',
        'NVIDIA-GeForce-RTX-4090 8',
      ]);
      const version = await cli(['local', 'kubectl', '--dir', dir, '--', 'version', '-o', 'json']);
      expect(JSON.parse(version.stdout).serverVersion.gitVersion).toBe('v1.35.4');
    } finally {
      const down = await cli(['local', 'down', '--dir', dir]);
      expect(down.code).toBe(0);
    }
    for (const pid of Object.values(state.pids)) expect(isAlive(pid!)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
