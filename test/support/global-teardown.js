import { readState, stopLocalCluster } from '../../dist/local/cluster.js';

export default async function globalTeardown() {
  const dir = process.env.RIGSHIFT_TEST_CLUSTER_DIR;
  if (!dir) return;
  const state = readState(dir);
  if (state) await stopLocalCluster(state);
}
