import type { Logger } from '../log.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { defaultRateLimiter, type RateLimiter } from './ratelimit.js';

/** What a reconcile asks for when it finishes without throwing. */
export interface ReconcileResult {
  /** Process the key again after this many ms (a timed re-check, resets backoff). */
  requeueAfterMs?: number;
  /** Process the key again with backoff (not an error, e.g. waiting for something to settle). */
  requeue?: boolean;
}

/** Handles one key; the signal aborts when the queue shuts down. Throwing retries the key with backoff. */
export type ReconcileFn = (key: string, signal: AbortSignal) => Promise<ReconcileResult | void>;

/** Observability hooks (see metrics.ts `queueHooks`). All optional, all synchronous. */
export interface QueueHooks {
  depth?(name: string, depth: number): void;
  added?(name: string): void;
  /** Time from a key becoming due to its processing starting. */
  queueLatency?(name: string, ms: number): void;
  workDuration?(name: string, ms: number): void;
  retry?(name: string): void;
  error?(name: string, key: string, err: unknown): void;
}

export interface WorkQueueOptions {
  name: string;
  /** Workers processing distinct keys at the same time. */
  concurrency?: number;
  clock?: Clock;
  rateLimiter?: RateLimiter;
  hooks?: QueueHooks;
  logger?: Logger;
}

export interface ShutdownOptions {
  /** Also process keys already queued (not the delayed ones) before resolving. Default: only in-flight ones. */
  drainQueued?: boolean;
}

/**
 * Keyed, de-duplicating work queue with bounded concurrency.
 * - A key is queued at most once; adding it while it is being processed re-queues it once afterwards,
 *   so the same key is never processed by two workers at once.
 * - Failures retry with the rate limiter's delay; success forgets the key's backoff.
 * - `addAfter` keeps only the earliest pending time per key.
 */
export class WorkQueue {
  readonly name: string;
  private readonly concurrency: number;
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly hooks: QueueHooks;
  private readonly logger: Logger | undefined;

  private readonly fifo = new Fifo();
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly readySince = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: TimerHandle }>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private started = false;
  private shuttingDown = false;
  private drainQueued = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly reconcile: ReconcileFn,
    opts: WorkQueueOptions,
  ) {
    this.name = opts.name;
    this.concurrency = opts.concurrency ?? 1;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new Error(`work queue ${opts.name}: concurrency must be a positive integer`);
    }
    this.clock = opts.clock ?? systemClock;
    this.limiter = opts.rateLimiter ?? defaultRateLimiter(this.clock);
    this.hooks = opts.hooks ?? {};
    this.logger = opts.logger;
  }

  /** Begins handing keys to workers (keys may be added before, e.g. while caches sync). */
  start(): void {
    if (this.shuttingDown) throw new Error(`work queue ${this.name} is shut down`);
    this.started = true;
    this.pump();
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    this.hooks.added?.(this.name);
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    this.readySince.set(key, this.clock.now());
    if (this.processing.has(key)) return;
    this.fifo.push(key);
    this.reportDepth();
    this.pump();
  }

  /** Adds `key` after `ms`; if it is already waiting, the earlier of the two times wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.timer);
    const timer = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Adds `key` after the rate limiter's delay (one more retry). */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.hooks.retry?.(this.name);
    this.addAfter(key, this.limiter.when(key));
  }

  /** Resets the key's backoff. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiter.retries(key);
  }

  /** Keys waiting for a worker. */
  len(): number {
    return this.fifo.size;
  }

  /** Keys being processed right now. */
  active(): number {
    return this.processing.size;
  }

  /** Keys waiting on a timer (requeue-after or backoff). */
  delayedCount(): number {
    return this.delayed.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Resolves when nothing is queued or being processed (delayed keys do not count). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops accepting keys, cancels delayed ones, aborts the workers' signal and waits for in-flight keys
   * (and, with drainQueued, the queued ones) to finish.
   */
  async shutdown(opts: ShutdownOptions = {}): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      this.drainQueued = opts.drainQueued ?? false;
      for (const { timer } of this.delayed.values()) this.clock.clearTimeout(timer);
      this.delayed.clear();
      if (!this.drainQueued) {
        this.fifo.clear();
        this.dirty.clear();
        this.readySince.clear();
        this.reportDepth();
      }
      this.abort.abort(new Error(`work queue ${this.name} shutting down`));
      this.pump();
    }
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private pump(): void {
    if (!this.started || (this.shuttingDown && !this.drainQueued)) {
      this.notifyIdle();
      return;
    }
    while (this.processing.size < this.concurrency && this.fifo.size > 0) {
      const key = this.fifo.shift() as string;
      this.dirty.delete(key);
      this.processing.add(key);
      const since = this.readySince.get(key);
      this.readySince.delete(key);
      if (since !== undefined) this.hooks.queueLatency?.(this.name, this.clock.now() - since);
      this.reportDepth();
      const p = this.process(key);
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
    this.notifyIdle();
  }

  private async process(key: string): Promise<void> {
    const start = this.clock.now();
    let result: ReconcileResult | void = undefined;
    let failed = false;
    let error: unknown;
    try {
      result = await this.reconcile(key, this.abort.signal);
    } catch (err) {
      failed = true;
      error = err;
    }
    this.hooks.workDuration?.(this.name, this.clock.now() - start);
    if (failed) {
      this.hooks.error?.(this.name, key, error);
      if (!this.shuttingDown) {
        this.logger?.warn(
          { queue: this.name, key, retries: this.limiter.retries(key), err: error },
          'reconcile failed; retrying with backoff',
        );
      }
      this.addRateLimited(key);
    } else if (result?.requeue) {
      this.addRateLimited(key);
    } else {
      this.forget(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    }
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.fifo.push(key);
      this.reportDepth();
    }
    this.pump();
  }

  private isIdle(): boolean {
    return this.processing.size === 0 && (this.fifo.size === 0 || (this.shuttingDown && !this.drainQueued));
  }

  private notifyIdle(): void {
    if (!this.isIdle() || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private reportDepth(): void {
    this.hooks.depth?.(this.name, this.fifo.size);
  }
}

/** FIFO of strings with O(1) shift. */
class Fifo {
  private items: string[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: string): void {
    this.items.push(item);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** Queue key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: { metadata?: { name?: string; namespace?: string } }): string {
  const name = obj.metadata?.name;
  if (!name) throw new Error('object has no metadata.name');
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${name}` : name;
}

/** Inverse of objectKey. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  if (i < 0) return { namespace: undefined, name: key };
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
