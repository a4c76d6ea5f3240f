import type { Clock } from './clock.js';

/** Decides how long a key waits before its next retry. */
export interface RateLimiter {
  /** Delay in ms before `key` may be processed again; each call counts as one more retry. */
  when(key: string): number;
  /** Clears the retry history of `key` (after a success). */
  forget(key: string): void;
  /** Retries recorded for `key` since the last forget. */
  retries(key: string): number;
}

/**
 * Per-key exponential backoff: base, 2×base, 4×base, ... capped at max; with `jitter` j each delay is stretched
 * by a random factor in [1, 1 + j) so that keys that failed together do not retry in lockstep.
 */
export class ExponentialBackoff implements RateLimiter {
  private failures = new Map<string, number>();

  constructor(
    readonly baseMs = 5,
    readonly maxMs = 5 * 60_000,
    readonly jitter = 0,
    private readonly random: () => number = Math.random,
  ) {
    if (baseMs <= 0 || maxMs < baseMs) throw new Error(`invalid backoff: base ${baseMs} ms, max ${maxMs} ms`);
    if (jitter < 0 || jitter > 1) throw new Error(`invalid backoff jitter ${jitter}: between 0 and 1`);
  }

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return jittered(backoffDelay(this.baseMs, this.maxMs, n), this.jitter, this.random);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/** base × 2^attempt, capped at max (attempt counts from 0). */
export function backoffDelay(baseMs: number, maxMs: number, attempt: number): number {
  if (attempt >= 52) return maxMs;
  return Math.min(maxMs, baseMs * 2 ** attempt);
}

/** `ms` stretched by a random factor in [1, 1 + jitter), rounded to whole ms. */
export function jittered(ms: number, jitter: number, random: () => number = Math.random): number {
  return jitter > 0 ? Math.round(ms * (1 + jitter * random())) : ms;
}

/**
 * Overall token bucket (qps tokens per second, up to burst). A retry reserves a token; when none is left the
 * retry waits until its reserved token has been refilled, so bursts of failures across many keys are spread out.
 */
export class TokenBucket implements RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    readonly qps = 10,
    readonly burst = 100,
  ) {
    if (qps <= 0 || burst < 1) throw new Error(`invalid token bucket: ${qps} qps, burst ${burst}`);
    this.tokens = burst;
    this.last = clock.now();
  }

  when(_key: string): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }

  forget(_key: string): void {}

  retries(_key: string): number {
    return 0;
  }
}

/** The longest delay of several limiters (each is consulted on every call). */
export class MaxOfLimiters implements RateLimiter {
  constructor(private readonly limiters: RateLimiter[]) {}

  when(key: string): number {
    let delay = 0;
    for (const l of this.limiters) delay = Math.max(delay, l.when(key));
    return delay;
  }

  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  retries(key: string): number {
    let n = 0;
    for (const l of this.limiters) n = Math.max(n, l.retries(key));
    return n;
  }
}

export interface DefaultLimiterOptions {
  baseMs?: number;
  maxMs?: number;
  /** Random stretch of each backoff, 0..1 (default 0.25). */
  jitter?: number;
  qps?: number;
  burst?: number;
}

/**
 * Per-key exponential backoff (5 ms → 5 min, each stretched by up to 25 % at random) combined with an overall
 * bucket (10 qps, burst 100).
 */
export function defaultRateLimiter(clock: Clock, opts: DefaultLimiterOptions = {}): RateLimiter {
  return new MaxOfLimiters([
    new ExponentialBackoff(opts.baseMs ?? 5, opts.maxMs ?? 5 * 60_000, opts.jitter ?? 0.25),
    new TokenBucket(clock, opts.qps ?? 10, opts.burst ?? 100),
  ]);
}
