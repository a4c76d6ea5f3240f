import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKubeClient, loadKubeConfig } from '../../../src/kube/client.js';

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: farm
  cluster:
    server: https://10.0.0.1:6443
    insecure-skip-tls-verify: true
- name: lab
  cluster:
    server: https://10.0.0.2:6443
    insecure-skip-tls-verify: true
users:
- name: op
  user:
    token: abc
contexts:
- name: farm
  context: { cluster: farm, user: op }
- name: lab
  context: { cluster: lab, user: op }
current-context: farm
`;

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function writeConfig(): string {
  dir = mkdtempSync(join(tmpdir(), 'rigshift-kc-'));
  const p = join(dir, 'config');
  writeFileSync(p, kubeconfig);
  return p;
}

describe('loadKubeConfig', () => {
  it('loads a file and its current context', () => {
    const kc = loadKubeConfig({ kubeconfig: writeConfig() });
    expect(kc.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
  });

  it('switches to a named context', () => {
    const kc = loadKubeConfig({ kubeconfig: writeConfig(), context: 'lab' });
    expect(kc.getCurrentCluster()?.server).toBe('https://10.0.0.2:6443');
  });

  it.each([
    [{ kubeconfig: '/nonexistent/kubeconfig' }, /does not exist/],
    [{ kubeconfig: '/x', inCluster: true }, /either/],
  ])('refuses %j', (src, msg) => {
    expect(() => loadKubeConfig(src)).toThrow(msg);
  });

  it('explains a missing in-cluster environment', () => {
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      expect(() => loadKubeConfig({ inCluster: true })).toThrow(/KUBERNETES_SERVICE_HOST/);
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  });

  it('makes typed clients and the raw client from one config', () => {
    const client = createKubeClient(loadKubeConfig({ kubeconfig: writeConfig() }));
    expect(typeof client.core.listNode).toBe('function');
    expect(typeof client.coordination.readNamespacedLease).toBe('function');
    expect(typeof client.rest.request).toBe('function');
    expect(client.rest.kc).toBe(client.kc);
  });
});
