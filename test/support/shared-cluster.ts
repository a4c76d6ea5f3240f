// One local cluster for all cluster test files. Set RIGSHIFT_TEST_KUBECONFIG to reuse a running cluster
// (e.g. one from `rigshift local up --dir .rigshift/dev`) instead of starting a fresh one.
import { join } from 'node:path';
import { readState, startLocalCluster, stopLocalCluster } from '../../src/local/cluster.js';
import { projectRoot } from '../../src/local/paths.js';
import { ensureTools } from '../../src/local/tools.js';

export async function setupSharedCluster(): Promise<void> {
  ensureTools();
  if (process.env.RIGSHIFT_TEST_KUBECONFIG) return;
  const dir = join(projectRoot(), '.rigshift', `test-cluster-${process.pid}`);
  const cluster = await startLocalCluster({
    dir,
    progress: (line) => process.stderr.write(`test cluster: ${line}\n`),
  });
  process.env.RIGSHIFT_TEST_KUBECONFIG = cluster.kubeconfigPath;
  process.env.RIGSHIFT_TEST_CLUSTER_DIR = dir;
}

export async function teardownSharedCluster(): Promise<void> {
  const dir = process.env.RIGSHIFT_TEST_CLUSTER_DIR;
  if (!dir) return;
  const state = readState(dir);
  if (state) await stopLocalCluster(state);
}
