import { createHash } from 'node:crypto';
import type {
  V1Container,
  V1EnvVar,
  V1Pod,
  V1PodSecurityContext,
  V1SecurityContext,
  V1Toleration,
} from '@kubernetes/client-node';
import {
  API_VERSION,
  effectiveResources,
  expandMinerTemplate,
  POOL_PASSWORD_ENV,
  type EnvVar,
  type FleetPolicySpec,
  type MiningPool,
  type TrainingJob,
} from '../api/v1alpha1/index.js';
import {
  COMPONENT_LABEL,
  GPU_RESOURCE,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  MINING_POOL_LABEL,
  POD_NODE_ANNOTATION,
  REPLICA_LABEL,
  RUN_LABEL,
  SPEC_HASH_ANNOTATION,
  TAINT_VALUE,
  TRAINING_JOB_LABEL,
} from './labels.js';
import { podGpus } from './pool-keys.js';
import { needsService, rendezvousEnv, replicaHostname, serviceName } from './rendezvous/index.js';

export { podGpus };

/** The node a pod runs on or is pinned to. */
export function podNode(pod: V1Pod): string | undefined {
  return pod.spec?.nodeName || pod.metadata?.annotations?.[POD_NODE_ANNOTATION] || undefined;
}

export function isManaged(pod: V1Pod): boolean {
  return pod.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
}

export function isTerminal(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

export function isTerminating(pod: V1Pod): boolean {
  return Boolean(pod.metadata?.deletionTimestamp);
}

/** A mining pod of the operator (any pool). */
export function isMiner(pod: V1Pod): boolean {
  return isManaged(pod) && Boolean(pod.metadata?.labels?.[MINING_POOL_LABEL]);
}

/** `namespace/name` of the TrainingJob a pod of the operator belongs to. */
export function trainingJobKeyOf(pod: V1Pod): string | undefined {
  if (!isManaged(pod) || !pod.metadata?.labels?.[TRAINING_JOB_LABEL]) return undefined;
  const owner = pod.metadata.ownerReferences?.find((o) => o.kind === 'TrainingJob' && o.controller);
  const ns = pod.metadata.namespace;
  return owner && ns ? `${ns}/${owner.name}` : undefined;
}

/** The uid of the Job (batch/v1) that controls a pod, if any: a renter's batch Job the operator may admit. */
export function jobOwnerUid(pod: V1Pod): string | undefined {
  return pod.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'Job')?.uid;
}

/**
 * What the operator keeps of a pod it does not own (client-go's transform): which node, its phase, whether it
 * is going, and the extended resources (GPUs) of its containers. A full pod is several KB; this is a few
 * hundred bytes, and the cluster's pods all pass through this cache.
 */
export function trimForeignPod(pod: V1Pod): V1Pod {
  const m = pod.metadata;
  const owner = m?.ownerReferences?.find(
    (o) => o.controller && o.kind === 'Job' && o.apiVersion === 'batch/v1',
  );
  const jobOwner = owner && {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.name,
    uid: owner.uid,
    controller: true,
  };
  const containers: V1Container[] = [];
  for (const c of pod.spec?.containers ?? []) {
    const limits = extended(c.resources?.limits);
    const requests = extended(c.resources?.requests);
    if (limits || requests) {
      containers.push({
        name: c.name,
        resources: { ...(limits && { limits }), ...(requests && { requests }) },
      });
    }
  }
  return {
    metadata: {
      name: m?.name,
      namespace: m?.namespace,
      uid: m?.uid,
      resourceVersion: m?.resourceVersion,
      ...(m?.deletionTimestamp && { deletionTimestamp: m.deletionTimestamp }),
      // The Job that owns it (a renter's batch Job uses its GPUs on the nodes it was admitted to).
      ...(jobOwner && { ownerReferences: [jobOwner] }),
    },
    spec: { nodeName: pod.spec?.nodeName, containers },
    status: { phase: pod.status?.phase },
  };
}

/** Extended resources (`vendor/name`, e.g. nvidia.com/gpu) of a requests or limits map, or undefined. */
function extended(r: Record<string, unknown> | undefined): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(r ?? {})) if (k.includes('/')) (out ??= {})[k] = String(v);
  return out;
}

/** Label value naming a TrainingJob on its pods (names longer than a label value are hashed). */
export function jobLabelValue(name: string): string {
  return name.length <= 63 ? name : specHash(name);
}

function pinTo(node: string) {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
      },
    },
  };
}

