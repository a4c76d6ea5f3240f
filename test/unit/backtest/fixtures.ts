import { readFileSync } from 'node:fs';
import { dump, load } from 'js-yaml';
import { fleetPolicyFrom, miningPoolFrom, type PoolProfile } from '../../../src/backtest/manifests.js';
import type { PlannerPolicy } from '../../../src/planner/index.js';
import type { ExactProfile } from './exact.js';

export const EXAMPLE_POOL = 'deploy/examples/miningpool-etc.yaml';
export const EXAMPLE_POLICY = 'deploy/examples/fleetpolicy-default.yaml';
export const TRACES = '/work/shared/data/traces';
export const JOBS = '/work/shared/data/jobs';

/** The example MiningPool with other GPU profiles and fee, through the real parser. */
export function pool(profiles: Record<string, ExactProfile>, fee: string): PoolProfile {
  const doc = load(readFileSync(EXAMPLE_POOL, 'utf8')) as { spec: Record<string, unknown> };
  doc.spec.gpuProfiles = Object.entries(profiles).map(([product, p]) => ({ product, ...p }));
  doc.spec.poolFeePercent = fee;
  return miningPoolFrom(dump(doc), 'test pool');
}

export function policy(spec: Record<string, unknown>): PlannerPolicy {
  return fleetPolicyFrom(
    dump({ apiVersion: 'rigshift.io/v1alpha1', kind: 'FleetPolicy', metadata: { name: 'default' }, spec }),
    'test policy',
  ).policy;
}

export const P3090 = 'NVIDIA-GeForce-RTX-3090';
export const P4090 = 'NVIDIA-GeForce-RTX-4090';

/** Deterministic pseudo-random numbers for generated traces. */
export function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}
