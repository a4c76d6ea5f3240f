// Starts one local cluster shared by every cluster test file. Plain JS on the compiled dist/ because jest
// runs global setup outside its module registry (run `npm run build` first; `npm test` does).
// Set RIGSHIFT_TEST_KUBECONFIG to reuse a running cluster (e.g. `rigshift local up --dir .rigshift/dev`).
import { join } from 'node:path';
import { startLocalCluster } from '../../dist/local/cluster.js';
import { projectRoot } from '../../dist/local/paths.js';
import { ensureTools } from '../../dist/local/tools.js';

export default async function globalSetup() {
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
