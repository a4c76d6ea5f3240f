// Placeholder until the local cluster lands (issue 2); replaced by the real start/stop.
export async function setupSharedCluster(): Promise<void> {}
export async function teardownSharedCluster(): Promise<void> {}