function reservedToleration(policy: Pick<FleetPolicySpec, 'reservedTaintKey'>): V1Toleration {
  return { key: policy.reservedTaintKey, operator: 'Equal', value: TAINT_VALUE, effect: 'NoSchedule' };
}

function envVar(e: EnvVar, expand: (s: string) => string = (s) => s): V1EnvVar {
  if (e.valueFrom?.secretKeyRef)
    return { name: e.name, valueFrom: { secretKeyRef: { ...e.valueFrom.secretKeyRef } } };
  if (e.valueFrom?.configMapKeyRef) {
    return { name: e.name, valueFrom: { configMapKeyRef: { ...e.valueFrom.configMapKeyRef } } };
  }
  return { name: e.name, value: expand(e.value ?? '') };
}

/** A short stable hash of a JSON value. */
export function specHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 10);
}

/** Pod names are DNS subdomains of at most 253 characters. */
function podName(base: string, suffix: string): string {
  const room = 253 - suffix.length - 1;
  const trimmed = base.slice(0, room).replace(/[-.]+$/, '');
  return `${trimmed}-${suffix}`;
}

export interface MinerOptions {
  /** Seconds a miner gets to stop when evicted (miners keep no state). */
  terminationGracePeriodSeconds: number;
  /** The node's GPU resource (default nvidia.com/gpu). */
  resource?: string;
}

/**
 * The mining pod for one node: the pool's miner with `gpus` GPUs, pinned to the node, low priority,
 * tolerating the reserved taint (so a training node's leftover GPUs can mine). Its name carries a hash of
 * everything it is built from: a change of pool spec or GPU count means a new pod.
 */
export function buildMinerPod(
  pool: MiningPool,
  node: string,
  gpus: number,
  policy: Pick<FleetPolicySpec, 'reservedTaintKey' | 'priorityClasses'>,
  opts: MinerOptions,
): V1Pod {
  const spec = pool.spec;
  const resource = opts.resource ?? GPU_RESOURCE;
  const worker = expandMinerTemplate(spec.workerName, { NODE: node });
  const values = {
    STRATUM: spec.stratum.primary,
    FAILOVERS: spec.stratum.failovers.join(','),
    WALLET: spec.wallet,
    WORKER: worker,
    NODE: node,
    COIN: spec.coin,
    ALGORITHM: spec.algorithm,
    GPU_COUNT: String(gpus),
    PASSWORD: spec.credentialsSecretRef ? `$(${POOL_PASSWORD_ENV})` : '',
  };
  const expand = (s: string): string => expandMinerTemplate(s, values);
  const env: V1EnvVar[] = [];
  // The password first, so $(RIGSHIFT_POOL_PASSWORD) in later env values resolves.
  if (spec.credentialsSecretRef) {
    env.push({ name: POOL_PASSWORD_ENV, valueFrom: { secretKeyRef: { ...spec.credentialsSecretRef } } });
  }
  for (const e of spec.miner.env) if (e.name !== POOL_PASSWORD_ENV) env.push(envVar(e, expand));
  const container = {
    name: 'miner',
    image: spec.miner.image,
    ...(spec.miner.command ? { command: [...spec.miner.command] } : {}),
    args: spec.miner.args.map(expand),
    env,
    resources: { limits: { [resource]: String(gpus) }, requests: { [resource]: String(gpus) } },
  };
  const podSpec = {
    priorityClassName: policy.priorityClasses.mining,
    affinity: pinTo(node),
    tolerations: [reservedToleration(policy)],
    terminationGracePeriodSeconds: opts.terminationGracePeriodSeconds,
    containers: [container],
  };
  const hash = specHash({ node, podSpec, uid: pool.metadata.uid });
  const poolName = pool.metadata.name ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(`${poolName}-${node}`, hash),
      namespace: pool.metadata.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [MINING_POOL_LABEL]: poolName,
        [COMPONENT_LABEL]: 'miner',
      },
      annotations: { [POD_NODE_ANNOTATION]: node, [SPEC_HASH_ANNOTATION]: hash },
      ownerReferences: pool.metadata.uid
        ? [
            {
              apiVersion: API_VERSION,
              kind: 'MiningPool',
              name: poolName,
              uid: pool.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ]
        : [],
    },
    spec: podSpec as V1Pod['spec'],
  };
}

/** Name of the pod of replica `replica` in run `run` (runs count preemptions, so a new run has new pods). */
export function trainingPodName(job: string, run: number, replica: number): string {
  return podName(job, `r${run}-${replica}`);
}

