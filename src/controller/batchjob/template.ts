import type { V1Affinity, V1Job, V1NodeSelectorTerm, V1PodSpec, V1Toleration } from '@kubernetes/client-node';
import { deepEqual } from '../../kube/status.js';
import { TAINT_VALUE } from '../labels.js';
import type { OriginalScheduling } from './adapt.js';
import { COMPLETION_INDEX_ANNOTATION, RENDEZVOUS_PREFIX } from './keys.js';

/**
 * What the operator writes into a suspended Job's pod template (pure): the scheduling fields Kubernetes lets
 * change while a Job is suspended and has not started (node selector, affinity, tolerations, annotations), as
 * Kueue does. The renter's own fields are kept (ANDed) and restored when the Job is suspended again.
 */

export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
export const DEFAULT_RENDEZVOUS_PORT = 29500;

export interface Placement {
  nodes: readonly string[];
  modeLabelKey: string;
  taintKey: string;
}

/** The renter's scheduling fields of a template, as found. */
export function schedulingOf(spec: V1PodSpec | undefined): OriginalScheduling {
  const o: OriginalScheduling = {};
  if (spec?.nodeSelector && Object.keys(spec.nodeSelector).length > 0) o.nodeSelector = spec.nodeSelector;
  if (spec?.tolerations && spec.tolerations.length > 0) o.tolerations = spec.tolerations;
  if (spec?.affinity && Object.keys(spec.affinity).length > 0) o.affinity = spec.affinity;
  return o;
}

/**
 * The renter's fields plus the training nodes: mode label `training`, required node affinity to the assigned
 * nodes (ANDed into every term the renter wrote), and the reserved taint tolerated.
 */
export function placedScheduling(original: OriginalScheduling, p: Placement): OriginalScheduling {
  const nodes = [...new Set(p.nodes)].sort();
  const ours = { key: HOSTNAME_LABEL, operator: 'In', values: nodes };
  const na = original.affinity?.nodeAffinity;
  const terms: V1NodeSelectorTerm[] = na?.requiredDuringSchedulingIgnoredDuringExecution
    ?.nodeSelectorTerms ?? [{}];
  const toleration: V1Toleration = {
    key: p.taintKey,
    operator: 'Equal',
    value: TAINT_VALUE,
    effect: 'NoSchedule',
  };
  const affinity: V1Affinity = {
    ...original.affinity,
    nodeAffinity: {
      ...na,
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: terms.map((t) => ({
          ...t,
          matchExpressions: [...(t.matchExpressions ?? []), ours],
        })),
      },
    },
  };
  return {
    nodeSelector: { ...original.nodeSelector, [p.modeLabelKey]: 'training' },
    tolerations: [...(original.tolerations ?? []), toleration],
    affinity,
  };
}

/** Does the template carry exactly these scheduling fields? */
export function schedulingIs(spec: V1PodSpec | undefined, want: OriginalScheduling): boolean {
  return deepEqual(schedulingOf(spec), schedulingOf(want as V1PodSpec));
}

/**
 * A JSON merge patch turning the template's scheduling fields into `want` (null deletes: keys of the current
 * node selector that `want` lacks, and affinity parts it lacks).
 */
export function schedulingPatch(
  current: V1PodSpec | undefined,
  want: OriginalScheduling,
): Record<string, unknown> {
  const selector: Record<string, string | null> = {};
  for (const k of Object.keys(current?.nodeSelector ?? {})) selector[k] = null;
  Object.assign(selector, want.nodeSelector ?? {});
  const na = want.affinity?.nodeAffinity;
  let affinity: Record<string, unknown> | null = null;
  if (want.affinity) {
    affinity = {
      podAffinity: null,
      podAntiAffinity: null,
      ...want.affinity,
      nodeAffinity: na
        ? {
            preferredDuringSchedulingIgnoredDuringExecution: null,
            requiredDuringSchedulingIgnoredDuringExecution: null,
            ...na,
          }
        : null,
    };
  }
  return {
    nodeSelector: Object.keys(selector).length > 0 ? selector : null,
    tolerations: want.tolerations ?? null,
    affinity,
  };
}

/**
 * The rendezvous of an Indexed Job as pod template annotations (the container env of a Job cannot change
 * after creation; the renter maps these to env with the downward API, and the rank is the Job controller's
 * completion index). Replica 0 is `<job>-0.<subdomain>` when the template names a subdomain (the renter's
 * headless Service, as Kubernetes documents for Indexed Jobs); without one there is no stable address.
 */
export function rendezvousAnnotations(job: V1Job, gpusPerReplica: number): Record<string, string> {
  if (job.spec?.completionMode !== 'Indexed') return {};
  const replicas = String(job.spec.parallelism ?? 1);
  const out: Record<string, string> = {
    WORLD_SIZE: replicas,
    PET_NNODES: replicas,
    PET_NPROC_PER_NODE: String(gpusPerReplica),
    JAX_NUM_PROCESSES: replicas,
  };
  const sub = job.spec.template?.spec?.subdomain;
  if (sub) {
    const addr = `${job.metadata?.name ?? ''}-0.${sub}.${job.metadata?.namespace ?? 'default'}.svc`;
    const port = String(DEFAULT_RENDEZVOUS_PORT);
    Object.assign(out, {
      MASTER_ADDR: addr,
      MASTER_PORT: port,
      PET_MASTER_ADDR: addr,
      PET_MASTER_PORT: port,
      PET_RDZV_ENDPOINT: `${addr}:${port}`,
      JAX_COORDINATOR_ADDRESS: `${addr}:${port}`,
    });
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [`${RENDEZVOUS_PREFIX}${k}`, v]));
}

/** The names the downward API reads the rank from (documented with the env example). */
export const RANK_FIELD = `metadata.annotations['${COMPLETION_INDEX_ANNOTATION}']`;
