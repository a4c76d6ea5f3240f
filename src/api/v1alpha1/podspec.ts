import { z } from 'zod';
import {
  type CelRule,
  labelValue,
  listAtomic,
  listMap,
  objectName,
  QUALIFIED_NAME,
  withCel,
} from './meta.js';
import { QUANTITY, parseQuantity } from './quantity.js';

// The parts of a pod spec a TrainingJob (and the FleetPolicy's defaults) may set: typed subsets of core/v1,
// validated here and by CEL so a mistake is refused when the object is written, not when its pods are.

const RESOURCES = ['cpu', 'memory'] as const;
type Resource = (typeof RESOURCES)[number];

function amount(path: string, what: string, example: string) {
  const message = `${path} must be a positive Kubernetes quantity such as "${example}"`;
  return withCel(
    z
      .string()
      .max(32)
      .refine((s) => QUANTITY.test(s) && parseQuantity(s) > 0, { message })
      .optional()
      .describe(what),
    { rule: "isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))", message },
  );
}

function amounts(path: string, kind: 'requests' | 'limits') {
  const verb = kind === 'requests' ? 'reserved for' : 'at most used by';
  return z
    .object({
      cpu: amount(`${path}.${kind}.cpu`, `CPU ${verb} each replica, e.g. "16" or "500m".`, '16'),
      memory: amount(`${path}.${kind}.memory`, `Memory ${verb} each replica, e.g. "64Gi".`, '64Gi'),
    })
    .optional();
}

/** Requests and limits of CPU and memory of one replica, each request at most its limit. */
export function computeResourcesSchema(path: string, description: string) {
  const rules: CelRule[] = RESOURCES.map((r) => ({
    rule:
      `!has(self.requests) || !has(self.limits) || !has(self.requests.${r}) || !has(self.limits.${r}) || ` +
      `!isQuantity(self.requests.${r}) || !isQuantity(self.limits.${r}) || ` +
      `quantity(self.requests.${r}).compareTo(quantity(self.limits.${r})) <= 0`,
    message: `${path}.requests.${r} must not exceed ${path}.limits.${r}`,
    fieldPath: `.requests.${r}`,
  }));
  let schema = z
    .object({
      requests: amounts(path, 'requests').describe(
        'What the scheduler reserves for each replica on its node (its QoS class: Burstable, or Guaranteed ' +
          'when equal to the limits).',
      ),
      limits: amounts(path, 'limits').describe(
        'Most each replica may use: CPU is throttled above it, memory above it is an OOM kill. A limit without ' +
          'a request also sets the request.',
      ),
    })
    .describe(description);
  for (const r of RESOURCES) {
    schema = schema.refine(
      (v) => {
        const req = v.requests?.[r];
        const lim = v.limits?.[r];
        if (req === undefined || lim === undefined) return true;
        try {
          return parseQuantity(req) <= parseQuantity(lim);
        } catch {
          return true; // the field's own check says it
        }
      },
      { message: `${path}.requests.${r} must not exceed ${path}.limits.${r}`, path: ['requests', r] },
    );
  }
  return withCel(schema, ...rules);
}

export type ComputeResources = z.infer<ReturnType<typeof computeResourcesSchema>>;

/**
 * A replica's CPU and memory: for each resource, the job's request and limit when it sets either, else the
 * default's. Whole pairs, never mixed, so a default limit never falls below a request the job set.
 */
export function effectiveResources(
  job: ComputeResources | undefined,
  fallback: ComputeResources | undefined,
): { requests: Record<string, string>; limits: Record<string, string> } {
  const out = { requests: {} as Record<string, string>, limits: {} as Record<string, string> };
  for (const r of RESOURCES as readonly Resource[]) {
    const own = job?.requests?.[r] !== undefined || job?.limits?.[r] !== undefined;
    const from = own ? job : fallback;
    const req = from?.requests?.[r];
    const lim = from?.limits?.[r];
    if (req !== undefined) out.requests[r] = req;
    if (lim !== undefined) out.limits[r] = lim;
  }
  return out;
}

const TOLERATION_OPERATORS = ['Exists', 'Equal'] as const;
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
const existsMessage = 'spec.tolerations[]: with operator Exists, value must be empty';
const keyMessage = 'spec.tolerations[]: an empty key needs operator Exists (it tolerates every taint)';
const secondsMessage = 'spec.tolerations[].tolerationSeconds is only for effect NoExecute';

