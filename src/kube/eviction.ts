import { sleep, systemClock, type Clock } from './clock.js';
import type { KubeClient } from './client.js';
import { Kinds, resourcePath } from './resources.js';
import { ApiError } from './rest.js';

export type EvictionResult =
  | { outcome: 'evicted' }
  /** A PodDisruptionBudget forbids it now (429); message is the server's, with the budget's numbers. */
  | { outcome: 'blockedByPdb'; message: string; retryAfterSeconds?: number | undefined }
  /** More than one PodDisruptionBudget selects the pod: the Eviction API refuses it (500) until one goes. */
  | { outcome: 'severalPdbs'; message: string }
  /** The pod (or the pod with that uid) no longer exists. */
  | { outcome: 'notFound'; message: string }
  | { outcome: 'error'; statusCode?: number | undefined; message: string };

export interface EvictOptions {
  namespace: string;
  name: string;
  /** Only evict this incarnation of the pod (a recreated pod with the same name is left alone). */
  uid?: string | undefined;
  gracePeriodSeconds?: number | undefined;
  dryRun?: boolean;
  /** Retries of a 429 that is throttling rather than a disruption budget (default 3). */
  throttleRetries?: number;
  clock?: Clock;
  signal?: AbortSignal;
}

/** Evicts a pod through the Eviction API (policy/v1), which honours PodDisruptionBudgets. Never deletes. */
export async function evictPod(
  client: Pick<KubeClient, 'rest'>,
  opts: EvictOptions,
): Promise<EvictionResult> {
  const path = resourcePath(Kinds.Pod, {
    namespace: opts.namespace,
    name: opts.name,
    subresource: 'eviction',
  });
  const deleteOptions: Record<string, unknown> = {};
  if (opts.gracePeriodSeconds !== undefined) deleteOptions.gracePeriodSeconds = opts.gracePeriodSeconds;
  if (opts.uid) deleteOptions.preconditions = { uid: opts.uid };
  if (opts.dryRun) deleteOptions.dryRun = ['All'];
  const body = {
    apiVersion: 'policy/v1',
    kind: 'Eviction',
    metadata: { name: opts.name, namespace: opts.namespace },
    deleteOptions,
  };
  const clock = opts.clock ?? systemClock;
  const throttleRetries = opts.throttleRetries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      await client.rest.request({ method: 'POST', path, body, retryOn429: false, signal: opts.signal });
      return { outcome: 'evicted' };
    } catch (err) {
      const result = classifyEvictionError(err);
      if (result === 'throttled' && attempt < throttleRetries && err instanceof ApiError) {
        await sleep(clock, Math.min(60_000, (err.retryAfterSeconds ?? 1) * 1000), opts.signal);
        continue;
      }
      if (result === 'throttled') return { outcome: 'error', statusCode: 429, message: errorMessage(err) };
      return result;
    }
  }
}

/** Maps an eviction failure to a result; 'throttled' is a 429 from rate limiting, not from a budget. */
export function classifyEvictionError(err: unknown): EvictionResult | 'throttled' {
  if (!(err instanceof ApiError)) return { outcome: 'error', message: errorMessage(err) };
  if (err.statusCode === 404) return { outcome: 'notFound', message: err.serverMessage };
  if (err.statusCode === 409 && /UID in the precondition/i.test(err.serverMessage)) {
    return { outcome: 'notFound', message: err.serverMessage };
  }
  if (err.statusCode === 429) {
    const budget = err.causes.filter((c) => c.reason === 'DisruptionBudget');
    if (budget.length > 0 || /disruption budget/i.test(err.serverMessage)) {
      const detail = budget.map((c) => c.message).filter(Boolean);
      const message = [err.serverMessage, ...detail].join(' ');
      return { outcome: 'blockedByPdb', message, retryAfterSeconds: err.retryAfterSeconds };
    }
    return 'throttled';
  }
  if (err.statusCode === 500 && /more than one PodDisruptionBudget/i.test(err.serverMessage)) {
    return { outcome: 'severalPdbs', message: err.serverMessage };
  }
  return { outcome: 'error', statusCode: err.statusCode, message: err.serverMessage };
}

function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.serverMessage;
  return err instanceof Error ? err.message : String(err);
}
