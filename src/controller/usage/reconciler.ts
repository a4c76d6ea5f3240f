import type { KubernetesObject } from '@kubernetes/client-node';
import {
  API_VERSION,
  parseUsageRecord,
  type TrainingJob,
  type UsageRecord,
} from '../../api/v1alpha1/index.js';
import { apply } from '../../kube/apply.js';
import { systemClock, type Clock } from '../../kube/clock.js';
import type { KubeClient } from '../../kube/client.js';
import { Kinds, resourcePath } from '../../kube/resources.js';
import { isNotFound } from '../../kube/rest.js';
import type { ReconcileFn } from '../../kube/workqueue.js';
import type { Logger } from '../../log.js';
import type { Parsed, Store } from '../caches.js';
import { FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL } from '../labels.js';
import {
  dec,
  lineCovers,
  mergeUsage,
  monthOf,
  newLines,
  previousMonth,
  type Baseline,
  type JobUsage,
} from './ledger.js';

/** How far back a job's earlier months are looked up (a job older than this starts from its oldest month seen). */
const LOOKBACK_MONTHS = 120;

export interface UsageDeps {
  client: Pick<KubeClient, 'rest' | 'mapper'>;
  jobs: Store<KubernetesObject>;
  records: Store<KubernetesObject>;
  parsed: Parsed;
  clock?: Clock;
  logger?: Logger | undefined;
}

/** What a job's status says it used (zero when it never ran). */
export function jobUsage(job: TrainingJob): JobUsage {
  return {
    uid: job.metadata.uid ?? '',
    name: job.metadata.name ?? '',
    gpuHours: dec(job.status?.gpuHours),
    earnedUsd: dec(job.status?.earnedUsd),
  };
}

/** The namespace's records that parse; a record that does not is reported and makes the result undefined. */
function recordsOf(
  store: Store<KubernetesObject>,
  namespace: string,
  log: Logger | undefined,
): UsageRecord[] | undefined {
  const out: UsageRecord[] = [];
  for (const o of store.list(namespace)) {
    const r = parseUsageRecord(o);
    if (!r.ok) {
      log?.error({ namespace, error: r.error }, 'usage record does not parse; not written over');
      return undefined;
    }
    out.push(r.value);
  }
  return out;
}

/** Is everything the job used in some record of its namespace (so its finalizer may go)? */
export function usageRecorded(job: TrainingJob, records: Store<KubernetesObject>): boolean {
  const u = jobUsage(job);
  if (u.gpuHours.sign() <= 0 && u.earnedUsd.sign() <= 0) return true;
  for (const o of records.list(job.metadata.namespace)) {
    const r = parseUsageRecord(o);
    if (
      r.ok &&
      lineCovers(
        r.value.status?.jobs?.find((l) => l.uid === u.uid),
        u,
      )
    )
      return true;
  }
  return false;
}

/**
 * The usage reconciler, keyed by namespace: folds every TrainingJob's status.gpuHours and status.earnedUsd
 * into the namespace's UsageRecord of the current month (UTC), named after it. Totals, not increments: each
 * line keeps the job totals it was last written from, so the same status folded twice adds nothing. Writes
 * are conditional on the resourceVersion read (a race is retried), and go through the leader's fenced client.
 */
export function createUsageReconciler(deps: UsageDeps): ReconcileFn {
  const clock = deps.clock ?? systemClock;
  const log = deps.logger;
  return async (namespace, signal) => {
    if (!namespace) return;
    const records = recordsOf(deps.records, namespace, log);
    if (!records) return;
    const jobs = deps.parsed.jobsOf(deps.jobs, namespace).map((j) => ({ job: j, usage: jobUsage(j) }));
    const nowMs = clock.now();
    // Never a month older than one already recorded: a replica whose clock lags must not reopen a closed month.
    let month = monthOf(nowMs);
    for (const r of records) if (r.spec.month > month) month = r.spec.month;
    const current = records.find((r) => r.metadata.name === month);

    const baselines = new Map<string, Baseline>();
    const earlier = new Map<string, UsageRecord | undefined>();
    for (const u of newLines(
      current?.status,
      jobs.map((j) => j.usage),
    )) {
      const job = jobs.find((j) => j.usage.uid === u.uid)?.job;
      const created = job?.metadata.creationTimestamp;
      const from = created ? monthOf(Date.parse(created)) : '0000-01';
      let m = month;
      for (let k = 0; k < LOOKBACK_MONTHS; k++) {
        m = previousMonth(m);
        if (m < from) break;
        if (!earlier.has(m)) earlier.set(m, await getRecord(namespace, m, signal));
        const line = earlier.get(m)?.status?.jobs?.find((l) => l.uid === u.uid);
        if (line) {
          baselines.set(u.uid, { gpuHours: dec(line.jobGpuHours), earnedUsd: dec(line.jobEarnedUsd) });
          break;
        }
      }
    }

    const merged = mergeUsage(
      current?.status,
      jobs.map((j) => j.usage),
      baselines,
      nowMs,
    );
    if (!merged.changed) return;
    let resourceVersion = current?.metadata.resourceVersion;
    if (!current) {
      // Created empty (the status subresource ignores status on create), then written like any update.
      const res = await deps.client.rest.request<KubernetesObject>({
        method: 'POST',
        path: resourcePath(Kinds.UsageRecord, { namespace }),
        body: {
          apiVersion: API_VERSION,
          kind: 'UsageRecord',
          metadata: { name: month, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
          spec: { month },
        },
        query: { fieldManager: FIELD_MANAGER },
        signal,
      });
      resourceVersion = res.body.metadata?.resourceVersion;
    }
    await apply(
      deps.client,
      {
        apiVersion: API_VERSION,
        kind: 'UsageRecord',
        // Conditional: the lines were computed from this version; a newer one means compute again.
        metadata: { name: month, namespace, resourceVersion },
        status: merged.status,
      } as KubernetesObject,
      { fieldManager: FIELD_MANAGER, force: true, subresource: 'status', signal },
    );
    log?.debug(
      { namespace, month, gpuHours: merged.status.gpuHours, earnedUsd: merged.status.earnedUsd },
      'usage recorded',
    );
  };

  /** An earlier month's record read from the API server (not the cache: it must be its last version). */
  async function getRecord(
    namespace: string,
    month: string,
    signal: AbortSignal,
  ): Promise<UsageRecord | undefined> {
    try {
      const res = await deps.client.rest.request<unknown>({
        method: 'GET',
        path: resourcePath(Kinds.UsageRecord, { namespace, name: month }),
        signal,
      });
      const r = parseUsageRecord(res.body);
      if (!r.ok) throw new Error(`${r.error}: not read as a baseline`);
      return r.value;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
