import type { KubernetesObject } from '@kubernetes/client-node';
import { sleep, systemClock, type Clock } from './clock.js';
import type { KubeClient } from './client.js';
import { resourcePath } from './resources.js';
import { ApiError, isConflict } from './rest.js';
import { mergeConditions, statusEqual, type Condition } from './status.js';

export const FIELD_MANAGER = 'rigshift';

export interface ApplyOptions {
  /** Default `rigshift`. */
  fieldManager?: string;
  /** Take over fields owned by other managers instead of failing with a conflict. */
  force?: boolean;
  subresource?: 'status';
  /** Server-side dry run: validated and defaulted, not persisted. */
  dryRun?: boolean;
  /** Retries of a 409 that is not a field ownership conflict (default 3). */
  conflictRetries?: number;
  clock?: Clock;
  signal?: AbortSignal;
}

type Applied = KubernetesObject & { metadata: NonNullable<KubernetesObject['metadata']> };

/**
 * Server-side apply (PATCH application/apply-patch+yaml). Send only the fields rigshift means to own.
 * Errors are ApiErrors carrying the server's message; a field manager conflict is never retried.
 */
export async function apply<T extends KubernetesObject>(
  client: Pick<KubeClient, 'rest' | 'mapper'>,
  obj: T,
  opts: ApplyOptions = {},
): Promise<T & Applied> {
  const { apiVersion, kind } = obj;
  const name = obj.metadata?.name;
  if (!apiVersion || !kind || !name) throw new Error('apply needs apiVersion, kind and metadata.name');
  const info = await client.mapper.lookup(apiVersion, kind);
  const namespace = obj.metadata?.namespace;
  if (info.namespaced && !namespace) throw new Error(`apply ${kind}/${name}: metadata.namespace is required`);
  const path = resourcePath(info, { namespace, name, subresource: opts.subresource });
  const body = stripManagedFields(obj);
  const hasPrecondition = Boolean(obj.metadata?.resourceVersion);
  const clock = opts.clock ?? systemClock;
  const retries = opts.conflictRetries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await client.rest.request<T & Applied>({
        method: 'PATCH',
        path,
        query: {
          fieldManager: opts.fieldManager ?? FIELD_MANAGER,
          force: opts.force ? true : undefined,
          dryRun: opts.dryRun ? 'All' : undefined,
        },
        body,
        contentType: 'application/apply-patch+yaml',
        signal: opts.signal,
      });
      return res.body;
    } catch (err) {
      // A write race (not an ownership conflict, no resourceVersion precondition of ours) is worth retrying.
      if (isConflict(err) && !isFieldManagerConflict(err) && !hasPrecondition && attempt < retries) {
        await sleep(clock, 50 * 2 ** attempt, opts.signal);
        continue;
      }
      throw err;
    }
  }
}

/** True when a 409 means another field manager owns fields we applied (retrying cannot help). */
export function isFieldManagerConflict(err: unknown): boolean {
  return (
    err instanceof ApiError &&
    err.statusCode === 409 &&
    err.causes.some((c) => c.reason === 'FieldManagerConflict')
  );
}

/** The object without metadata.managedFields (a shallow copy; the input is not changed). */
export function stripManagedFields<T extends KubernetesObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _m, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** A status to apply: the object's identity and its status, nothing else. */
export interface StatusPatch<S> {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string | undefined };
  status: S;
}

/**
 * Applies only `status`, through the /status subresource. Forced by default: the operator is the sole
 * writer of its resources' status.
 */
export async function applyStatus<S, T extends KubernetesObject = KubernetesObject>(
  client: Pick<KubeClient, 'rest' | 'mapper'>,
  obj: StatusPatch<S>,
  opts: Omit<ApplyOptions, 'subresource'> = {},
): Promise<T & Applied> {
  const body: StatusPatch<S> = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: obj.metadata.namespace
      ? { name: obj.metadata.name, namespace: obj.metadata.namespace }
      : { name: obj.metadata.name },
    status: obj.status,
  };
  return apply(client, body as unknown as T, { force: true, ...opts, subresource: 'status' });
}

export interface StatusWrite<T> {
  written: boolean;
  /** The object after the write, or the current one when nothing was written. */
  object: T;
}

/**
 * Writes `desired` status only when it differs from `current.status`. Conditions keep their
 * lastTransitionTime when their status did not change, so an unchanged reconcile writes nothing.
 */
export async function applyStatusIfChanged<
  S extends { conditions?: Condition[] | undefined },
  T extends KubernetesObject,
>(
  client: Pick<KubeClient, 'rest' | 'mapper'>,
  current: T & { status?: S | undefined },
  desired: S,
  opts: Omit<ApplyOptions, 'subresource'> & { now?: Date } = {},
): Promise<StatusWrite<T>> {
  const status = prepareStatus(
    current.status,
    desired,
    opts.now ?? new Date((opts.clock ?? systemClock).now()),
  );
  if (current.status !== undefined && statusEqual(current.status, status))
    return { written: false, object: current };
  const { apiVersion, kind, metadata } = current;
  if (!apiVersion || !kind || !metadata?.name)
    throw new Error('applyStatusIfChanged needs apiVersion, kind, name');
  const object = await applyStatus<S, T>(
    client,
    { apiVersion, kind, metadata: { name: metadata.name, namespace: metadata.namespace }, status },
    opts,
  );
  return { written: true, object };
}

/** The desired status with conditions' lastTransitionTime carried over from the current status. */
export function prepareStatus<S extends { conditions?: Condition[] | undefined }>(
  current: { conditions?: readonly Condition[] | undefined } | undefined,
  desired: S,
  now: Date,
): S {
  if (!desired.conditions) return desired;
  return { ...desired, conditions: mergeConditions(current?.conditions, desired.conditions, now) };
}
