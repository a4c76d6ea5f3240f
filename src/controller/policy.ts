import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { parseFleetPolicy, type FleetPolicy, type FleetPolicySpec } from '../api/v1alpha1/index.js';
import { Decimal } from '../economics/decimal.js';
import type { PlannerPolicy } from '../planner/index.js';

/** The policy in force and where it came from. */
export interface EffectivePolicy {
  spec: FleetPolicySpec;
  /** cluster: the FleetPolicy `default`; file: --policy-file; defaults: neither. */
  source: 'cluster' | 'file' | 'defaults';
  /** The FleetPolicy object when the source is the cluster (its status is reported). */
  object?: FleetPolicy;
  /** Why the cluster's FleetPolicy could not be used (it does not parse): defaults apply meanwhile. */
  problem?: string;
}

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

/** The policy in force: the file if given, else the cluster's FleetPolicy `default`, else the defaults. */
export function effectivePolicy(
  fileSpec: FleetPolicySpec | undefined,
  clusterObject: unknown,
): EffectivePolicy {
  if (fileSpec) return { spec: fileSpec, source: 'file' };
  if (!clusterObject) return { spec: DEFAULTS, source: 'defaults' };
  const r = parseFleetPolicy(clusterObject);
  if (!r.ok) return { spec: DEFAULTS, source: 'defaults', problem: r.error };
  return { spec: r.value.spec, source: 'cluster', object: r.value };
}

/** The planner's numbers from the policy spec. */
export function plannerPolicy(spec: FleetPolicySpec): PlannerPolicy {
  return {
    hysteresisPercent: spec.hysteresisPercent,
    minDwellSeconds: spec.minDwellSeconds,
    switchingSeconds: spec.switchingSeconds,
    maxConcurrentDrains: spec.maxConcurrentDrains,
    allowIdle: spec.allowIdle,
    floorRentalUsdPerGpuHour:
      spec.floorRentalUsdPerGpuHour === undefined
        ? 0
        : Decimal.parse(spec.floorRentalUsdPerGpuHour).toNumber(),
  };
}
