import { z } from 'zod';
import { conditionsSchema } from './conditions.js';
import { statusDecimal, usdAmount } from './decimal.js';
import {
  API_VERSION,
  type CelRule,
  type KindInfo,
  labelValue,
  listAtomic,
  listMap,
  listSet,
  objectMetaSchema,
  objectName,
  observedGeneration,
  qualifiedName,
  timestamp,
  withCel,
} from './meta.js';
import {
  computeResourcesSchema,
  imagePullSecretsSchema,
  nodeSelectorAgrees,
  nodeSelectorProductMessage,
  nodeSelectorProductRule,
  nodeSelectorSchema,
  tolerationsSchema,
} from './podspec.js';
import { envVarSchema } from './refs.js';
import { volumeMountSchema, volumeSchema } from './volumes.js';

export const TIERS = ['OnDemand', 'Interruptible'] as const;
export type Tier = (typeof TIERS)[number];

/** torchrun's default --master-port. */
export const DEFAULT_RENDEZVOUS_PORT = 29500;

/** Condition types of a TrainingJob, in lifecycle order. */
export const TRAINING_JOB_CONDITIONS = [
  'Queued',
  'Admitted',
  'Running',
  'Preempted',
  'Succeeded',
  'Failed',
] as const;
export type TrainingJobConditionType = (typeof TRAINING_JOB_CONDITIONS)[number];

/** Values of status.state, a mirror of the conditions for `kubectl get`. */
export const TRAINING_JOB_STATES = [...TRAINING_JOB_CONDITIONS, 'Suspended'] as const;
export type TrainingJobState = (typeof TRAINING_JOB_STATES)[number];

/**
 * Fields fixed at creation. The gang shape and tier are what the job was admitted and priced on; the container
 * is what its pods were created from (as in a batch/v1 Job). To change them, delete and recreate the job.
 * The bid, suspend and the runtime limits stay mutable.
 */
export const IMMUTABLE_FIELDS = [
  'image',
  'command',
  'args',
  'env',
  'volumes',
  'volumeMounts',
  'replicas',
  'gpusPerReplica',
  'tier',
  'rendezvous',
  'resources',
] as const;

function immutable<T extends z.ZodType>(field: string, schema: T): T {
  return withCel(schema, {
    rule: 'self == oldSelf',
    message: `spec.${field} is immutable: delete and recreate the TrainingJob to change it`,
  });
}

/** Immutability of optional fields, checked on spec because a rule on an absent field never runs. */
function immutableOptional(field: string): CelRule {
  return {
    rule: `has(self.${field}) == has(oldSelf.${field}) && (!has(self.${field}) || self.${field} == oldSelf.${field})`,
    message: `spec.${field} is immutable: delete and recreate the TrainingJob to change it`,
    fieldPath: `.${field}`,
  };
}

/** A CUDA compute capability, major.minor. */
export const COMPUTE_CAPABILITY = /^[0-9]{1,2}[.][0-9]{1,2}$/;
const computeMessage = 'spec.minComputeCapability must be a compute capability major.minor such as "8.0"';
const runtimeMessage = 'spec.minRuntimeSeconds must not exceed spec.maxRuntimeSeconds';
const mountsMessage = 'spec.volumeMounts[].name must name a volume listed in spec.volumes';

