import { readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import { parseFleetPolicy, parseMiningPool } from '../api/v1alpha1/index.js';
import { decimalNumber, profileFromSpec, type GpuProfile } from '../economics/rates.js';
import type { PlannerPolicy } from '../planner/index.js';

/** The backtest's MiningPool and FleetPolicy, read from ordinary manifests through the API's parsers. */

export interface PoolProfile {
  name: string;
  feePercent: number;
  profiles: Map<string, GpuProfile>;
}

export interface LoadedPolicy {
  name: string;
  policy: PlannerPolicy;
}

/** The first document of `kind` in a YAML file (several documents separated by --- are fine). */
function documentOf(text: string, kind: string, file: string): unknown {
  let docs: unknown[];
  try {
    docs = loadAll(text);
  } catch (err) {
    throw new Error(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const found = docs.find((d) => (d as { kind?: unknown } | null)?.kind === kind);
  if (found === undefined) {
    const kinds = docs.map((d) => String((d as { kind?: unknown } | null)?.kind ?? '?')).join(', ');
    throw new Error(`${file}: no ${kind} in it${kinds ? ` (found ${kinds})` : ''}`);
  }
  return found;
}

export function miningPoolFrom(text: string, file = 'pool'): PoolProfile {
  const parsed = parseMiningPool(documentOf(text, 'MiningPool', file));
  if (!parsed.ok) throw new Error(`${file}: ${parsed.error}`);
  const spec = parsed.value.spec;
  const profiles = new Map<string, GpuProfile>();
  for (const p of spec.gpuProfiles) profiles.set(p.product, profileFromSpec(p));
  return {
    name: parsed.value.metadata.name ?? 'pool',
    feePercent: decimalNumber(spec.poolFeePercent),
    profiles,
  };
}

export function fleetPolicyFrom(text: string, file = 'policy'): LoadedPolicy {
  const parsed = parseFleetPolicy(documentOf(text, 'FleetPolicy', file));
  if (!parsed.ok) throw new Error(`${file}: ${parsed.error}`);
  const s = parsed.value.spec;
  return {
    name: parsed.value.metadata.name ?? 'default',
    policy: {
      hysteresisPercent: s.hysteresisPercent,
      minDwellSeconds: s.minDwellSeconds,
      switchingSeconds: s.switchingSeconds,
      paybackSeconds: s.paybackSeconds,
      maxConcurrentDrains: s.maxConcurrentDrains,
      allowIdle: s.allowIdle,
      floorRentalUsdPerGpuHour:
        s.floorRentalUsdPerGpuHour === undefined ? 0 : decimalNumber(s.floorRentalUsdPerGpuHour),
    },
  };
}

export function loadMiningPool(file: string): PoolProfile {
  return miningPoolFrom(readFileSync(file, 'utf8'), file);
}

export function loadFleetPolicy(file: string): LoadedPolicy {
  return fleetPolicyFrom(readFileSync(file, 'utf8'), file);
}
