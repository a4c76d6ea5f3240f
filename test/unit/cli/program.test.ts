import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { buildProgram } from '../../../src/cli/index.js';

describe('rigshift CLI', () => {
  it('lists its subcommands', () => {
    const names = buildProgram().commands.map((c) => c.name());
    expect(names).toContain('local');
  });

  it('loads the ESM-only Kubernetes client under jest', () => {
    const kc = new k8s.KubeConfig();
    expect(typeof kc.makeApiClient).toBe('function');
  });
});
