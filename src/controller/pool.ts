import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { parseMiningPool, type MiningPoolSpec } from '../api/v1alpha1/index.js';
import {
  PriceSourceCache,
  type LastGood,
  type PriceSource,
  type SourceDeps,
} from '../economics/sources/index.js';
import { applyStatusIfChanged } from '../kube/apply.js';
import { systemClock, type Clock } from '../kube/clock.js';
import type { KubeClient } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import type { OperatorMetrics } from '../kube/metrics.js';
import { isNotFound } from '../kube/rest.js';
import type { Condition } from '../kube/status.js';
import { splitKey, type ReconcileFn, type ReconcileResult } from '../kube/workqueue.js';
import type { Logger } from '../log.js';
import { miningCounts } from './pool-keys.js';
import {
  PRICE_INPUTS,
  buildPoolStatus,
  computeYields,
  invalidSpecStatus,
  lastGoodOf,
  nextCheckMs,
  refusalNote,
  yieldEvent,
  type PoolReadings,
  type PoolStatus,
  type PriceInput,
  type PriceRefusal,
  type YieldOutcome,
  type YieldState,
} from './pool-yields.js';

export interface PoolReconcilerDeps {
  /** A MiningPool from the informer cache (raw object, parsed here). */
  getPool(namespace: string, name: string): KubernetesObject | undefined;
  /** A ConfigMap from the informer cache, for configMapKeyRef prices. */
  getConfigMap(namespace: string, name: string): { data?: Record<string, string> | undefined } | undefined;
  /** False while a ConfigMap's cache is not filled yet: the pool waits rather than call it missing. */
  configMapReady?: ((namespace: string, name: string) => boolean) | undefined;
  /** Pods of a namespace from the informer cache (may be filtered to rigshift's own): counts mining pods. */
  listPods(namespace: string): readonly V1Pod[];
  client: Pick<KubeClient, 'rest' | 'mapper'>;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  /** Yield gauges `rigshift_mining_yield_usd_per_gpu_hour{pool="ns/name",product}`. */
  metrics?:
    | Pick<OperatorMetrics, 'miningYield' | 'poolYieldKnown' | 'poolPriceReadTime' | 'priceRefusals'>
    | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
  /** Called with the pool's key after its status changed or it was deleted: enqueue the fleet key here. */
  onPoolChanged?: ((key: string) => void) | undefined;
  /** Egress rules, HTTP transport, body limit and outlier rule for the price sources. */
  sources?: Omit<SourceDeps, 'configMap' | 'readSecret'> | undefined;
  /** One key of a Secret, read on demand (http.headers); undefined when the Secret or key is absent. */
  readSecret?: ((namespace: string, name: string, key: string) => Promise<string | undefined>) | undefined;
}

type Sources = Record<PriceInput, PriceSource>;

/** How soon a pool whose ConfigMap watch has not listed yet is looked at again. */
const CONFIGMAP_WAIT_MS = 200;

/**
 * The MiningPool reconciler, keyed `namespace/name`: reads the pool's two prices, computes the yield of each
 * GPU product, writes status through /status only when it changed, records Events, and asks to be run again
 * when a source is next due or a held value expires. Price sources live across reconciles (their last good
 * values and refresh timers), one per pool and input, restarted when that input's spec changes.
 */
export class PoolReconciler {
  private readonly clock: Clock;
  private readonly caches = new Map<string, PriceSourceCache>();
  /** What YieldKnown was last reported as (Events fire on changes, not on every reconcile). */
  private readonly reported = new Map<string, YieldState>();
  /** Time of the last refusal reported per `key/input`: one PriceRefused per refused refresh. */
  private readonly refusalsSeen = new Map<string, number>();
  private readonly gauges = new Map<string, Set<string>>();

  constructor(private readonly deps: PoolReconcilerDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  async reconcile(key: string, signal?: AbortSignal): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    if (!namespace) {
      this.deps.logger?.warn({ key }, 'MiningPool key without a namespace; ignored');
      return;
    }
    const obj = this.deps.getPool(namespace, name);
    if (!obj) return this.gone(key);
    const now = new Date(this.clock.now());
    const previous = (obj as { status?: PoolStatus }).status;
    const generation = obj.metadata?.generation;
    const counts = miningCounts(this.deps.listPods(namespace), name);

    let desired: PoolStatus;
    let outcome: YieldOutcome | undefined;
    let requeueAfterMs: number | undefined;
    let readings: PoolReadings | undefined;
    const fetched = new Set<PriceInput>();
    const parsed = parseMiningPool(obj);
    if (!parsed.ok) {
      desired = invalidSpecStatus(parsed.error, generation, previous, counts);
    } else {
      const spec = parsed.value.spec;
      const ready = this.deps.configMapReady;
      const cms = [spec.revenueUsdPerMhsDay, spec.electricityUsdPerKwh].flatMap(
        (src) => src.configMapKeyRef?.name ?? [],
      );
      if (ready && cms.some((cm) => !ready(namespace, cm))) return { requeueAfterMs: CONFIGMAP_WAIT_MS };
      const sources = this.sourcesFor(key, namespace, spec, (input) =>
        lastGoodOf(previous, generation, input),
      );
      const [revenue, power] = await Promise.all([
        sources.revenueUsdPerMhsDay.read(now),
        sources.electricityUsdPerKwh.read(now),
      ]);
      readings = { revenueUsdPerMhsDay: revenue, electricityUsdPerKwh: power };
      // Only fetched prices age: a literal or ConfigMap value is the truth as written.
      for (const input of PRICE_INPUTS) if (sources[input].nextRefreshAt() !== undefined) fetched.add(input);
      outcome = computeYields(spec, readings);
      desired = buildPoolStatus({ generation, outcome, readings, previous, counts, now });
      requeueAfterMs = nextCheckMs(Object.values(sources), [revenue, power], now.getTime());
    }

    let written: boolean;
    try {
      const res = await applyStatusIfChanged(
        this.deps.client,
        obj as KubernetesObject & { status?: PoolStatus },
        desired,
        {
          now,
          clock: this.clock,
          signal,
        },
      );
      written = res.written;
    } catch (err) {
      if (isNotFound(err)) return this.gone(key);
      throw err;
    }

    const condition = desired.conditions?.find((c) => c.type === 'YieldKnown');
    if (condition) await this.report(obj, key, previous, condition, outcome?.refusals ?? []);
    this.setGauges(key, outcome, readings, fetched);
    if (written) {
      this.deps.logger?.debug(
        { pool: key, yieldKnown: condition?.status, reason: condition?.reason },
        'pool status written',
      );
      this.deps.onPoolChanged?.(key);
    }
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  }

