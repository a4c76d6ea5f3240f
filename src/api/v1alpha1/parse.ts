import type { z } from 'zod';
import { fleetPolicySchema, type FleetPolicy } from './fleetpolicy.js';
import { miningPoolSchema, type MiningPool } from './miningpool.js';
import { trainingJobSchema, type TrainingJob } from './trainingjob.js';
import { usageRecordSchema, type UsageRecord } from './usagerecord.js';

/**
 * Result of reading an object through its schema. `warnings` lists problems that were tolerated (a status
 * written by another version that no longer parses is dropped rather than failing the whole object).
 */
export type ParseResult<T> = { ok: true; value: T; warnings: string[] } | { ok: false; error: string };

/** `spec.gpuProfiles[0].hashrate: message; ...` */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const path = i.path
        .map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`))
        .join('');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

function describeObject(kind: string, obj: unknown): string {
  const meta = (obj as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  const name = typeof meta?.name === 'string' ? meta.name : '<unnamed>';
  return typeof meta?.namespace === 'string' ? `${kind} ${meta.namespace}/${name}` : `${kind} ${name}`;
}

/**
 * Parses any object through a kind's schema: unknown fields are dropped, defaults applied, and a broken
 * status is dropped with a warning (the operator rewrites status; it must never crash on an old one).
 */
export function parseObject<S extends z.ZodType>(
  schema: S,
  kind: string,
  obj: unknown,
): ParseResult<z.infer<S>> {
  const first = schema.safeParse(obj);
  if (first.success) return { ok: true, value: first.data, warnings: [] };
  const who = describeObject(kind, obj);
  const statusOnly = first.error.issues.every((i) => i.path[0] === 'status');
  if (statusOnly && obj !== null && typeof obj === 'object') {
    const { status: _status, ...rest } = obj as Record<string, unknown>;
    const second = schema.safeParse(rest);
    if (second.success) {
      return {
        ok: true,
        value: second.data,
        warnings: [`${who}: status ignored: ${formatIssues(first.error.issues)}`],
      };
    }
  }
  return { ok: false, error: `${who}: ${formatIssues(first.error.issues)}` };
}

export function parseMiningPool(obj: unknown): ParseResult<MiningPool> {
  return parseObject(miningPoolSchema, 'MiningPool', obj);
}

export function parseTrainingJob(obj: unknown): ParseResult<TrainingJob> {
  return parseObject(trainingJobSchema, 'TrainingJob', obj);
}

export function parseFleetPolicy(obj: unknown): ParseResult<FleetPolicy> {
  return parseObject(fleetPolicySchema, 'FleetPolicy', obj);
}

/** Strict: a UsageRecord whose status does not parse is refused whole (it is never written over). */
export function parseUsageRecord(obj: unknown): ParseResult<UsageRecord> {
  const r = usageRecordSchema.safeParse(obj);
  if (r.success) return { ok: true, value: r.data, warnings: [] };
  return { ok: false, error: `${describeObject('UsageRecord', obj)}: ${formatIssues(r.error.issues)}` };
}
