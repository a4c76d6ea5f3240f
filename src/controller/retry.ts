import { isConflict } from '../kube/rest.js';
import type { ReconcileFn } from '../kube/workqueue.js';
import type { Logger } from '../log.js';

const RACE_RETRY_MS = 100;

/** True when the error, or the first of an aggregate (its cause), is a 409 write race. */
export function isWriteRace(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    if (isConflict(e)) return true;
  }
  return false;
}

/**
 * Write races (409: the object changed since the cache saw it) are the normal price of optimistic writes from
 * caches: the key is retried shortly, once the cache has caught up, without growing a backoff (a race says
 * nothing about the next attempt) and logged at debug rather than as a failure.
 */
export function retryWriteRaces(fn: ReconcileFn, logger?: Logger): ReconcileFn {
  return async (key, signal) => {
    try {
      return await fn(key, signal);
    } catch (err) {
      if (!isWriteRace(err)) throw err;
      logger?.debug({ key, err: err instanceof Error ? err.message : String(err) }, 'write race; retrying');
      return { requeueAfterMs: RACE_RETRY_MS + Math.floor(Math.random() * RACE_RETRY_MS) };
    }
  };
}
