import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import {
  FLEET_POLICY_NAME,
  parseFleetPolicy,
  type FleetPolicy,
  type FleetPolicySpec,
} from '../api/v1alpha1/index.js';
import { Decimal } from '../economics/decimal.js';
import type { Readiness } from '../kube/http.js';
import type { Condition } from '../kube/status.js';
import type { PlannerPolicy } from '../planner/index.js';

/**
 * The policy in force and where it came from, or why there is none. Without a valid policy the operator fails
 * closed: no node or pod is written (see `policyInForce`), so deleting the FleetPolicy of a dry-run install
 * can never turn it live with the defaults.
 */
export type EffectivePolicy =
  | {
      spec: FleetPolicySpec;
      /** cluster: the FleetPolicy `default`; file: --policy-file. */
      source: 'cluster' | 'file';
      /** The FleetPolicy object when the source is the cluster (its status is reported). */
      object?: FleetPolicy;
    }
  | {
      source: 'none';
      /** PolicyMissing: no FleetPolicy `default`; PolicyInvalid: it does not parse. */
      reason: 'PolicyMissing' | 'PolicyInvalid';
      /** What is wrong, in kubectl-user words. */
      problem: string;
      /** The FleetPolicy as stored, when it exists but does not parse (its status gets the condition). */
      raw?: {
        metadata: { name: string; generation?: number | undefined };
        status?: { conditions?: Condition[] | undefined } | undefined;
      };
    };

const DEFAULTS = (() => {
  const r = parseFleetPolicy({ metadata: { name: 'default' } });
  if (!r.ok) throw new Error(`FleetPolicy defaults do not parse: ${r.error}`);
  return r.value.spec;
})();

export function defaultPolicySpec(): FleetPolicySpec {
  return DEFAULTS;
}

/**
 * A policy file given with --policy-file replaces the FleetPolicy resource (e.g. set from Helm values, or one
 * policy per operator when several run on parts of a cluster). It holds a FleetPolicy manifest or only its spec.
 */
export function loadPolicyFile(path: string): FleetPolicySpec {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`policy file ${path}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  const obj =
    doc && typeof doc === 'object' && 'spec' in doc
      ? { ...(doc as Record<string, unknown>), metadata: { name: 'default' } }
      : { metadata: { name: 'default' }, spec: doc ?? {} };
  const r = parseFleetPolicy(obj);
  if (!r.ok) throw new Error(`policy file ${path}: ${r.error}`);
  return r.value.spec;
}

/** The policy in force: the file if given, else the cluster's FleetPolicy `default`; else none, and why. */
export function effectivePolicy(
  fileSpec: FleetPolicySpec | undefined,
  clusterObject: unknown,
): EffectivePolicy {
  if (fileSpec) return { spec: fileSpec, source: 'file' };
  if (!clusterObject) {
    return {
      source: 'none',
      reason: 'PolicyMissing',
      problem:
        `no FleetPolicy "${FLEET_POLICY_NAME}": nothing is switched, drained or started until one exists ` +
        '(create it, or run the operator with --policy-file)',
    };
  }
  const r = parseFleetPolicy(clusterObject);
  if (!r.ok) {
    const o = clusterObject as {
      metadata?: { name?: string; generation?: number };
      status?: { conditions?: Condition[] };
    };
    const meta = o.metadata;
    return {
      source: 'none',
      reason: 'PolicyInvalid',
      problem:
        `FleetPolicy "${FLEET_POLICY_NAME}" is invalid (${r.error}): nothing is switched, drained or started ` +
        'until it is fixed',
      raw: {
        metadata: { name: meta?.name ?? FLEET_POLICY_NAME, generation: meta?.generation },
        status: { conditions: Array.isArray(o.status?.conditions) ? o.status.conditions : undefined },
      },
    };
  }
  return { spec: r.value.spec, source: 'cluster', object: r.value };
}

/**
 * The one check every writer of nodes and pods goes through: the spec to act on, or undefined when there is
 * no valid policy (then the caller writes nothing to nodes or pods).
 */
export function policyInForce(p: EffectivePolicy): FleetPolicySpec | undefined {
  return p.source === 'none' ? undefined : p.spec;
}

/** The planner's numbers from the policy spec. */
export function plannerPolicy(spec: FleetPolicySpec): PlannerPolicy {
  return {
    hysteresisPercent: spec.hysteresisPercent,
    minDwellSeconds: spec.minDwellSeconds,
    switchingSeconds: spec.switchingSeconds,
    paybackSeconds: spec.paybackSeconds,
    maxConcurrentDrains: spec.maxConcurrentDrains,
    allowIdle: spec.allowIdle,
    floorRentalUsdPerGpuHour:
      spec.floorRentalUsdPerGpuHour === undefined
        ? 0
        : Decimal.parse(spec.floorRentalUsdPerGpuHour).toNumber(),
  };
}

/**
 * /readyz with the policy: not ready while there is no valid policy, the cause in the body. A Deployment whose
 * pods never become Ready is how a kubectl user notices; nothing else depends on the operator being Ready.
 */
export function withPolicyReadiness(r: Readiness, p: EffectivePolicy, policySynced: boolean): Readiness {
  if (p.source !== 'none' || !policySynced) return r;
  return { ready: false, reasons: [...(r.ready ? [] : r.reasons), p.problem] };
}
