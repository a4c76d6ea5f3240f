import * as k8s from '@kubernetes/client-node';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { stripManagedFields } from './apply.js';
import { monotonicNow, systemClock, type Clock, type TimerHandle } from './clock.js';
import type { KubeClient } from './client.js';
import { backoffDelay } from './ratelimit.js';
import { apiVersionOf, resourcePath, type ResourceInfo } from './resources.js';
import { isApiError, type RestClient } from './rest.js';
import { objectKey } from './workqueue.js';

/** The shape of client-node's Watch, so tests can drive the informer with a fake one. */
export interface WatchLike {
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, obj: unknown, raw?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
}

export type InformerEvent = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubernetesObject> {
  /** Restrict to one namespace (default: all). */
  namespace?: string | undefined;
  /** Only cache matching objects, e.g. pods the operator manages. */
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  clock?: Clock;
  logger?: Logger;
  /** Shown in readiness and logs (default: the resource, e.g. `pods`). */
  name?: string;
  /**
   * Liveness bound: a watch that delivers neither an event nor a bookmark (nor connects) for this long is
   * abandoned and the cache relisted; until a watch delivers again the cache counts as stale (default 90 s).
   */
  silenceSeconds?: number;
  /**
   * Server-side watch timeout (default and at most two thirds of the liveness bound, so that a healthy watch
   * always delivers a bookmark or reconnects in time; the API server bookmarks every minute at most).
   */
  watchTimeoutSeconds?: number;
  /** Backoff of restarts after errors: base doubling up to max. */
  restartBaseMs?: number;
  restartMaxMs?: number;
  /** Page size of the initial list and relists. */
  pageSize?: number;
  /**
   * Replaces each listed or watched object before it is cached (client-go's SetTransform): keep only the
   * fields the operator reads. Must keep metadata name, namespace and resourceVersion.
   */
  transform?: (obj: T) => T;
  /** Replace the HTTP watch and list (tests). */
  watch?: WatchLike;
  list?: () => Promise<KubernetesListObject<T>>;
}

export interface InformerStats {
  lists: number;
  watches: number;
  errors: number;
  restarts: number;
  /** Watches abandoned for silence (each followed by a relist). */
  lapses: number;
}

/**
 * A cached, watched view of one resource, built on client-node's ListWatch, adding what it lacks:
 * restart with backoff after errors (ListWatch stops on the first one), a watchdog on silent watches,
 * hasSynced/waitForSync, handlers that cannot break the cache, and queue-key mapping.
 * Relisting on 410 Gone is ListWatch's own behaviour (it clears the resourceVersion and lists again).
 */
export class Informer<T extends KubernetesObject> {
  readonly resource: ResourceInfo;
  readonly name: string;
  readonly silenceMs: number;
  private readonly lw: k8s.ListWatch<T>;
  private readonly guard: GuardedWatch;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private synced = false;
  private running = false;
  private failures = 0;
  private restartTimer: TimerHandle | undefined;
  private syncWaiters: (() => void)[] = [];
  /** Monotonic time of the last proof that the watch delivers (it connected, or sent an event or bookmark). */
  private aliveAt: number;
  private readonly counters: InformerStats = { lists: 0, watches: 0, errors: 0, restarts: 0, lapses: 0 };

  constructor(
    client: Pick<KubeClient, 'kc' | 'rest'>,
    resource: ResourceInfo,
    opts: InformerOptions<T> = {},
  ) {
    this.resource = resource;
    this.name = opts.name ?? resource.resource;
    this.silenceMs = (opts.silenceSeconds ?? 90) * 1000;
    if (!(this.silenceMs >= 3000))
      throw new Error(`informer ${this.name}: silenceSeconds must be at least 3`);
    this.clock = opts.clock ?? systemClock;
    this.aliveAt = monotonicNow(this.clock);
    this.logger = opts.logger;
    this.baseMs = opts.restartBaseMs ?? 250;
    this.maxMs = opts.restartMaxMs ?? 30_000;
    const path = resourcePath(resource, { namespace: opts.namespace });
    const list =
      opts.list ??
      (() =>
        listAll<T>(client.rest, resource, {
          namespace: opts.namespace,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          pageSize: opts.pageSize ?? 500,
        }));
    // managedFields are dropped from every cached object (controller-runtime's TransformStripManagedFields):
    // nothing reads them, and they are often half of an object's size.
    const own = opts.transform;
    const transform = (obj: T): T => {
      const stripped = stripManagedFields(obj);
      return own ? own(stripped) : stripped;
    };
    const countedList = async (): Promise<KubernetesListObject<T>> => {
      this.counters.lists++;
      const result = await list();
      this.failures = 0;
      return { ...result, items: result.items.map(transform) };
    };
    const maxTimeout = Math.max(2, Math.floor((this.silenceMs * 2) / 3 / 1000));
    this.guard = new GuardedWatch(opts.watch ?? new k8s.Watch(client.kc), {
      clock: this.clock,
      timeoutSeconds: Math.min(opts.watchTimeoutSeconds ?? maxTimeout, maxTimeout),
      silenceMs: this.silenceMs,
      isRunning: () => this.running,
      onStart: () => {
        // ListWatch only watches once its list has been applied to the cache.
        this.counters.watches++;
        this.markSynced();
      },
      onAlive: (event) => {
        // Only a delivered event proves the restart worked (a watch may connect and fail again at once).
        if (event) this.failures = 0;
        this.aliveAt = monotonicNow(this.clock);
      },
      onLapse: (silentMs) => {
        this.counters.lapses++;
        this.logger?.warn(
          { informer: this.name, silentSeconds: Math.round(silentMs / 1000) },
          'watch silent (no event or bookmark): abandoned; relisting',
        );
      },
      transform: transform as (obj: unknown) => unknown,
    });
    this.lw = new k8s.ListWatch<T>(
      path,
      this.guard as unknown as k8s.Watch,
      countedList,
      false,
      opts.labelSelector,
      opts.fieldSelector,
    );
    this.lw.on('error', (err: unknown) => this.onError(err));
  }

