import { randomBytes } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { microTime, systemClock, type Clock, type TimerHandle } from './clock.js';
import type { KubeClient } from './client.js';
import { Kinds, resourcePath } from './resources.js';
import { isNotFound } from './rest.js';

export const REPORTING_CONTROLLER = 'rigshift.io/operator';
export const NOTE_LIMIT_BYTES = 1024;

export type EventType = 'Normal' | 'Warning';

export interface ObjectReference {
  apiVersion?: string | undefined;
  kind: string;
  name: string;
  namespace?: string | undefined;
  uid?: string | undefined;
  fieldPath?: string | undefined;
}

export interface EventInput {
  /** The object the event is about. */
  regarding: ObjectReference | KubernetesObject;
  related?: ObjectReference | KubernetesObject | undefined;
  type: EventType;
  /** One CamelCase word, e.g. `DrainBlocked`. */
  reason: string;
  /** What was done or attempted, e.g. `Drain`. */
  action: string;
  /** Human message (the planner's explanation); cut to 1 KB. */
  note: string;
}

export interface SeriesOptions {
  /** A repeat this long after the last occurrence starts a new event rather than extending the series. */
  windowMs?: number;
  /** Series count updates are written at most this often per event (the first repeat is written at once). */
  flushIntervalMs?: number;
  /** Series remembered (oldest forgotten first). */
  maxEntries?: number;
}

/** What to do with one occurrence of an event. */
export type SeriesDecision =
  | { action: 'create' }
  | { action: 'update'; count: number; lastObservedMs: number }
  | { action: 'defer'; count: number; flushAtMs: number };

interface SeriesEntry {
  count: number;
  writtenCount: number;
  firstMs: number;
  lastObservedMs: number;
  lastWrittenMs: number;
}

/**
 * The de-duplication rule, pure: the first occurrence creates an event; the first repeat turns it into a series
 * (count 2) at once; later repeats bump the count in memory and are written at most once per flush interval.
 */
export class EventSeriesCache {
  private readonly entries = new Map<string, SeriesEntry>();
  readonly windowMs: number;
  readonly flushIntervalMs: number;
  readonly maxEntries: number;

  constructor(opts: SeriesOptions = {}) {
    this.windowMs = opts.windowMs ?? 6 * 60_000;
    this.flushIntervalMs = opts.flushIntervalMs ?? 30_000;
    this.maxEntries = opts.maxEntries ?? 4096;
  }

  observe(key: string, nowMs: number): SeriesDecision {
    const e = this.entries.get(key);
    if (!e || nowMs - e.lastObservedMs > this.windowMs) {
      this.entries.delete(key);
      this.entries.set(key, {
        count: 1,
        writtenCount: 1,
        firstMs: nowMs,
        lastObservedMs: nowMs,
        lastWrittenMs: nowMs,
      });
      this.evict();
      return { action: 'create' };
    }
    // Re-insert to keep the map in least-recently-used order.
    this.entries.delete(key);
    this.entries.set(key, e);
    e.count++;
    e.lastObservedMs = nowMs;
    if (e.count === 2 || nowMs - e.lastWrittenMs >= this.flushIntervalMs) {
      e.writtenCount = e.count;
      e.lastWrittenMs = nowMs;
      return { action: 'update', count: e.count, lastObservedMs: nowMs };
    }
    return { action: 'defer', count: e.count, flushAtMs: e.lastWrittenMs + this.flushIntervalMs };
  }

  /** A series update still to be written for `key`, marking it written. */
  takePending(key: string, nowMs: number): { count: number; lastObservedMs: number } | undefined {
    const e = this.entries.get(key);
    if (!e || e.count <= e.writtenCount) return undefined;
    e.writtenCount = e.count;
    e.lastWrittenMs = nowMs;
    return { count: e.count, lastObservedMs: e.lastObservedMs };
  }