export const trainingJobSpecSchema = withCel(
  z
    .object({
      image: immutable(
        'image',
        z
          .string()
          .min(1)
          .max(512)
          .describe(
            'Container image of the training workload, e.g. ghcr.io/acme/llm-train:1.4.2. Immutable.',
          ),
      ),
      command: listAtomic(
        z
          .array(z.string().max(4096).describe('One element of the entrypoint.'))
          .max(64)
          .optional()
          .describe('Entrypoint of the container; the image’s ENTRYPOINT when absent. Immutable.'),
      ),
      args: listAtomic(
        z
          .array(z.string().max(4096).describe('One argument.'))
          .max(256)
          .optional()
          .describe('Arguments to the entrypoint; the image’s CMD when absent. Immutable.'),
      ),
      env: listMap(
        z
          .array(envVarSchema('spec.env[]'))
          .max(64)
          .default([])
          .describe(
            'Environment variables of the training container, unique by name. The operator adds ' +
              'RIGSHIFT_REPLICA_INDEX, RIGSHIFT_REPLICAS, RIGSHIFT_JOB_NAME and RIGSHIFT_RESTART_COUNT. Immutable.',
          ),
        'name',
      ),
      volumes: listMap(
        z
          .array(volumeSchema)
          .max(16)
          .default([])
          .describe('Volumes of each training pod, unique by name. Immutable.'),
        'name',
      ),
      volumeMounts: listMap(
        z
          .array(volumeMountSchema)
          .max(32)
          .default([])
          .describe('Where the volumes appear in the training container, unique by mountPath. Immutable.'),
        'mountPath',
      ),
      replicas: immutable(
        'replicas',
        z
          .int()
          .min(1)
          .max(256)
          .default(1)
          .describe(
            'Number of pods in the gang, each with all its GPUs on one node. The job runs only when every ' +
              'replica can be placed at once; it is worth nothing with fewer. 1 to 256, default 1. Immutable.',
          ),
      ),
      gpusPerReplica: immutable(
        'gpusPerReplica',
        z
          .int()
          .min(1)
          .max(16)
          .default(1)
          .describe(
            'GPUs each replica needs, all on its node (requested as the node’s GPU resource: nvidia.com/gpu, ' +
              'amd.com/gpu or its MiningPool profile’s resourceName). A 4×8 gang is replicas 4, ' +
              'gpusPerReplica 8. 1 to 16, default 1. Immutable.',
          ),
      ),
      gpuProducts: listSet(
        z
          .array(
            labelValue('A GPU product as its vendor’s labeller names it, e.g. NVIDIA-GeForce-RTX-4090.').min(
              1,
            ),
          )
          .max(16)
          .optional()
          .describe(
            'GPU products the job accepts (node label nvidia.com/gpu.product or amd.com/gpu.product-name). ' +
              'Absent or empty accepts any ' +
              'product that also meets minGpuMemoryMiB.',
          ),
      ),
      minGpuMemoryMiB: z
        .int()
        .min(1)
        .max(1048576)
        .optional()
        .describe(
          'Least memory per GPU in MiB (node label nvidia.com/gpu.memory, or amd.com/gpu.vram where "24G" is ' +
            '24 GiB), e.g. 24576 for 24 GiB cards. Combined with gpuProducts when both are set. Among the nodes ' +
            'that qualify the planner prefers the smallest memory, keeping big cards for jobs that need them.',
        ),
      minComputeCapability: withCel(
        z
          .string()
          .max(8)
          .refine((v) => COMPUTE_CAPABILITY.test(v), { message: computeMessage })
          .describe(
            'Least CUDA compute capability of the GPUs, as major.minor, e.g. "8.0" for Ampere data-centre cards ' +
              'and later (node labels nvidia.com/gpu.compute.major and .minor from GPU Feature Discovery). Only ' +
              'nodes that publish it qualify, so AMD nodes never do. Absent: any.',
          ),
        { rule: `self.matches('${COMPUTE_CAPABILITY.source}')`, message: computeMessage },
      ).optional(),
      minDriverMajor: z
        .int()
        .min(1)
        .max(9999)
        .optional()
        .describe(
          'Least major version of the GPU driver, e.g. 535 (node label nvidia.com/cuda.driver-version.major, ' +
            'or the older nvidia.com/cuda.driver.major, from GPU Feature Discovery). Only nodes that publish it ' +
            'qualify. Absent: any.',
        ),
      bidUsdPerGpuHour: usdAmount(
        'spec.bidUsdPerGpuHour',
        'What the renter pays per GPU per hour while the job runs, in USD, as a decimal string such as "0.35". ' +
          'Nodes leave mining for the job only when the bid, less the training power cost, beats the mining ' +
          'yield by the FleetPolicy hysteresis. May be raised (or lowered) at any time to change the job’s ' +
          'standing in the queue.',
      ),
      tier: immutable(
        'tier',
        z
          .enum(TIERS)
          .default('OnDemand')
          .describe(
            'OnDemand: once running, keeps its GPUs until it ends. Interruptible: may be preempted by a higher ' +
              'bid after minRuntimeSeconds, then waits in the queue again. Default OnDemand. Immutable.',
          ),
      ),
      minRuntimeSeconds: z
        .int()
        .min(0)
        .max(31536000)
        .default(0)
        .describe(
          'An Interruptible job is not preempted before it has run this long, in seconds, so it can make ' +
            'progress. Ignored for OnDemand. Default 0.',
        ),
      maxRuntimeSeconds: z
        .int()
        .min(60)
        .max(31536000)
        .optional()
        .describe(
          'The job is stopped and marked Failed after running this long in total, in seconds. Absent means ' +
            'no limit.',
        ),
      backoffLimit: z
        .int()
        .min(0)
        .max(100)
        .default(3)
        .describe(
          'How many times the whole gang is restarted after a replica fails or is lost (its pod deleted or ' +
            'its node gone) before the job is marked Failed. Each restart starts every replica again (new pod ' +
            'names, RIGSHIFT_RESTART_COUNT in their env) so training resumes from its checkpoint. Default 3.',
        ),
      ttlSecondsAfterFinished: z
        .int()
        .min(0)
        .max(31536000)
        .optional()
        .describe(
          'Seconds after the job ended (Succeeded or Failed, status.endTime) when the operator deletes it, as ' +
            'batch/v1 Jobs do; its status (gpuHours, earnedUsd) goes with it, so bill from it before. Absent: ' +
            'kept until deleted. Leave it out for jobs a GitOps tool owns, which would create them again.',
        ),
      startTimeoutSeconds: z
        .int()
        .min(10)
        .max(86400)
        .optional()
        .describe(
          'How long the gang may take to start once admitted (drains, pod creation, scheduling, image pull), ' +
            'in seconds. Past it the whole gang is rolled back: its pods are deleted, its nodes released, and ' +
            'the job waits to be placed again with exponential backoff. Absent means the FleetPolicy ' +
            'spec.startTimeoutSeconds.',
        ),
      checkpointGracePeriodSeconds: z
        .int()
        .min(0)
        .max(3600)
        .default(60)
        .describe(
          'When preempted or suspended, the pods get SIGTERM and this many seconds to write a checkpoint ' +
            'before they are killed. Default 60.',
        ),
      rendezvous: immutable(
        'rendezvous',
        z
          .object({
            port: z
              .int()
              .min(1024)
              .max(65535)
              .default(DEFAULT_RENDEZVOUS_PORT)
              .describe(
                'TCP port replica 0 listens on for the rendezvous (MASTER_PORT, the port of ' +
                  'PET_RDZV_ENDPOINT and JAX_COORDINATOR_ADDRESS). 1024 to 65535, default 29500.',
              ),
          })
          .prefault({})
          .describe(
            'How the replicas find each other. The operator creates a headless Service named after the job ' +
              'whose DNS names each replica under a stable hostname (<job>-<replica>, the same in every run) and ' +
              'sets the env that PyTorch, torchrun and JAX read: MASTER_ADDR (replica 0), MASTER_PORT, ' +
              'WORLD_SIZE (replicas), RANK (replica index), PET_NNODES, PET_NPROC_PER_NODE (gpusPerReplica), ' +
              'PET_NODE_RANK, PET_MASTER_ADDR, PET_MASTER_PORT, PET_RDZV_ENDPOINT, JAX_COORDINATOR_ADDRESS, ' +
              'JAX_NUM_PROCESSES and JAX_PROCESS_ID. A name also set in spec.env keeps the value given there. ' +
              'Immutable.',
          ),
      ),
      suspend: z
        .boolean()
        .default(false)
        .describe(
          'true stops the job’s pods (with the checkpoint grace period) and frees its GPUs; false lets it be ' +
            'queued and placed again. Default false.',
        ),
      resources: computeResourcesSchema(
        'spec.resources',
        'CPU and memory of each replica (its GPUs are gpusPerReplica). For each of cpu and memory the job sets, ' +
          'its request and limit are used; for the others, the FleetPolicy spec.defaultTrainingResources, so ' +
          'training pods are never BestEffort (first to be evicted). Requests equal to limits make them ' +
          'Guaranteed. Immutable.',
      ).optional(),
      imagePullSecrets: imagePullSecretsSchema,
      serviceAccountName: objectName(
        'ServiceAccount of the training pods, in the job’s namespace. Absent: the namespace’s default ' +
          'ServiceAccount. Its token is mounted only with automountServiceAccountToken. Training pods never get ' +
          'the operator’s credentials. Applies to pods created afterwards.',
      ).optional(),
      automountServiceAccountToken: z
        .boolean()
        .default(false)
        .describe(
          'true mounts the ServiceAccount’s API token in the training pods (for code that talks to the ' +
            'Kubernetes API). Default false: training code rarely needs it, and a token is a credential. ' +
            'Applies to pods created afterwards.',
        ),
      runtimeClassName: objectName(
        'RuntimeClass of the training pods, e.g. gvisor or kata for stronger isolation of untrusted code; the ' +
          'RuntimeClass must exist and its handler be installed on the GPU nodes. Absent: the nodes’ default ' +
          'runtime. Applies to pods created afterwards.',
      )
        .max(253)
        .optional(),
      tolerations: tolerationsSchema,
      nodeSelector: nodeSelectorSchema,
      securityContext: z
        .object({
          runAsUser: z
            .int()
            .min(0)
            .max(2147483647)
            .optional()
            .describe('User ID the training container runs as; the image’s USER when absent.'),
          runAsGroup: z
            .int()
            .min(0)
            .max(2147483647)
            .optional()
            .describe('Primary group ID of the training container; the image’s when absent.'),
          runAsNonRoot: z
            .boolean()
            .optional()
            .describe(
              'true: the kubelet refuses to start the container as root. Required in namespaces at Pod ' +
                'Security level restricted.',
            ),
          fsGroup: z
            .int()
            .min(0)
            .max(2147483647)
            .optional()
            .describe('Group that owns the pod’s volumes (e.g. a PersistentVolumeClaim of checkpoints).'),
          supplementalGroups: listAtomic(
            z
              .array(z.int().min(0).max(2147483647).describe('A group ID.'))
              .max(32)
              .optional()
              .describe(
                'Further group IDs of the training container’s processes, e.g. to read a shared volume.',
              ),
          ),
          readOnlyRootFilesystem: z
            .boolean()
            .optional()
            .describe(
              'true mounts the training container’s root filesystem read-only (write to volumes instead).',
            ),
        })
        .optional()
        .describe(
          'Who the training pods run as. The operator always adds what it can without knowing the image: no ' +
            'privilege escalation, no capabilities, the runtime’s default seccomp profile. With runAsNonRoot ' +
            '(or a non-zero runAsUser) the pods meet Pod Security restricted. Applies to pods created afterwards.',
        ),
      podLabels: z
        .record(qualifiedName('A label key.'), labelValue('The label value.'))
        .optional()
        .meta({ maxProperties: 32 })
        .describe(
          'Extra labels of the training pods, e.g. for monitoring selectors. The operator’s own labels ' +
            '(app.kubernetes.io/managed-by, rigshift.io/*) win over these. Applies to pods created afterwards.',
        ),
      podAnnotations: z
        .record(qualifiedName('An annotation key.'), z.string().max(4096).describe('The annotation value.'))
        .optional()
        .meta({ maxProperties: 32 })
        .describe(
          'Extra annotations of the training pods, e.g. for a service mesh or log shipper. Applies to pods ' +
            'created afterwards.',
        ),
    })
    .refine((s) => s.maxRuntimeSeconds === undefined || s.minRuntimeSeconds <= s.maxRuntimeSeconds, {
      message: runtimeMessage,
      path: ['minRuntimeSeconds'],
    })
    .refine((s) => s.volumeMounts.every((m) => s.volumes.some((v) => v.name === m.name)), {
      message: mountsMessage,
      path: ['volumeMounts'],
    })
    .refine(nodeSelectorAgrees, { message: nodeSelectorProductMessage, path: ['nodeSelector'] })
    .describe('Desired state of a TrainingJob.'),
  {
    rule: '!has(self.maxRuntimeSeconds) || self.minRuntimeSeconds <= self.maxRuntimeSeconds',
    message: runtimeMessage,
    fieldPath: '.minRuntimeSeconds',
  },
  {
    rule: 'self.volumeMounts.all(m, self.volumes.exists(v, v.name == m.name))',
    message: mountsMessage,
    fieldPath: '.volumeMounts',
  },
  nodeSelectorProductRule,
  immutableOptional('command'),
  immutableOptional('resources'),
  immutableOptional('args'),
  // env, volumes and volumeMounts default to [] so they are always present.
  { ...immutableOptional('env'), rule: 'self.env == oldSelf.env' },
  { ...immutableOptional('volumes'), rule: 'self.volumes == oldSelf.volumes' },
  { ...immutableOptional('volumeMounts'), rule: 'self.volumeMounts == oldSelf.volumeMounts' },
);

