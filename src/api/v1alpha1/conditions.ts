import { z } from 'zod';
import { listMap, timestamp } from './meta.js';

/** Condition reasons are CamelCase identifiers, as in metav1.Condition. */
export const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
/** Condition types: CamelCase, optionally prefixed by a DNS subdomain and a slash. */
export const CONDITION_TYPE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;

export const conditionStatusSchema = z
  .enum(['True', 'False', 'Unknown'])
  .describe('Whether the condition holds: True, False, or Unknown when the operator cannot tell.');

/** One observation about an object, shaped like metav1.Condition. */
export const conditionSchema = z
  .object({
    type: z
      .string()
      .min(1)
      .max(316)
      .regex(CONDITION_TYPE)
      .describe('Type of condition in CamelCase, e.g. Ready. Unique within the list.'),
    status: conditionStatusSchema,
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(REASON)
      .describe(
        'Machine-readable CamelCase reason for the last transition, e.g. InsufficientCapacity. Tools may match on it.',
      ),
    message: z
      .string()
      .max(32768)
      .default('')
      .describe('Human-readable details about the last transition; may be empty.'),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe(
        'metadata.generation the condition was set for; older than the object means it may be stale.',
      ),
    lastTransitionTime: timestamp('When the status last changed from one value to another (RFC 3339).'),
  })
  .describe('One observation of the state of the object, in the standard Kubernetes condition shape.');

export type Condition = z.infer<typeof conditionSchema>;

/** A conditions list keyed by `type`; `types` documents the condition types the operator sets. */
export function conditionsSchema(types: Record<string, string>) {
  const list = Object.entries(types)
    .map(([t, meaning]) => `${t}: ${meaning}`)
    .join(' ');
  return listMap(
    z
      .array(conditionSchema)
      .max(16)
      .describe(`Latest observations of the object's state, one per type. ${list}`),
    'type',
  );
}

/** The condition of the given type, if present. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when the condition of the given type is present with status True. */
export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}
