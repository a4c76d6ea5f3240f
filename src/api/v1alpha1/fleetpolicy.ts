import { z } from 'zod';
import { conditionsSchema } from './conditions.js';
import { usdAmount } from './decimal.js';
import { computeResourcesSchema } from './podspec.js';
import {
  API_VERSION,
  DNS_SUBDOMAIN,
  type KindInfo,
  objectMetaSchema,
  observedGeneration,
  qualifiedName,
  timestamp,
  withCel,
} from './meta.js';

/** The only FleetPolicy the operator reads. */
export const FLEET_POLICY_NAME = 'default';

export const NODE_MODES = ['mining', 'draining', 'training', 'idle'] as const;
export type NodeMode = (typeof NODE_MODES)[number];

export const DRAIN_TIMEOUT_POLICIES = ['Wait', 'ForceEvict', 'Abort'] as const;
export type DrainTimeoutPolicy = (typeof DRAIN_TIMEOUT_POLICIES)[number];

/** A percentage of nodes, "1%" to "100%". */
export const NODE_PERCENT = /^(100|[1-9][0-9]?)%$/;

const drainsMessage =
  'spec.maxConcurrentDrains must be a whole number of nodes (at least 1) or a percentage like "10%"';

const defaultResourcesMessage =
  'spec.defaultTrainingResources must set a cpu or memory request or limit, or training pods would be BestEffort';

const priorityClassName = (mode: string, fallback: string) =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(DNS_SUBDOMAIN)
    .default(fallback)
    .describe(
      `PriorityClass of the operator’s ${mode} pods. Mining pods run low and training pods high so that the ` +
        `kube-scheduler preempts miners when a training pod needs their GPUs. Default ${fallback}.`,
    );

