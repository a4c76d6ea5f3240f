import type { KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION } from '../api/v1alpha1/index.js';
import { apply } from '../kube/apply.js';
import type { KubeClient } from '../kube/client.js';
import type { EventRecorder, ObjectReference } from '../kube/events.js';
import { condition, mergeConditions, statusEqual } from '../kube/status.js';
import type { Logger } from '../log.js';
import { PLANNER_MANAGER } from './labels.js';
import type { EffectivePolicy } from './policy.js';

type NoPolicy = Extract<EffectivePolicy, { source: 'none' }>;

export interface PolicyReportDeps {
  client: Pick<KubeClient, 'rest' | 'mapper'>;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  logger?: Logger | undefined;
  /**
   * What Events about a missing FleetPolicy are recorded on (it has no object of its own): the operator's
   * Lease, else its Namespace.
   */
  policyRef?: (() => ObjectReference | undefined) | undefined;
}

/**
 * Says why the operator is holding still: a Warning Event (on the FleetPolicy when it exists but is invalid, on
 * the operator's Lease or Namespace when it is missing), the `Ready=False` condition on an invalid FleetPolicy,
 * and a log line when the cause changes. Once a valid policy is back, a Normal `PolicyInForce` Event.
 */
export function policyReporter(deps: PolicyReportDeps): {
  blocked(p: NoPolicy, nowMs: number): Promise<void>;
  acting(source: 'cluster' | 'file'): Promise<void>;
} {
  let last: string | undefined;
  const where = (p: NoPolicy): ObjectReference | undefined =>
    p.raw ? { apiVersion: API_VERSION, kind: 'FleetPolicy', name: p.raw.metadata.name } : deps.policyRef?.();

  return {
    async blocked(p, nowMs) {
      if (last !== p.problem) deps.logger?.warn({ reason: p.reason, problem: p.problem }, 'no valid policy');
      last = p.problem;
      const ref = where(p);
      if (ref) await deps.events.warning(ref, p.reason, 'Plan', p.problem);
      if (p.raw) {
        await writeInvalidCondition(deps, p, nowMs).catch((err: unknown) =>
          deps.logger?.warn({ err }, 'could not write the FleetPolicy condition'),
        );
      }
    },
    async acting(source) {
      if (last === undefined) return;
      last = undefined;
      const note = `a valid FleetPolicy is in force again (from the ${source === 'file' ? 'policy file' : 'cluster'}): planning resumes`;
      deps.logger?.info({ source }, 'policy in force again');
      const ref = deps.policyRef?.();
      if (ref) await deps.events.normal(ref, 'PolicyInForce', 'Plan', note);
    },
  };
}

async function writeInvalidCondition(deps: PolicyReportDeps, p: NoPolicy, nowMs: number): Promise<void> {
  const raw = p.raw;
  if (!raw) return;
  const gen = raw.metadata.generation;
  const desired = [condition('Ready', 'False', p.reason, p.problem, gen)];
  const current = (raw.status?.conditions ?? []).filter((c) => c.type === 'Ready');
  if (statusEqual({ conditions: current }, { conditions: desired })) return;
  await apply(
    deps.client,
    {
      apiVersion: API_VERSION,
      kind: 'FleetPolicy',
      metadata: { name: raw.metadata.name },
      status: { conditions: mergeConditions(raw.status?.conditions, desired, new Date(nowMs)) },
    } as KubernetesObject,
    { fieldManager: PLANNER_MANAGER, force: true, subresource: 'status' },
  );
}
