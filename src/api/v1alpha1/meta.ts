import { z } from 'zod';

/** API group of every rigshift kind. */
export const GROUP = 'rigshift.io';
/** The only served and stored version so far. */
export const VERSION = 'v1alpha1';
/** `apiVersion` of every rigshift object. */
export const API_VERSION = `${GROUP}/${VERSION}`;

/** One `x-kubernetes-validations` entry: a CEL rule checked by the API server. */
export interface CelRule {
  rule: string;
  /** Shown to the user when the rule fails; always names the field. */
  message: string;
  /** Where the error is reported, relative to the schema node holding the rule (e.g. `.replicas`). */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Key under which CEL rules ride in zod metadata until the CRD generator emits them. */
export const CEL_KEY = 'x-kubernetes-validations';

/** Attaches CEL rules to a schema (kept in zod metadata, emitted by the CRD generator). */
export function withCel<T extends z.ZodType>(schema: T, ...rules: CelRule[]): T {
  const existing = (z.globalRegistry.get(schema)?.[CEL_KEY] as CelRule[] | undefined) ?? [];
  return schema.meta({ [CEL_KEY]: [...existing, ...rules] }) as T;
}

/**
 * Marks an array as a map keyed by the given item fields (server-side apply merges items by key); items must
 * be unique by key, which the API server enforces too.
 */
export function listMap<T extends z.ZodType>(schema: T, ...keys: string[]): T {
  const keyOf = (item: unknown) =>
    keys.map((k) => `${k}=${JSON.stringify((item as Record<string, unknown>)[k])}`).join(',');
  return schema
    .superRefine((items, ctx) => duplicates(items, keyOf, ctx))
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys }) as T;
}

/** Marks an array of scalars as a set: items unique; server-side apply merges by value. */
export function listSet<T extends z.ZodType>(schema: T): T {
  return schema
    .superRefine((items, ctx) => duplicates(items, (item) => JSON.stringify(item), ctx))
    .meta({ 'x-kubernetes-list-type': 'set' }) as T;
}

function duplicates(items: unknown, keyOf: (item: unknown) => string, ctx: z.RefinementCtx): void {
  if (!Array.isArray(items)) return;
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (seen.has(key))
      ctx.addIssue({ code: 'custom', message: `duplicate entries for key [${key}]`, path: [i] });
    seen.add(key);
  });
}

/** Marks an array as atomic: server-side apply replaces it whole (order matters, e.g. args). */
export function listAtomic<T extends z.ZodType>(schema: T): T {
  return schema.meta({ 'x-kubernetes-list-type': 'atomic' }) as T;
}

// Name rules of Kubernetes itself (k8s.io/apimachinery/pkg/util/validation).
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A ConfigMap or Secret data key. */
export const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
/** A label value (also the form of GPU Feature Discovery's product names). */
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** A qualified name: an optional DNS subdomain prefix and a slash, then a name (label keys, taint keys). */
export const QUALIFIED_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Name of an object in the same namespace (Secret, ConfigMap, PersistentVolumeClaim). */
export function objectName(description: string): z.ZodString {
  return z.string().min(1).max(253).regex(DNS_SUBDOMAIN).describe(description);
}

/** A Kubernetes label value, e.g. a GPU product as published by GPU Feature Discovery. */
export function labelValue(description: string): z.ZodString {
  return z.string().max(63).regex(LABEL_VALUE).describe(description);
}

/** A label or taint key such as `rigshift.io/mode`. */
export function qualifiedName(description: string): z.ZodString {
  return z.string().min(1).max(316).regex(QUALIFIED_NAME).describe(description);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 timestamp. Accepts a Date too (typed clients turn timestamps into Dates) and yields the ISO string.
 * The regex is a zod refinement, not a JSON-schema pattern: the API server checks `format: date-time` itself.
 */
export function timestamp(description: string) {
  return z
    .preprocess(
      (v) => (v instanceof Date ? v.toISOString() : v),
      z
        .string()
        .max(64)
        .refine((s) => RFC3339.test(s), {
          message: 'must be an RFC 3339 timestamp such as 2024-03-01T13:00:00Z',
        }),
    )
    .meta({ description, format: 'date-time' });
}

/** A non-negative whole number of seconds. */
export function seconds(description: string, max = 31_536_000) {
  return z.int().min(0).max(max).describe(description);
}

/** `metadata.generation` this status was computed from. */
export const observedGeneration = () =>
  z
    .int()
    .min(0)
    .describe(
      'metadata.generation of the spec this status was computed from. When it is lower than metadata.generation, ' +
        'the operator has not yet acted on the latest spec.',
    );

/**
 * ObjectMeta as the operator reads it. Lenient on purpose: every field optional, unknown fields dropped.
 * Not used for the CRD schema (the API server owns metadata).
 */
export const objectMetaSchema = z.object({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: z.preprocess((v) => (v instanceof Date ? v.toISOString() : v), z.string()).optional(),
  deletionTimestamp: z.preprocess((v) => (v instanceof Date ? v.toISOString() : v), z.string()).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z
    .array(
      z.object({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        uid: z.string(),
        controller: z.boolean().optional(),
        blockOwnerDeletion: z.boolean().optional(),
      }),
    )
    .optional(),
});
export type ObjectMeta = z.infer<typeof objectMetaSchema>;

/** A column of `kubectl get`, evaluated by the API server. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

/** Everything the CRD generator needs to know about a kind besides its spec and status schemas. */
export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  listKind: string;
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  /** The kind's own description, shown by `kubectl explain <kind>`. */
  description: string;
  specSchema: z.ZodType;
  statusSchema: z.ZodType;
  /** Default for the whole spec (e.g. `{}` when every field has a default). */
  specDefault?: Record<string, unknown>;
  /** Rules on the whole object (may read `self.metadata.name`). */
  rootValidations?: CelRule[];
  printerColumns: PrinterColumn[];
}