  /** Lists and watches in the background; errors restart it with backoff until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.aliveAt = monotonicNow(this.clock);
    this.launch();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.restartTimer) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.lw.stop();
    this.guard.abortAll();
  }

  /** True once the first full list is in the cache (stays true across restarts). */
  hasSynced(): boolean {
    return this.synced;
  }

  /**
   * How long the watch has been silent (ms), once that is past the liveness bound: the cache may miss changes
   * and must not be planned from. Undefined while the watch delivers (or before the first sync).
   */
  staleFor(): number | undefined {
    if (!this.synced || !this.running) return undefined;
    const silent = monotonicNow(this.clock) - this.aliveAt;
    return silent > this.silenceMs ? silent : undefined;
  }

  /** Resolves once synced; rejects after timeoutMs. */
  waitForSync(timeoutMs: number): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== done);
        reject(new Error(`cache of ${this.resource.resource} not synced within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        this.clock.clearTimeout(timer);
        resolve();
      };
      this.syncWaiters.push(done);
    });
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.lw.get(name, namespace || undefined);
  }

  /** Looks up by queue key (`namespace/name` or `name`). */
  getByKey(key: string): T | undefined {
    const i = key.indexOf('/');
    return i < 0 ? this.lw.get(key) : this.lw.get(key.slice(i + 1), key.slice(0, i));
  }

  /** Cached objects (all, or one namespace's). Do not mutate them: they are the cache. */
  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace);
  }

  /** Registers a handler; a throwing handler is logged and cannot corrupt the cache. Returns an unsubscribe. */
  on(event: InformerEvent, handler: (obj: T) => void): () => void {
    const safe = (obj: T): void => {
      try {
        handler(obj);
      } catch (err) {
        this.logger?.error({ err, resource: this.resource.resource, event }, 'informer handler threw');
      }
    };
    this.lw.on(event, safe);
    return () => this.lw.off(event, safe);
  }

  /**
   * Adds the keys `map` returns for every added, updated or deleted object to the queue
   * (default: the object's own key).
   */
  enqueueTo(
    queue: { add(key: string): void },
    map: (obj: T) => string | string[] | undefined = objectKey,
  ): () => void {
    const handler = (obj: T): void => {
      const keys = map(obj);
      if (keys === undefined) return;
      for (const k of Array.isArray(keys) ? keys : [keys]) queue.add(k);
    };
    const offs = (['add', 'update', 'delete'] as const).map((e) => this.on(e, handler));
    return () => offs.forEach((off) => off());
  }

  stats(): InformerStats {
    return { ...this.counters };
  }

  private launch(): void {
    this.lw.start().catch((err: unknown) => this.onError(err));
  }

  private onError(err: unknown): void {
    if (!this.running) return;
    this.counters.errors++;
    const delay = backoffDelay(this.baseMs, this.maxMs, this.failures);
    this.failures++;
    this.logger?.warn(
      { resource: this.resource.resource, err: errorText(err), retryInMs: delay },
      'informer list/watch failed; restarting',
    );
    if (this.restartTimer) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.running) return;
      this.counters.restarts++;
      this.launch();
    }, delay);
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w();
  }
}

/** Waits for several informers; the error names the ones that did not sync. */
export async function waitForCacheSync(
  informers: readonly Informer<KubernetesObject>[],
  timeoutMs: number,
): Promise<void> {
  const results = await Promise.allSettled(informers.map((i) => i.waitForSync(timeoutMs)));
  const failed = informers
    .filter((_, i) => results[i]?.status === 'rejected')
    .map((i) => i.resource.resource);
  if (failed.length > 0) throw new Error(`caches not synced within ${timeoutMs} ms: ${failed.join(', ')}`);
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null) {
    const e = err as { statusCode?: number; code?: number; message?: string };
    return e.message ?? `status ${e.statusCode ?? e.code ?? '?'}`;
  }
  return String(err);
}

const OBJECT_EVENTS = new Set(['ADDED', 'MODIFIED', 'DELETED']);

/**
 * Adds watch timeouts and bookmarks, a liveness watchdog (a watch that neither connects nor delivers an event
 * or bookmark within the bound ends as if 410 Gone, so ListWatch relists), a once-only done, and drops events
 * from a watch that has already ended (so a stale stream can never write to the cache).
 */
class GuardedWatch implements WatchLike {
  private readonly live = new Set<AbortController>();
  /** Bumped by abortAll: a watch still connecting when it was called is aborted as soon as it connects. */
  private epoch = 0;

  constructor(
    private readonly inner: WatchLike,
    private readonly opts: {
      clock: Clock;
      timeoutSeconds: number;
      silenceMs: number;
      isRunning(): boolean;
      onStart(): void;
      /** The watch connected (false), or delivered an event or bookmark (true). */
      onAlive(event: boolean): void;
      /** The watch was silent past the bound and is being abandoned. */
      onLapse(silentMs: number): void;
      transform?: ((obj: unknown) => unknown) | undefined;
    },
  ) {}

  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, obj: unknown, raw?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    // ListWatch does not re-check stop() between its list and its watch: never open a watch once stopped.
    if (!this.opts.isRunning()) {
      const dead = new AbortController();
      dead.abort();
      return dead;
    }
    this.opts.onStart();
    const epoch = this.epoch;
    const { clock, timeoutSeconds, silenceMs } = this.opts;
    let finished = false;
    let ctrl: AbortController | undefined;
    let lastAt = monotonicNow(clock);
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      clock.clearTimeout(watchdog);
      if (ctrl) {
        this.live.delete(ctrl);
        ctrl.abort();
      }
      done(err);
    };
    const alive = (event: boolean): void => {
      lastAt = monotonicNow(clock);
      this.opts.onAlive(event);
    };
    // Re-armed for the rest of the bound rather than reset per event (events can come thousands a second).
    const check = (): void => {
      const silent = monotonicNow(clock) - lastAt;
      if (silent < silenceMs) {
        watchdog = clock.setTimeout(check, silenceMs - silent);
        return;
      }
      this.opts.onLapse(silent);
      finish(new WatchLapsed(silent));
    };
    let watchdog = clock.setTimeout(check, silenceMs);
    try {
      ctrl = await this.inner.watch(
        path,
        { ...query, timeoutSeconds, allowWatchBookmarks: true },
        (phase, obj, raw) => {
          if (finished) return;
          alive(true);
          const t = this.opts.transform;
          const object = t && OBJECT_EVENTS.has(phase) && typeof obj === 'object' && obj !== null;
          callback(phase, object ? t(obj) : obj, raw);
        },
        finish,
      );
    } catch (err) {
      finish(err);
      return new AbortController();
    }
    if (!finished) alive(false); // connected: the API server answered the watch
    if (epoch !== this.epoch || !this.opts.isRunning()) {
      // Stopped while connecting: close this stream and end it without a done (nothing restarts it).
      finished = true;
      clock.clearTimeout(watchdog);
      ctrl.abort();
    } else if (finished) ctrl.abort();
    else this.live.add(ctrl);
    return ctrl;
  }

  abortAll(): void {
    this.epoch++;
    for (const c of this.live) c.abort();
    this.live.clear();
  }
}

/** A watch abandoned for silence; code 410 makes ListWatch relist instead of resuming from its version. */
class WatchLapsed extends Error {
  readonly statusCode = 410;

  constructor(silentMs: number) {
    super(`watch silent for ${Math.round(silentMs / 1000)} s`);
  }
}

/** Lists a resource page by page; items get apiVersion and kind (list items come without them). */
export async function listAll<T extends KubernetesObject>(
  rest: RestClient,
  resource: ResourceInfo,
  opts: {
    namespace?: string | undefined;
    labelSelector?: string | undefined;
    fieldSelector?: string | undefined;
    pageSize?: number;
  },
): Promise<KubernetesListObject<T>> {
  const path = resourcePath(resource, { namespace: opts.namespace });
  const apiVersion = apiVersionOf(resource);
  for (let attempt = 0; ; attempt++) {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    try {
      do {
        const res = await rest.request<{
          metadata?: { resourceVersion?: string; continue?: string };
          items?: T[];
        }>({
          method: 'GET',
          path,
          query: {
            labelSelector: opts.labelSelector,
            fieldSelector: opts.fieldSelector,
            limit: opts.pageSize,
            continue: cont,
          },
        });
        for (const it of res.body.items ?? []) items.push({ apiVersion, kind: resource.kind, ...it });
        resourceVersion = res.body.metadata?.resourceVersion ?? resourceVersion;
        cont = res.body.metadata?.continue || undefined;
      } while (cont);
      return { apiVersion, kind: `${resource.kind}List`, metadata: { resourceVersion }, items };
    } catch (err) {
      // The continue token expired (410): start the list over.
      if (cont && isApiError(err, 410) && attempt < 3) continue;
      throw err;
    }
  }
}