export const trainingJobStatusSchema = z
  .object({
    observedGeneration: observedGeneration().optional(),
    conditions: conditionsSchema({
      Queued: 'True while the job waits for GPUs (see waitingReason).',
      Admitted: 'True once nodes are reserved for the whole gang.',
      Running: 'True while all replicas run.',
      Preempted: 'True after an Interruptible job was stopped for a higher bid, until it runs again.',
      Succeeded: 'True when every replica exited 0 (terminal).',
      Failed: 'True when the job cannot succeed (terminal); the reason says why.',
    }).optional(),
    state: z
      .enum(TRAINING_JOB_STATES)
      .optional()
      .describe(
        'A convenience mirror of the conditions for kubectl get: the latest condition that is True, or ' +
          'Suspended. Tools should read the conditions, not this field.',
      ),
    waitingReason: z
      .string()
      .max(1024)
      .optional()
      .describe(
        'Why the job is not running yet, e.g. "no 4 nodes of 8 accepted GPUs for bid 0.35: mining yields ' +
          '0.41". Empty once it runs.',
      ),
    assignedNodes: listAtomic(
      z
        .array(z.string().max(253).describe('A node name.'))
        .max(256)
        .optional()
        .describe(
          'Nodes reserved for or running the replicas, one entry per replica in replica order: replica i runs ' +
            'on assignedNodes[i]. A node holding several replicas appears once for each.',
        ),
    ),
    readyReplicas: z.int().min(0).optional().describe('Replicas whose pod is running and ready.'),
    preemptions: z.int().min(0).optional().describe('How many times the job was preempted.'),
    restarts: z
      .int()
      .min(0)
      .optional()
      .describe(
        'How many times the gang was restarted after a replica failed or was lost (see backoffLimit).',
      ),
    startFailures: z
      .int()
      .min(0)
      .optional()
      .describe('How many times the gang did not start within its start timeout and was rolled back.'),
    retryAfterTime: timestamp(
      'After a start failure: the job is not placed again before this time (exponential backoff).',
    ).optional(),
    startTime: timestamp('When the job first started running (all replicas placed).').optional(),
    endTime: timestamp('When the job ended (Succeeded or Failed).').optional(),
    gpuHours: statusDecimal('GPU-hours used so far: GPUs × hours run, summed over every run.').optional(),
    earnedUsd: statusDecimal(
      'USD earned so far: the bid in force × GPU-hours, to 6 decimals (accrued as the job runs).',
    ).optional(),
    lastAccrualTime: timestamp(
      'When gpuHours and earnedUsd were last brought up to date; accrual resumes from here after a restart.',
    ).optional(),
  })
  .describe('Observed state of a TrainingJob, written by the operator.');