  /** Drops everything kept for a pool (its sources, gauges, reported state). */
  forget(key: string): void {
    const prefix = `${key}/`;
    for (const cache of this.caches.values()) cache.retain((k) => !k.startsWith(prefix));
    this.reported.delete(key);
    for (const input of PRICE_INPUTS) this.refusalsSeen.delete(`${key}/${input}`);
    this.setGauges(key, undefined, undefined, new Set(), true);
  }

  private gone(key: string): void {
    this.forget(key);
    this.deps.onPoolChanged?.(key);
  }

  private sourcesFor(
    key: string,
    namespace: string,
    spec: MiningPoolSpec,
    lastGood: (input: PriceInput) => LastGood | undefined,
  ): Sources {
    let cache = this.caches.get(namespace);
    if (!cache) {
      const readSecret = this.deps.readSecret;
      const log = this.deps.logger;
      cache = new PriceSourceCache({
        ...(log && { debug: (detail, message) => log.debug({ namespace, ...detail }, message) }),
        ...this.deps.sources,
        configMap: (cm) => this.deps.getConfigMap(namespace, cm)?.data,
        ...(readSecret && { readSecret: (name, key) => readSecret(namespace, name, key) }),
      });
      this.caches.set(namespace, cache);
    }
    // A fresh source (a restart, a failover) starts from the last good value in status, not from nothing.
    return {
      revenueUsdPerMhsDay: cache.get(`${key}/revenueUsdPerMhsDay`, spec.revenueUsdPerMhsDay, {
        lastGood: () => lastGood('revenueUsdPerMhsDay'),
      }),
      electricityUsdPerKwh: cache.get(`${key}/electricityUsdPerKwh`, spec.electricityUsdPerKwh, {
        signed: true,
        lastGood: () => lastGood('electricityUsdPerKwh'),
      }),
    };
  }

  private async report(
    obj: KubernetesObject,
    key: string,
    previous: PoolStatus | undefined,
    condition: Condition,
    refusals: readonly PriceRefusal[],
  ): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const r of refusals) {
      const id = `${key}/${r.input}`;
      if (this.refusalsSeen.get(id) === r.at.getTime()) continue;
      this.refusalsSeen.set(id, r.at.getTime());
      this.deps.metrics?.priceRefusals.inc({ pool: key, input: r.input, code: r.code });
      this.deps.logger?.warn({ pool: key, input: r.input, code: r.code, reason: r.reason }, 'price refused');
      writes.push(this.deps.events.warning(obj, 'PriceRefused', 'ReadPrice', refusalNote(r)));
    }
    const before = this.reported.get(key) ?? lastReported(previous);
    const next = { status: condition.status, reason: condition.reason, message: condition.message ?? '' };
    this.reported.set(key, { status: next.status, reason: next.reason });
    const event = yieldEvent(before, next);
    if (event) {
      this.deps.logger?.info({ pool: key, reason: next.reason, message: next.message }, event.note);
      const write = event.type === 'Warning' ? this.deps.events.warning : this.deps.events.normal;
      writes.push(write.call(this.deps.events, obj, event.reason, 'ComputeYield', event.note));
    }
    await Promise.all(writes);
  }

  private setGauges(
    key: string,
    outcome: YieldOutcome | undefined,
    readings: PoolReadings | undefined,
    fetched: ReadonlySet<PriceInput>,
    gone = false,
  ): void {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    const gauge = metrics.miningYield;
    if (gone) metrics.poolYieldKnown.remove({ pool: key });
    else metrics.poolYieldKnown.set({ pool: key }, outcome?.known ? 1 : 0);
    for (const input of PRICE_INPUTS) {
      const r = readings?.[input];
      if (r?.ok && fetched.has(input))
        metrics.poolPriceReadTime.set({ pool: key, input }, r.readAt.getTime() / 1000);
      else metrics.poolPriceReadTime.remove({ pool: key, input });
    }
    const had = this.gauges.get(key) ?? new Set<string>();
    const now = new Set<string>();
    if (outcome?.known) {
      for (const y of outcome.yields) {
        gauge.set({ pool: key, product: y.product }, Number(y.usdPerGpuHour));
        now.add(y.product);
      }
    }
    for (const product of had) if (!now.has(product)) gauge.remove({ pool: key, product });
    if (now.size > 0) this.gauges.set(key, now);
    else this.gauges.delete(key);
  }
}

function lastReported(status: PoolStatus | undefined): YieldState | undefined {
  const c = status?.conditions?.find((x) => x.type === 'YieldKnown');
  return c ? { status: c.status, reason: c.reason } : undefined;
}

/** The pool reconciler as a work queue function (one instance keeps the price sources across keys). */
export function createPoolReconciler(deps: PoolReconcilerDeps): ReconcileFn {
  const reconciler = new PoolReconciler(deps);
  return (key, signal) => reconciler.reconcile(key, signal);
}