/**
 * One replica of a training job: pinned to its node, high priority, tolerating the reserved taint, under the
 * job's headless Service with a hostname that is the same in every run. Env: the rendezvous variables first (so
 * spec.env may refer to them as $(MASTER_ADDR); a name spec.env sets keeps the job's value), then spec.env, then
 * the operator's RIGSHIFT_* variables.
 */
export function buildTrainingPod(
  job: TrainingJob,
  run: number,
  replica: number,
  node: string,
  policy: Pick<FleetPolicySpec, 'reservedTaintKey' | 'priorityClasses'> &
    Partial<Pick<FleetPolicySpec, 'defaultTrainingResources'>>,
  /** The node's GPU resource (nodeGpuResource): nvidia.com/gpu, amd.com/gpu or a pool's own. */
  resource: string = GPU_RESOURCE,
): V1Pod {
  const spec = job.spec;
  const name = job.metadata.name ?? '';
  const own = new Set(spec.env.map((e) => e.name));
  const env: V1EnvVar[] = rendezvousEnv(job, replica).filter((e) => !own.has(e.name));
  env.push(...spec.env.map((e) => envVar(e)));
  env.push(
    { name: 'RIGSHIFT_REPLICA_INDEX', value: String(replica) },
    { name: 'RIGSHIFT_REPLICAS', value: String(spec.replicas) },
    { name: 'RIGSHIFT_JOB_NAME', value: name },
    // Training code resumes from its checkpoint when this is above 0.
    { name: 'RIGSHIFT_RESTART_COUNT', value: String(job.status?.restarts ?? 0) },
  );
  const gpus = String(spec.gpusPerReplica);
  const compute = effectiveResources(spec.resources, policy.defaultTrainingResources);
  const { readOnlyRootFilesystem, ...runAs } = spec.securityContext ?? {};
  const podSecurity: V1PodSecurityContext = { ...runAs, seccompProfile: { type: 'RuntimeDefault' } };
  const containerSecurity: V1SecurityContext = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    ...(readOnlyRootFilesystem !== undefined ? { readOnlyRootFilesystem } : {}),
  };
  // The operator's own taint first; the job's further tolerations cannot move a replica off its pinned node.
  const tolerations: V1Toleration[] = [
    reservedToleration(policy),
    ...(spec.tolerations ?? []).map((t) => ({ ...t }) as V1Toleration),
  ];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: trainingPodName(name, run, replica),
      namespace: job.metadata.namespace,
      labels: {
        ...(spec.podLabels ?? {}),
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [TRAINING_JOB_LABEL]: jobLabelValue(name),
        [REPLICA_LABEL]: String(replica),
        [RUN_LABEL]: String(run),
        [COMPONENT_LABEL]: 'trainer',
      },
      annotations: { ...(spec.podAnnotations ?? {}), [POD_NODE_ANNOTATION]: node },
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: 'TrainingJob',
          name,
          uid: job.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      restartPolicy: 'Never',
      hostname: replicaHostname(name, replica),
      ...(needsService(job) ? { subdomain: serviceName(name) } : {}),
      // The job's ServiceAccount (never the operator's: it is in another namespace), its token only if asked.
      ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
      automountServiceAccountToken: spec.automountServiceAccountToken,
      ...(spec.imagePullSecrets?.length
        ? { imagePullSecrets: spec.imagePullSecrets.map((r) => ({ name: r.name })) }
        : {}),
      ...(spec.runtimeClassName ? { runtimeClassName: spec.runtimeClassName } : {}),
      // What Pod Security restricted asks that does not depend on the image; the job says who it runs as.
      securityContext: podSecurity,
      priorityClassName: policy.priorityClasses.training,
      affinity: pinTo(node),
      // ANDed with the pin: the planner chose a node that carries these labels.
      ...(spec.nodeSelector && Object.keys(spec.nodeSelector).length > 0
        ? { nodeSelector: { ...spec.nodeSelector } }
        : {}),
      tolerations,
      terminationGracePeriodSeconds: spec.checkpointGracePeriodSeconds,
      volumes: spec.volumes.map((v) => ({ ...v })) as NonNullable<V1Pod['spec']>['volumes'],
      containers: [
        {
          name: 'trainer',
          image: spec.image,
          ...(spec.command ? { command: [...spec.command] } : {}),
          ...(spec.args ? { args: [...spec.args] } : {}),
          env,
          volumeMounts: spec.volumeMounts.map((m) => ({ ...m })),
          resources: {
            requests: { ...compute.requests, [resource]: gpus },
            limits: { ...compute.limits, [resource]: gpus },
          },
          securityContext: containerSecurity,
        },
      ],
    },
  };
}