  pendingKeys(): string[] {
    return [...this.entries].filter(([, e]) => e.count > e.writtenCount).map(([k]) => k);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  size(): number {
    return this.entries.size;
  }

  private evict(): void {
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

/** One CamelCase word: starts upper-case, letters and digits only. */
export function isValidReason(reason: string): boolean {
  return reason.length <= 128 && /^[A-Z][A-Za-z0-9]*$/.test(reason);
}

/** Cuts a string to at most `limit` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, limit = NOTE_LIMIT_BYTES): string {
  if (Buffer.byteLength(s) <= limit) return s;
  const marker = '…';
  const budget = limit - Buffer.byteLength(marker);
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (used + n > budget) break;
    out += ch;
    used += n;
  }
  return out + marker;
}

export function toReference(o: ObjectReference | KubernetesObject): ObjectReference {
  if ('metadata' in o || !('name' in o)) {
    const obj = o as KubernetesObject;
    if (!obj.kind || !obj.metadata?.name)
      throw new Error('event regarding object needs kind and metadata.name');
    return {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
    };
  }
  return o;
}

export interface EventRecorderOptions {
  /** This replica, e.g. the pod name (≤ 128 characters). */
  reportingInstance: string;
  reportingController?: string;
  clock?: Clock;
  logger?: Logger;
  series?: SeriesOptions;
  /**
   * Reconcilers do not wait for their Events (client-go's recorder does not either): `normal` and `warning`
   * resolve at once and the write goes on in the background. Beyond `maxPending` writes in flight, new Events
   * are dropped and counted, so that a slow API server cannot make the operator hold an unbounded backlog.
   */
  background?: { maxPending: number };
}

interface Written {
  namespace: string;
  name: string;
}

/**
 * Records events.k8s.io/v1 Events. Repeats of an identical event (same object, type, reason, action and
 * note) extend one Event's series instead of creating new ones. API failures are logged, never thrown:
 * an event must not fail a reconcile. Invalid input (a bad reason) throws at once.
 */
export class EventRecorder {
  private readonly series: EventSeriesCache;
  private readonly clock: Clock;
  private readonly written = new Map<string, Written>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly pendingBodies = new Map<string, EventBody>();
  private readonly controller: string;
  private counters = { created: 0, updated: 0, failed: 0, dropped: 0 };
  private pending = 0;

  constructor(
    private readonly client: Pick<KubeClient, 'rest'>,
    private readonly opts: EventRecorderOptions,
  ) {
    if (!opts.reportingInstance || opts.reportingInstance.length > 128) {
      throw new Error('reportingInstance must be 1 to 128 characters');
    }
    this.series = new EventSeriesCache(opts.series);
    this.clock = opts.clock ?? systemClock;
    this.controller = opts.reportingController ?? REPORTING_CONTROLLER;
  }

  normal(regarding: EventInput['regarding'], reason: string, action: string, note: string): Promise<void> {
    return this.event({ regarding, type: 'Normal', reason, action, note });
  }

  warning(regarding: EventInput['regarding'], reason: string, action: string, note: string): Promise<void> {
    return this.event({ regarding, type: 'Warning', reason, action, note });
  }

  /** Records one occurrence; resolves once written (or deferred into the series), or at once in background. */
  event(input: EventInput): Promise<void> {
    const bg = this.opts.background;
    if (!bg) return this.record(input);
    if (this.pending >= bg.maxPending) {
      if (this.counters.dropped++ % 100 === 0)
        this.opts.logger?.warn(
          { dropped: this.counters.dropped, pending: this.pending },
          'too many Events in flight; dropped',
        );
      return Promise.resolve();
    }
    const done = this.record(input); // bad input throws here, in the caller
    this.pending++;
    void done.finally(() => this.pending--).catch(() => undefined);
    return Promise.resolve();
  }

  private record(input: EventInput): Promise<void> {
    if (!isValidReason(input.reason))
      throw new Error(`event reason must be one CamelCase word: ${input.reason}`);
    if (!input.action || input.action.length > 128)
      throw new Error('event action must be 1 to 128 characters');
    const regarding = toReference(input.regarding);
    const related = input.related ? toReference(input.related) : undefined;
    const note = truncateUtf8(input.note);
    const key = JSON.stringify([
      regarding.kind,
      regarding.namespace ?? '',
      regarding.name,
      regarding.uid ?? '',
      input.type,
      input.reason,
      input.action,
      note,
      related ? [related.kind, related.namespace ?? '', related.name] : null,
    ]);
    const now = this.clock.now();
    const decision = this.series.observe(key, now);
    const body = { regarding, related, type: input.type, reason: input.reason, action: input.action, note };
    if (decision.action === 'create') return this.enqueue(key, () => this.create(key, body, now));
    if (decision.action === 'update') {
      return this.enqueue(key, () => this.updateSeries(key, body, decision.count, decision.lastObservedMs));
    }
    this.scheduleFlush(key, body, decision.flushAtMs - now);
    return this.chains.get(key) ?? Promise.resolve();
  }

  /** Writes all deferred series counts now (e.g. before shutdown). */
  async flush(): Promise<void> {
    for (const key of this.series.pendingKeys()) {
      const t = this.timers.get(key);
      if (t) this.clock.clearTimeout(t);
      this.timers.delete(key);
      const pending = this.series.takePending(key, this.clock.now());
      const body = this.pendingBodies.get(key);
      this.pendingBodies.delete(key);
      if (pending && body) {
        void this.enqueue(key, () => this.updateSeries(key, body, pending.count, pending.lastObservedMs));
      }
    }
    await Promise.all([...this.chains.values()]);
  }

  /** Resolves once every write started so far has finished (background mode: tests read Events after this). */
  async settled(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  /** Flushes and cancels timers. */
  async close(): Promise<void> {
    await this.flush();
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }

  stats(): { created: number; updated: number; failed: number; dropped: number; series: number } {
    return { ...this.counters, series: this.series.size() };
  }

  private scheduleFlush(key: string, body: EventBody, delayMs: number): void {
    this.pendingBodies.set(key, body);
    if (this.timers.has(key)) return;
    const timer = this.clock.setTimeout(
      () => {
        this.timers.delete(key);
        this.pendingBodies.delete(key);
        const pending = this.series.takePending(key, this.clock.now());
        if (pending)
          void this.enqueue(key, () => this.updateSeries(key, body, pending.count, pending.lastObservedMs));
      },
      Math.max(0, delayMs),
    );
    this.timers.set(key, timer);
  }

  /** Writes for one key run one after another (an update must follow its create). */
  private enqueue(key: string, write: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(write).catch((err: unknown) => {
      this.counters.failed++;
      this.opts.logger?.warn({ err, key }, 'could not record event');
    });
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return next;
  }

  private async create(
    key: string,
    b: EventBody,
    nowMs: number,
    series?: { count: number; lastObservedMs: number },
  ): Promise<void> {
    const namespace = b.regarding.namespace || 'default';
    const name = eventName(b.regarding.name, nowMs);
    const event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace },
      eventTime: microTime(nowMs),
      reportingController: this.controller,
      reportingInstance: this.opts.reportingInstance,
      action: b.action,
      reason: b.reason,
      type: b.type,
      note: b.note,
      regarding: b.regarding,
      ...(b.related ? { related: b.related } : {}),
      ...(series
        ? { series: { count: series.count, lastObservedTime: microTime(series.lastObservedMs) } }
        : {}),
    };
    await this.client.rest.request({
      method: 'POST',
      path: resourcePath(Kinds.Event, { namespace }),
      body: event,
    });
    this.written.set(key, { namespace, name });
    this.counters.created++;
    if (this.written.size > 2 * this.series.maxEntries) {
      for (const k of this.written.keys()) if (!this.series.has(k)) this.written.delete(k);
    }
  }

  private async updateSeries(
    key: string,
    b: EventBody,
    count: number,
    lastObservedMs: number,
  ): Promise<void> {
    const w = this.written.get(key);
    if (!w) {
      // The first write failed or was forgotten: start afresh with the series so far.
      await this.create(key, b, lastObservedMs, { count, lastObservedMs });
      return;
    }
    try {
      await this.client.rest.request({
        method: 'PATCH',
        path: resourcePath(Kinds.Event, { namespace: w.namespace, name: w.name }),
        contentType: 'application/merge-patch+json',
        body: { series: { count, lastObservedTime: microTime(lastObservedMs) } },
      });
      this.counters.updated++;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // Events expire (1 h by default): record the series on a new event.
      this.written.delete(key);
      await this.create(key, b, lastObservedMs, { count, lastObservedMs });
    }
  }
}

type EventBody = {
  regarding: ObjectReference;
  related: ObjectReference | undefined;
  type: EventType;
  reason: string;
  action: string;
  note: string;
};

function eventName(objectName: string, nowMs: number): string {
  const suffix = `${Math.floor(nowMs).toString(16)}${randomBytes(3).toString('hex')}`;
  const base = objectName
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .slice(0, 253 - suffix.length - 1);
  return `${base}.${suffix}`;
}