export const fleetPolicySpecSchema = z
  .object({
    hysteresisPercent: z
      .int()
      .min(0)
      .max(100)
      .default(5)
      .describe(
        'A node switches mode only when the other mode earns at least this many percent more per GPU-hour ' +
          'than the current one (mining software uses about 5). Stops flapping on small price moves. 0 to 100, ' +
          'default 5.',
      ),
    minDwellSeconds: z
      .int()
      .min(0)
      .max(604800)
      .default(3600)
      .describe(
        'A node stays at least this long in a mode, in seconds, before it may switch again (jobs that end ' +
          'release their nodes regardless). Default 3600.',
      ),
    switchingSeconds: z
      .int()
      .min(0)
      .max(86400)
      .default(300)
      .describe(
        'Expected time a switch costs, in seconds: draining, pulling images and starting the other workload, ' +
          'during which the node earns nothing. Weighed against the gain of every switch. Default 300.',
      ),
    paybackSeconds: z
      .int()
      .min(60)
      .max(2592000)
      .default(86400)
      .describe(
        'How long a price gap is expected to last, in seconds: a switch is made only when its gain over ' +
          'max(this, minDwellSeconds) pays for the switchingSeconds it loses. Pick about how long the gaps you ' +
          'see between mining and rental prices last: mining revenue and rental quotes move about daily, hence ' +
          'the default; shorter (e.g. 3600 under hourly power prices) switches only for large gaps, longer for ' +
          'small steady ones. Default 86400.',
      ),
    maxConcurrentDrains: withCel(
      z
        .union([z.int().min(1), z.string().max(64).regex(NODE_PERCENT, { message: drainsMessage })])
        .default('10%')
        .meta({ 'x-kubernetes-int-or-string': true })
        .describe(
          'Most nodes draining at the same time: a count such as 3 or a percentage of the GPU nodes such as ' +
            '"10%" (rounded down, at least 1). Default "10%".',
        ),
      {
        rule: "type(self) == int ? self >= 1 : self.matches('^(100|[1-9][0-9]?)%$')",
        message: drainsMessage,
      },
    ),
    startTimeoutSeconds: z
      .int()
      .min(10)
      .max(86400)
      .default(600)
      .describe(
        'How long an admitted gang may take to start (drains in waves within maxConcurrentDrains, pod ' +
          'creation, scheduling, image pull), in seconds. Past it the whole gang is rolled back (pods deleted, ' +
          'nodes released to their best mode) and the job is queued again after an exponential backoff ' +
          '(startBackoffSeconds, doubling per failure, at most an hour). A TrainingJob may set its own. Default 600.',
      ),
    startBackoffSeconds: z
      .int()
      .min(1)
      .max(3600)
      .default(30)
      .describe(
        'First wait before a job whose gang did not start is placed again, in seconds; it doubles with each ' +
          'further start failure of the job, up to an hour. Default 30.',
      ),
    drainTimeoutSeconds: z
      .int()
      .min(1)
      .max(86400)
      .default(600)
      .describe(
        'How long a drain may take, in seconds, before drainTimeoutPolicy applies (evictions can be held up ' +
          'by PodDisruptionBudgets or slow pods). Default 600.',
      ),
    drainTimeoutPolicy: z
      .enum(DRAIN_TIMEOUT_POLICIES)
      .default('Wait')
      .describe(
        'What happens when a drain runs past drainTimeoutSeconds (reported as DrainStalled, naming each pod ' +
          'left and why). Wait: keep evicting politely. ForceEvict: delete the operator’s remaining mining ' +
          'pods with grace 0, ignoring disruption budgets (never other pods); if one is still there at twice ' +
          'the timeout (e.g. a finalizer holds it), give up as Abort does. Abort: give up, put the node back ' +
          'to mining and report why. Default Wait.',
      ),
    floorRentalUsdPerGpuHour: usdAmount(
      'spec.floorRentalUsdPerGpuHour',
      'Lowest bid, in USD per GPU-hour, the farm rents GPUs for, whatever mining yields; e.g. "0.20". ' +
        'Absent means no floor.',
    ).optional(),
    allowIdle: z
      .boolean()
      .default(true)
      .describe(
        'Whether nodes may go idle (neither mine nor train) when electricity costs more than both pay, as ' +
          'miners curtail during price spikes. Default true.',
      ),
    priorityClasses: z
      .object({
        mining: priorityClassName('mining', 'rigshift-mining'),
        training: priorityClassName('training', 'rigshift-training'),
      })
      .prefault({})
      .describe('PriorityClass names for the pods the operator creates; the classes must exist.'),
    defaultTrainingResources: withCel(
      computeResourcesSchema(
        'spec.defaultTrainingResources',
        'CPU and memory of each training replica whose TrainingJob does not set them (per resource: a job that ' +
          'sets cpu keeps this memory). Without any, a training pod would be BestEffort, the first pod the ' +
          'kubelet evicts under memory pressure. Default: requests cpu 1, memory 2Gi (Burstable).',
      )
        .refine(
          (r) =>
            [r.requests?.cpu, r.requests?.memory, r.limits?.cpu, r.limits?.memory].some(
              (q) => q !== undefined,
            ),
          { message: defaultResourcesMessage },
        )
        .default({ requests: { cpu: '1', memory: '2Gi' } }),
      {
        rule:
          '(has(self.requests) && (has(self.requests.cpu) || has(self.requests.memory))) || ' +
          '(has(self.limits) && (has(self.limits.cpu) || has(self.limits.memory)))',
        message: defaultResourcesMessage,
      },
    ),
    modeLabelKey: qualifiedName(
      'Node label the operator sets to mining, draining, training or idle, so users and selectors can see ' +
        'each node’s mode. Default rigshift.io/mode.',
    ).default('rigshift.io/mode'),
    reservedTaintKey: qualifiedName(
      'Key of the NoSchedule taint the operator puts on nodes reserved for training (value: training), so ' +
        'only pods that tolerate it land there. Default rigshift.io/reserved.',
    ).default('rigshift.io/reserved'),
    dryRun: z
      .boolean()
      .default(false)
      .describe(
        'true: plan and report (status.plannedActions, events, metrics) but never label, taint, drain or ' +
          'create pods. For trying a policy on a live farm. Default false.',
      ),
  })
  .describe('Desired switching policy of the fleet.');