export const tolerationSchema = withCel(
  z
    .object({
      key: z
        .string()
        .max(316)
        .regex(new RegExp(`(${QUALIFIED_NAME.source})|^$`))
        .optional()
        .describe('Taint key to tolerate; empty with operator Exists tolerates every taint.'),
      operator: z
        .enum(TOLERATION_OPERATORS)
        .default('Equal')
        .describe('Equal: the taint’s value must be value. Exists: any value. Default Equal.'),
      value: labelValue('Taint value to tolerate (operator Equal).').optional(),
      effect: z
        .enum(TAINT_EFFECTS)
        .optional()
        .describe('Taint effect to tolerate; absent tolerates every effect.'),
      tolerationSeconds: z
        .int()
        .min(0)
        .max(31536000)
        .optional()
        .describe('With effect NoExecute: how long the replica stays on a node after the taint appears.'),
    })
    .refine((t) => t.operator !== 'Exists' || !t.value, { message: existsMessage })
    .refine((t) => Boolean(t.key) || t.operator === 'Exists', { message: keyMessage })
    .refine((t) => t.tolerationSeconds === undefined || t.effect === 'NoExecute', { message: secondsMessage })
    .describe('A toleration of the training pods, as in a pod spec.'),
  { rule: "self.operator != 'Exists' || !has(self.value) || self.value == ''", message: existsMessage },
  { rule: "(has(self.key) && self.key != '') || self.operator == 'Exists'", message: keyMessage },
  {
    rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
    message: secondsMessage,
  },
);

export type Toleration = z.infer<typeof tolerationSchema>;

export const tolerationsSchema = listAtomic(
  z
    .array(tolerationSchema)
    .max(16)
    .optional()
    .describe(
      'Further taints the training pods tolerate (e.g. a farm’s own GPU taint), on top of the operator’s ' +
        'reserved-node toleration, which is always there. Replicas stay pinned to the nodes the operator ' +
        'assigned: a toleration never moves them elsewhere. Applies to pods created afterwards.',
    ),
);

export const imagePullSecretsSchema = listMap(
  z
    .array(
      z
        .object({
          name: objectName('Name of a Secret of type kubernetes.io/dockerconfigjson in the job’s namespace.'),
        })
        .describe('A Secret with registry credentials.'),
    )
    .max(16)
    .optional()
    .describe(
      'Secrets with credentials for pulling the image from a private registry, in the job’s namespace. ' +
        'Applies to pods created afterwards.',
    ),
  'name',
);

const selectorKeyMessage = 'spec.nodeSelector keys must be label keys such as topology.kubernetes.io/zone';
const ownLabelsMessage =
  'spec.nodeSelector must not name rigshift.io/ labels: the operator sets them on the nodes it switches';
const productMessage =
  'spec.nodeSelector["nvidia.com/gpu.product"] must be one of spec.gpuProducts, or no node could run the job';

export const nodeSelectorSchema = withCel(
  z
    .record(z.string(), labelValue('The label value the node must carry.'))
    .superRefine((sel, ctx) => {
      // Checked here rather than on the key, so the message names the problem.
      for (const k of Object.keys(sel)) {
        if (k.length > 316 || !QUALIFIED_NAME.test(k))
          ctx.addIssue({ code: 'custom', message: selectorKeyMessage, path: [k] });
        else if (k.startsWith('rigshift.io/'))
          ctx.addIssue({ code: 'custom', message: ownLabelsMessage, path: [k] });
      }
    })
    .optional()
    .meta({ maxProperties: 16 })
    .describe(
      'Labels every node of the gang must carry, e.g. {"topology.kubernetes.io/zone": "dc-2"}: the planner ' +
        'places the replicas only on such nodes, and the pods carry it too, ANDed with the operator’s pin to the ' +
        'assigned node. rigshift.io/ labels are the operator’s and may not be named. Applies to placements ' +
        'made afterwards.',
    ),
  { rule: "self.all(k, !k.startsWith('rigshift.io/'))", message: ownLabelsMessage },
  {
    rule: `self.all(k, k.size() <= 316 && k.matches(r'${QUALIFIED_NAME.source}'))`,
    message: selectorKeyMessage,
  },
);

/** CEL on the TrainingJob spec: a nodeSelector on the GPU product must agree with gpuProducts. */
export const nodeSelectorProductRule: CelRule = {
  rule:
    "!has(self.nodeSelector) || !('nvidia.com/gpu.product' in self.nodeSelector) || !has(self.gpuProducts) || " +
    "self.gpuProducts.size() == 0 || self.nodeSelector['nvidia.com/gpu.product'] in self.gpuProducts",
  message: productMessage,
  fieldPath: '.nodeSelector',
};

/** The zod side of nodeSelectorProductRule. */
export function nodeSelectorAgrees(spec: {
  nodeSelector?: Readonly<Record<string, string>> | undefined;
  gpuProducts?: readonly string[] | undefined;
}): boolean {
  const product = spec.nodeSelector?.['nvidia.com/gpu.product'];
  return product === undefined || !spec.gpuProducts?.length || spec.gpuProducts.includes(product);
}

export { productMessage as nodeSelectorProductMessage };
