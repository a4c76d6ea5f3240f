export default async function globalTeardown(): Promise<void> {
  const { teardownSharedCluster } = await import('./shared-cluster.js');
  await teardownSharedCluster();
}