export const plannedActionSchema = z
  .object({
    node: z.string().max(253).describe('Node name.'),
    from: z.enum(NODE_MODES).describe('Mode the node is in.'),
    to: z.enum(NODE_MODES).describe('Mode the plan moves it to.'),
    reason: z.string().max(1024).default('').describe('Why, with the figures compared.'),
  })
  .describe('A mode change the last plan decided on.');

export const fleetPolicyStatusSchema = z
  .object({
    observedGeneration: observedGeneration().optional(),
    conditions: conditionsSchema({
      Ready: 'True when the policy is valid and the operator is planning with it.',
      DryRun: 'True while spec.dryRun holds: plans are reported, not carried out.',
    }).optional(),
    nodesByMode: z
      .object({
        mining: z.int().min(0).default(0).describe('Nodes mining.'),
        draining: z.int().min(0).default(0).describe('Nodes draining their mining pods.'),
        training: z.int().min(0).default(0).describe('Nodes reserved for or running training jobs.'),
        idle: z.int().min(0).default(0).describe('Nodes idle.'),
      })
      .optional()
      .describe('How many GPU nodes are in each mode, as of the last plan.'),
    lastPlanTime: timestamp('When the operator last planned the fleet.').optional(),
    plannedActions: z
      .array(plannedActionSchema)
      .max(100)
      .optional()
      .describe('Mode changes of the last plan (at most 100 shown); carried out unless dryRun.'),
  })
  .describe('Observed state of the fleet under this policy, written by the operator.');

const nameMessage = 'metadata.name must be "default": the operator reads only the FleetPolicy named default';

// The name rule is the API server's (CEL below), not the parser's: the backtest reads what-if policies under
// any name.
export const fleetPolicySchema = z.object({
  apiVersion: z.literal(API_VERSION).default(API_VERSION),
  kind: z.literal('FleetPolicy').default('FleetPolicy'),
  metadata: objectMetaSchema.default({}),
  spec: fleetPolicySpecSchema.prefault({}),
  status: fleetPolicyStatusSchema.optional(),
});

export type FleetPolicySpec = z.infer<typeof fleetPolicySpecSchema>;
export type FleetPolicyStatus = z.infer<typeof fleetPolicyStatusSchema>;
export type FleetPolicy = z.infer<typeof fleetPolicySchema>;
export type FleetPolicyInput = z.input<typeof fleetPolicySchema>;

export const fleetPolicyKind: KindInfo = {
  kind: 'FleetPolicy',
  plural: 'fleetpolicies',
  singular: 'fleetpolicy',
  listKind: 'FleetPolicyList',
  shortNames: ['fp'],
  scope: 'Cluster',
  description:
    'FleetPolicy sets how the operator switches GPU nodes between mining, training and idle: how much better ' +
    'the other mode must pay (hysteresis), how long a node stays in a mode, what a switch costs, how many ' +
    'nodes drain at once and what happens when a drain hangs. Cluster-scoped; only the one named "default" ' +
    'is used; fields left out take the defaults shown here. Without a valid one (missing, or one that does not ' +
    'parse) the operator changes no node and no pod, and says why (Event, /readyz, condition Ready).',
  specSchema: fleetPolicySpecSchema,
  statusSchema: fleetPolicyStatusSchema,
  specDefault: {},
  rootValidations: [
    {
      rule: "self.metadata.name == 'default'",
      message: nameMessage,
    },
  ],
  printerColumns: [
    {
      name: 'Hysteresis',
      type: 'integer',
      jsonPath: '.spec.hysteresisPercent',
      description: 'Switching threshold in percent.',
    },
    {
      name: 'Dwell',
      type: 'integer',
      jsonPath: '.spec.minDwellSeconds',
      description: 'Minimum seconds in a mode.',
    },
    { name: 'DryRun', type: 'boolean', jsonPath: '.spec.dryRun', description: 'Plan only, never act.' },
    {
      name: 'Mining',
      type: 'integer',
      jsonPath: '.status.nodesByMode.mining',
      description: 'Nodes mining.',
      priority: 1,
    },
    {
      name: 'Training',
      type: 'integer',
      jsonPath: '.status.nodesByMode.training',
      description: 'Nodes training.',
      priority: 1,
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
  ],
};
