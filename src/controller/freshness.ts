import type { KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION } from '../api/v1alpha1/index.js';
import { apply } from '../kube/apply.js';
import type { KubeClient } from '../kube/client.js';
import { condition, mergeConditions, statusEqual } from '../kube/status.js';
import type { Logger } from '../log.js';
import { PLANNER_MANAGER } from './labels.js';
import type { EffectivePolicy } from './policy.js';

/** An informer whose watch has been silent past its liveness bound. */
export interface StaleCache {
  name: string;
  silentMs: number;
}

/**
 * Why the planner must not plan now, or undefined: a cache known to be stale (its watch silent past the bound)
 * or writes of its own the caches have not shown for too long. Planning from either could undo or repeat
 * decisions (two jobs on one node), so the planner holds still instead (fail closed). Pure.
 */
export function cacheHold(stale: readonly StaleCache[], overdue: readonly string[]): string | undefined {
  const parts: string[] = [];
  if (stale.length > 0) {
    const names = stale.map((s) => s.name).join(', ');
    parts.push(
      `the watch of ${names} delivers nothing (no event or bookmark past its liveness bound; relisting)`,
    );
  }
  if (overdue.length > 0) {
    const shown = overdue.slice(0, 3).join(', ');
    const more = overdue.length > 3 ? ` and ${overdue.length - 3} more` : '';
    parts.push(`the caches do not show the operator's own writes yet (${shown}${more})`);
  }
  return parts.length > 0 ? `not planning: ${parts.join('; ')}` : undefined;
}

export interface FreshnessDeps {
  client: Pick<KubeClient, 'rest' | 'mapper'>;
  logger?: Logger | undefined;
}

/**
 * Says that the planner holds still, and why: a log line when the cause changes, and `Ready=False` (reason
 * `CachesStale`) on the cluster's FleetPolicy; once fresh again, a log line (the next plan writes Ready=True).
 */
export function freshnessReporter(deps: FreshnessDeps): {
  holding(why: string, stale: readonly StaleCache[], policy: EffectivePolicy, nowMs: number): Promise<void>;
  fresh(): void;
} {
  let last: string | undefined;
  return {
    async holding(why, stale, policy, nowMs) {
      if (why !== last) {
        const silentSeconds = Object.fromEntries(stale.map((s) => [s.name, Math.floor(s.silentMs / 1000)]));
        deps.logger?.warn({ why, silentSeconds }, 'caches stale: not planning');
      }
      last = why;
      if (policy.source !== 'cluster' || !policy.object) return;
      const obj = policy.object;
      const gen = obj.metadata.generation;
      const desired = [condition('Ready', 'False', 'CachesStale', why, gen)];
      const current = (obj.status?.conditions ?? []).filter((c) => c.type === 'Ready');
      if (statusEqual({ conditions: current }, { conditions: desired })) return;
      await apply(
        deps.client,
        {
          apiVersion: API_VERSION,
          kind: 'FleetPolicy',
          metadata: { name: obj.metadata.name ?? 'default' },
          status: { conditions: mergeConditions(obj.status?.conditions, desired, new Date(nowMs)) },
        } as KubernetesObject,
        { fieldManager: PLANNER_MANAGER, force: true, subresource: 'status' },
      ).catch((err: unknown) => deps.logger?.warn({ err }, 'could not write the FleetPolicy condition'));
    },
    fresh() {
      if (last === undefined) return;
      deps.logger?.info({ was: last }, 'caches fresh again: planning resumes');
      last = undefined;
    },
  };
}