export const trainingJobSchema = z.object({
  apiVersion: z.literal(API_VERSION).default(API_VERSION),
  kind: z.literal('TrainingJob').default('TrainingJob'),
  metadata: objectMetaSchema.default({}),
  spec: trainingJobSpecSchema,
  status: trainingJobStatusSchema.optional(),
});

export type TrainingJobSpec = z.infer<typeof trainingJobSpecSchema>;
export type TrainingJobStatus = z.infer<typeof trainingJobStatusSchema>;
export type TrainingJob = z.infer<typeof trainingJobSchema>;
export type TrainingJobInput = z.input<typeof trainingJobSchema>;

export const trainingJobKind: KindInfo = {
  kind: 'TrainingJob',
  plural: 'trainingjobs',
  singular: 'trainingjob',
  listKind: 'TrainingJobList',
  shortNames: ['tj'],
  scope: 'Namespaced',
  description:
    'A TrainingJob rents the farm’s GPUs for AI training: a container run as a gang of replicas, each with ' +
    'the same number of GPUs on one node, placed all at once or not at all. Its bid in USD per GPU-hour ' +
    'competes with mining yield and with other bids; OnDemand jobs keep their GPUs until they end, ' +
    'Interruptible ones can be preempted by a higher bid. Progress is reported in conditions (Queued, ' +
    'Admitted, Running, Preempted, Succeeded, Failed).',
  specSchema: trainingJobSpecSchema,
  statusSchema: trainingJobStatusSchema,
  printerColumns: [
    { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', description: 'Replicas in the gang.' },
    {
      name: 'GPUs/Replica',
      type: 'integer',
      jsonPath: '.spec.gpusPerReplica',
      description: 'GPUs per replica; the job uses Replicas × GPUs/Replica GPUs.',
    },
    {
      name: 'Bid',
      type: 'string',
      jsonPath: '.spec.bidUsdPerGpuHour',
      description: 'Bid in USD per GPU-hour.',
    },
    { name: 'Tier', type: 'string', jsonPath: '.spec.tier', description: 'OnDemand or Interruptible.' },
    { name: 'State', type: 'string', jsonPath: '.status.state', description: 'Mirror of the conditions.' },
    {
      name: 'Earned',
      type: 'string',
      jsonPath: '.status.earnedUsd',
      description: 'USD earned so far.',
      priority: 1,
    },
    {
      name: 'Waiting',
      type: 'string',
      jsonPath: '.status.waitingReason',
      description: 'Why it is not running yet.',
      priority: 1,
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
  ],
};
