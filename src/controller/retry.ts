import { backoffDelay, jittered } from '../kube/ratelimit.js';
import { isConflict } from '../kube/rest.js';
import type { ReconcileFn } from '../kube/workqueue.js';
import type { Logger } from '../log.js';

/** First retry after a race; doubling per race in a row, up to the cap, each stretched by up to half. */
const RACE_RETRY_MS = 100;
const RACE_RETRY_MAX_MS = 10_000;
const RACE_JITTER = 0.5;

/** True when the error, or the first of an aggregate (its cause), is a 409 write race. */
export function isWriteRace(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    if (isConflict(e)) return true;
  }
  return false;
}

/** Delay before retry `attempt` (0-based) of a key that raced: exponential with jitter. */
export function raceRetryDelay(attempt: number, random: () => number = Math.random): number {
  return jittered(backoffDelay(RACE_RETRY_MS, RACE_RETRY_MAX_MS, attempt), RACE_JITTER, random);
}

/**
 * Write races (409: the object changed since the cache saw it) are the normal price of optimistic writes from
 * caches: the key is retried once the cache has caught up, logged at debug rather than as a failure. Races in
 * a row back off (100 ms doubling to 10 s, jittered): a key that keeps racing (another writer, a cache that
 * does not catch up) must not retry in a hot loop. Any other outcome resets the count.
 */
export function retryWriteRaces(
  fn: ReconcileFn,
  logger?: Logger,
  random: () => number = Math.random,
): ReconcileFn {
  const races = new Map<string, number>();
  return async (key, signal) => {
    try {
      const result = await fn(key, signal);
      races.delete(key);
      return result;
    } catch (err) {
      if (!isWriteRace(err)) {
        races.delete(key);
        throw err;
      }
      const attempt = races.get(key) ?? 0;
      races.set(key, attempt + 1);
      const delay = raceRetryDelay(attempt, random);
      const msg = err instanceof Error ? err.message : String(err);
      logger?.debug({ key, races: attempt + 1, retryInMs: delay, err: msg }, 'write race; retrying');
      return { requeueAfterMs: delay };
    }
  };
}
