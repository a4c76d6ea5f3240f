// What cluster test files use: the shared local cluster, kubectl, namespaces and GPU nodes.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { addGpuNodes, type GpuNodeSpec } from '../../src/local/nodes.js';
import { projectRoot } from '../../src/local/paths.js';
import { ensureTools } from '../../src/local/tools.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface TestCluster {
  kubeconfigPath: string;
  kc: k8s.KubeConfig;
  /** Runs the official kubectl; rejects on a non-zero exit unless allowFail. */
  kubectl(args: string[], opts?: { input?: string; allowFail?: boolean }): Promise<RunResult>;
  /** Runs the official helm with the cluster's kubeconfig. */
  helm(args: string[], opts?: { input?: string; allowFail?: boolean }): Promise<RunResult>;
  /** A fresh namespace named `<prefix>-<random>`. */
  createNamespace(prefix: string): Promise<string>;
  addGpuNodes(spec: GpuNodeSpec): Promise<string[]>;
  /** Applies crds/ (server-side, once per test file) and waits until every CRD is Established. */
  installCrds(): Promise<void>;
}

export function run(bin: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? 1 }));
    child.stdin.end(input ?? '');
  });
}

let cached: TestCluster | undefined;
let crdsInstalled: Promise<void> | undefined;

export async function getTestCluster(): Promise<TestCluster> {
  if (cached) return cached;
  const kubeconfigPath = process.env.RIGSHIFT_TEST_KUBECONFIG;
  if (!kubeconfigPath)
    throw new Error('RIGSHIFT_TEST_KUBECONFIG is not set: run cluster tests through jest (global setup)');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const tools = ensureTools();
  const env = { ...process.env, KUBECONFIG: kubeconfigPath };
  const tool =
    (bin: string) =>
    async (args: string[], opts: { input?: string; allowFail?: boolean } = {}): Promise<RunResult> => {
      const r = await run(bin, args, env, opts.input);
      if (r.code !== 0 && !opts.allowFail) {
        throw new Error(`${bin} ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
      }
      return r;
    };
  const core = kc.makeApiClient(k8s.CoreV1Api);
  cached = {
    kubeconfigPath,
    kc,
    kubectl: tool(tools.kubectl),
    helm: tool(tools.helm),
    async createNamespace(prefix) {
      const name = `${prefix}-${randomBytes(3).toString('hex')}`;
      await core.createNamespace({ body: { metadata: { name } } });
      await waitFor(`default ServiceAccount in ${name}`, async () => {
        try {
          return await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
        } catch {
          return undefined;
        }
      });
      return name;
    },
    addGpuNodes: (spec) => addGpuNodes(kc, spec),
    installCrds() {
      crdsInstalled ??= (async () => {
        const dir = join(projectRoot(), 'crds');
        const names = readdirSync(dir)
          .filter((f) => f.endsWith('.yaml'))
          .map((f) => `crd/${f.replace(/\.yaml$/, '')}`);
        const kubectl = tool(tools.kubectl);
        await kubectl([
          'apply',
          '--server-side',
          '--force-conflicts',
          '--field-manager=rigshift-crds',
          '-f',
          dir,
        ]);
        await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
      })();
      return crdsInstalled;
    },
  };
  return cached;
}

/** Polls `fn` until it returns a truthy value; throws with the description (and last error) on timeout. */
export async function waitFor<T>(
  description: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: last error ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const uniqueSuffix = (): string => randomBytes(3).toString('hex');
