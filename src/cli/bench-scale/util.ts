import type { KubeClient } from '../../kube/client.js';
import { Kinds, resourcePath } from '../../kube/resources.js';

/** Namespace of the operator, its pools and the TrainingJobs. */
export const NS = 'bench';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds (checked on the benchmark's caches), saying how far it got every 5 s. */
export async function waitUntil(
  what: string,
  cond: () => boolean,
  timeoutMs: number,
  progress: (line: string) => void,
  status?: () => string,
): Promise<boolean> {
  const start = Date.now();
  let said = start;
  while (!cond()) {
    if (Date.now() - start > timeoutMs) {
      progress(`gave up waiting for ${what} after ${timeoutMs / 1000} s${status ? `: ${status()}` : ''}`);
      return false;
    }
    if (status && Date.now() - said >= 5000) {
      said = Date.now();
      progress(`${what}: ${status()} (${((said - start) / 1000).toFixed(0)} s)`);
    }
    await sleep(50);
  }
  return true;
}

/** Runs `fn` over `items`, `limit` at a time. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function createTrainingJob(
  client: KubeClient,
  name: string,
  shape: { replicas: number; gpus: number },
): Promise<void> {
  await client.rest.request({
    method: 'POST',
    path: resourcePath(Kinds.TrainingJob, { namespace: NS }),
    body: {
      apiVersion: 'rigshift.io/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name, namespace: NS },
      spec: {
        image: 'train:1',
        replicas: shape.replicas,
        gpusPerReplica: shape.gpus,
        bidUsdPerGpuHour: '1.00',
        checkpointGracePeriodSeconds: 1,
      },
    },
  });
}

/**
 * Deletes a collection. The API server deletes item by item within the request: thousands take longer than a
 * client's usual 30 s, so the request may run up to `timeoutMs`.
 */
export async function deleteAll(
  client: KubeClient,
  path: string,
  timeoutMs: number,
  gracePeriodSeconds?: number,
): Promise<void> {
  await client.rest.request({
    method: 'DELETE',
    path,
    timeoutMs,
    ...(gracePeriodSeconds !== undefined ? { query: { gracePeriodSeconds } } : {}),
  });
}
