// rigshift.io/v1alpha1: the zod schemas are the single source of truth for the TypeScript types, the
// operator's parsing of objects, and the generated CRDs (src/api/crdgen.ts).
import { fleetPolicyKind } from './fleetpolicy.js';
import { jobGrantsKind } from './jobgrants.js';
import type { KindInfo } from './meta.js';
import { miningPoolKind } from './miningpool.js';
import { trainingJobKind } from './trainingjob.js';
import { usageRecordKind } from './usagerecord.js';

export * from './conditions.js';
export * from './decimal.js';
export * from './fleetpolicy.js';
export * from './gpus.js';
export * from './jobgrants.js';
export * from './meta.js';
export * from './miner.js';
export * from './miningpool.js';
export * from './parse.js';
export * from './podspec.js';
export * from './pricesource.js';
export * from './quantity.js';
export * from './refs.js';
export * from './selector.js';
export * from './trainingjob.js';
export * from './usagerecord.js';
export * from './volumes.js';

/** Every kind of this version, in the order the CRDs are generated. */
export const KINDS: readonly KindInfo[] = [
  miningPoolKind,
  trainingJobKind,
  fleetPolicyKind,
  usageRecordKind,
  jobGrantsKind,
];
