import { z } from 'zod';
import { LABEL_VALUE, QUALIFIED_NAME, withCel } from './meta.js';

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** One requirement of a label selector at `path` (e.g. spec.nodeSelector), named in error messages. */
export function labelSelectorRequirementSchema(path: string) {
  const message = `${path}.matchExpressions[]: In and NotIn need values; Exists and DoesNotExist take none`;
  return withCel(
    z
      .object({
        key: z
          .string()
          .min(1)
          .max(316)
          .regex(QUALIFIED_NAME)
          .describe('The node label key the requirement applies to, e.g. nvidia.com/gpu.product.'),
        operator: z
          .enum(OPERATORS)
          .describe(
            "How the key relates to values: In and NotIn compare the label's value with values; " +
              'Exists and DoesNotExist only test whether the label is present.',
          ),
        values: z
          .array(z.string().max(63).regex(LABEL_VALUE).describe('A label value.'))
          .max(64)
          .optional()
          .describe(
            'Label values for In and NotIn (at least one); must be empty for Exists and DoesNotExist.',
          ),
      })
      .refine((r) => (r.operator === 'In' || r.operator === 'NotIn') === (r.values?.length ?? 0) > 0, {
        message,
      })
      .describe('A requirement on one node label.'),
    {
      rule: "(self.operator == 'In' || self.operator == 'NotIn') == (has(self.values) && size(self.values) > 0)",
      message,
    },
  );
}

/**
 * A metav1.LabelSelector over node labels at `path` (named in error messages). Empty selects every node.
 * Both parts must match (they are ANDed).
 */
export function labelSelectorSchema(path: string, description: string) {
  return z
    .object({
      matchLabels: z
        .record(z.string().max(316), z.string().max(63).describe('The label value the node must carry.'))
        .optional()
        .meta({ maxProperties: 64 })
        .describe('Labels the node must carry with exactly these values, e.g. nvidia.com/gpu.product.'),
      matchExpressions: z
        .array(labelSelectorRequirementSchema(path))
        .max(16)
        .optional()
        .describe('Requirements on node labels; a node must meet all of them.'),
    })
    .describe(description);
}

export type LabelSelector = z.infer<ReturnType<typeof labelSelectorSchema>>;

/** Does a node with these labels match the selector? An empty selector matches everything. */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const value = labels[r.key];
    const inValues = value !== undefined && (r.values ?? []).includes(value);
    if (r.operator === 'In' && !inValues) return false;
    if (r.operator === 'NotIn' && inValues) return false;
    if (r.operator === 'Exists' && !has) return false;
    if (r.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
