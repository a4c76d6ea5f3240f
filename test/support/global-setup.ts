// Starts one local cluster shared by every cluster test file (see test/support/cluster.ts).
export default async function globalSetup(): Promise<void> {
  const { setupSharedCluster } = await import('./shared-cluster.js');
  await setupSharedCluster();
}
