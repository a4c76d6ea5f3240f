import { z } from 'zod';
import { conditionsSchema } from './conditions.js';
import { percent, statusDecimal } from './decimal.js';
import {
  API_VERSION,
  type KindInfo,
  labelValue,
  listAtomic,
  listMap,
  objectMetaSchema,
  observedGeneration,
  timestamp,
  withCel,
} from './meta.js';
import { MINER_PLACEHOLDERS, MINER_TEMPLATE, WORKER_NAME, describePlaceholders } from './miner.js';
import { priceSourceSchema } from './pricesource.js';
import { positiveQuantity } from './quantity.js';
import { envVarSchema, secretKeyRefSchema } from './refs.js';
import { labelSelectorSchema } from './selector.js';

/** An extended resource name: a DNS-subdomain prefix and a name, e.g. amd.com/gpu. */
export const EXTENDED_RESOURCE =
  /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?[/][A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A stratum endpoint: stratum+tcp:// or stratum+ssl://, a host and a port. */
export const STRATUM_URL = /^stratum[+](tcp|ssl):[/][/][A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:[0-9]{1,5}$/;

function stratumUrl(path: string, description: string) {
  const message = `${path} must be a stratum URL such as stratum+tcp://etc.example.org:1010 (stratum+tcp or stratum+ssl, host and port)`;
  return withCel(
    z
      .string()
      .min(1)
      .max(512)
      .refine((s) => STRATUM_URL.test(s), { message })
      .describe(description),
    { rule: `self.matches('${STRATUM_URL.source}')`, message },
  );
}

const watts = (what: string) =>
  z
    .int()
    .min(0)
    .max(5000)
    .describe(`Power one GPU of this product draws ${what}, in watts (whole number, 0 to 5000).`);

const resourceMessage =
  'spec.gpuProfiles[].resourceName must be an extended resource name such as nvidia.com/gpu or amd.com/gpu';

export const gpuProfileSchema = z
  .object({
    product: labelValue(
      'GPU product as its vendor’s labeller names it (node label nvidia.com/gpu.product from NVIDIA GPU ' +
        'Feature Discovery, amd.com/gpu.product-name from AMD’s node labeller), e.g. NVIDIA-GeForce-RTX-3090. ' +
        'Unique within the list.',
    ).min(1),
    resourceName: withCel(
      z
        .string()
        .min(3)
        .max(253)
        .refine((s) => EXTENDED_RESOURCE.test(s), { message: resourceMessage })
        .describe(
          'Extended resource the device plugin advertises this product’s GPUs as, and that miners and training ' +
            'pods on its nodes request, e.g. amd.com/gpu. Absent: the vendor’s default, nvidia.com/gpu on nodes ' +
            'GPU Feature Discovery labels, amd.com/gpu on nodes AMD’s node labeller labels.',
        ),
      { rule: `self.matches('${EXTENDED_RESOURCE.source}')`, message: resourceMessage },
    ).optional(),
    hashrate: positiveQuantity(
      'spec.gpuProfiles[].hashrate',
      'Hashrate of one GPU of this product on this pool’s algorithm, as a Kubernetes quantity in hashes per ' +
        'second: "120M" is 120 MH/s, "1.2G" is 1.2 GH/s.',
      '120M',
    ),
    miningWatts: watts('while mining on this pool'),
    trainingWatts: watts('while running a training job (used to price rentals against mining)'),
    idleWatts: watts('while idle, neither mining nor training'),
  })
  .describe('What one GPU of a product earns and burns: hashrate on this algorithm and power in each mode.');

export type GpuProfile = z.infer<typeof gpuProfileSchema>;

const minerArg = (path: string, description: string) => {
  const message = `${path} may only use the placeholders ${describePlaceholdersShort()}`;
  return withCel(
    z
      .string()
      .max(1024)
      .refine((s) => MINER_TEMPLATE.test(s), { message })
      .describe(description),
    { rule: `self.matches('${MINER_TEMPLATE.source}')`, message },
  );
};

function describePlaceholdersShort(): string {
  return Object.keys(MINER_PLACEHOLDERS)
    .map((k) => '${' + k + '}')
    .join(', ');
}

export const minerSchema = z
  .object({
    image: z
      .string()
      .min(1)
      .max(512)
      .describe(
        'Container image of the miner, e.g. a pinned lolMiner or T-Rex build. Pin a digest or exact tag.',
      ),
    command: listAtomic(
      z
        .array(z.string().max(1024).describe('One element of the entrypoint.'))
        .max(32)
        .optional()
        .describe('Entrypoint of the miner container; the image’s ENTRYPOINT when empty.'),
    ),
    args: listAtomic(
      z
        .array(minerArg('spec.miner.args[]', 'One argument, a template string (see args).'))
        .max(64)
        .default([])
        .describe(
          'Arguments of the miner, as templates expanded for each node: ' +
            describePlaceholders() +
            '. Any other ${...} is rejected; a lone $ is kept as it is.',
        ),
    ),
    env: listMap(
      z
        .array(envVarSchema('spec.miner.env[]'))
        .max(64)
        .default([])
        .describe('Environment variables of the miner container, unique by name.'),
      'name',
    ),
  })
  .describe('The miner container the operator runs on each mining node, with all the node’s GPUs.');

const failoversMessage = 'spec.stratum.failovers must not repeat the primary URL';

export const miningPoolSpecSchema = z
  .object({
    coin: z
      .string()
      .min(1)
      .max(16)
      .regex(/^[A-Za-z0-9-]+$/)
      .describe('Ticker of the coin mined, e.g. ETC. Informational; shown by kubectl get.'),
    algorithm: z
      .string()
      .min(1)
      .max(32)
      .regex(/^[a-z0-9][a-z0-9+_-]*$/)
      .describe(
        'Mining algorithm in lower case, e.g. etchash, kawpow, autolykos2. The hashrates in gpuProfiles are ' +
          'for this algorithm.',
      ),
    stratum: withCel(
      z
        .object({
          primary: stratumUrl(
            'spec.stratum.primary',
            'Stratum endpoint the miners connect to first, e.g. stratum+tcp://etc.example.org:1010 or ' +
              'stratum+ssl://etc.example.org:1443.',
          ),
          failovers: listAtomic(
            z
              .array(
                stratumUrl(
                  'spec.stratum.failovers[]',
                  'A failover stratum endpoint, in the same form as primary.',
                ),
              )
              .max(8)
              .default([])
              .describe('Endpoints tried in order when the primary is unreachable (at most 8).'),
          ),
        })
        .refine((s) => !s.failovers.includes(s.primary), { message: failoversMessage })
        .describe('Where the miners connect: the primary stratum endpoint, then the failovers in order.'),
      { rule: '!has(self.failovers) || !(self.primary in self.failovers)', message: failoversMessage },
    ),
    wallet: z
      .string()
      .min(1)
      .max(256)
      .regex(/^\S+$/)
      .describe('Wallet address or pool account the rewards are paid to (no spaces), e.g. 0x… for ETC.'),
    workerName: z
      .string()
      .min(1)
      .max(64)
      .regex(WORKER_NAME)
      .default('${NODE}')
      .describe(
        'Worker name reported to the pool, so its dashboard shows each node; ${NODE} expands to the node name. ' +
          'Letters, digits, ".", "_" and "-". Default ${NODE}.',
      ),
    credentialsSecretRef: secretKeyRefSchema(
      'Secret key holding the pool password or API key, if the pool needs one. The operator passes it to the ' +
        'miner as the env var RIGSHIFT_POOL_PASSWORD; use ${PASSWORD} in args to refer to it.',
    ).optional(),
    miner: minerSchema,
    nodeSelector: labelSelectorSchema(
      'spec.nodeSelector',
      'Which GPU nodes mine for this pool, by node labels (matchLabels and matchExpressions, ANDed). Absent or ' +
        'empty selects every GPU node whose product has a profile. Pools should select disjoint nodes.',
    ).optional(),
    gpuProfiles: listMap(
      z
        .array(gpuProfileSchema)
        .min(1)
        .max(32)
        .describe(
          'Hashrate and power per GPU product, unique by product. A node whose product is not listed never ' +
            'mines for this pool. The first entry is the main product whose yield `kubectl get mp` shows.',
        ),
      'product',
    ),
    poolFeePercent: percent(
      'spec.poolFeePercent',
      'Share of mining revenue the pool keeps, in percent, as a decimal string from "0" to "100", e.g. "1.0". ' +
        'Default "0".',
    ).default('0'),
    revenueUsdPerMhsDay: priceSourceSchema(
      'spec.revenueUsdPerMhsDay',
      'What 1 MH/s of hashrate on this algorithm earns per day in USD, before the pool fee (how mining sites ' +
        'quote profitability).',
      'USD per MH/s per day',
      '0.0021',
    ),
    electricityUsdPerKwh: priceSourceSchema(
      'spec.electricityUsdPerKwh',
      'What the farm pays for electricity, in USD per kWh, delivery charges included. May be negative ' +
        '(day-ahead markets sometimes pay for consumption): mining, training and even idle then earn from it.',
      'USD per kWh',
      '0.085',
      { signed: true },
    ),
  })
  .describe('Desired state of a MiningPool.');

export const yieldSchema = z
  .object({
    product: labelValue('GPU product, as in spec.gpuProfiles[].product.').min(1),
    usdPerGpuHour: statusDecimal(
      'Net mining yield of one GPU of this product in USD per hour: hashrate × revenue per MH/s-day ÷ 24 × ' +
        '(1 − fee) − mining watts ÷ 1000 × electricity price. Negative when mining loses money.',
    ),
  })
  .describe('Mining yield of one GPU product on this pool.');

export const miningPoolStatusSchema = z
  .object({
    observedGeneration: observedGeneration().optional(),
    yields: listMap(
      z
        .array(yieldSchema)
        .max(32)
        .optional()
        .describe(
          'Current yield per GPU product, in the order of spec.gpuProfiles (so the first is the main one).',
        ),
      'product',
    ),
    revenueUsdPerMhsDay: statusDecimal(
      'Revenue per MH/s per day in USD last read from its source.',
    ).optional(),
    electricityUsdPerKwh: statusDecimal(
      'Electricity price in USD per kWh last read from its source.',
    ).optional(),
    inputsReadTime: timestamp('When the prices used for yields were last read successfully.').optional(),
    miningNodes: z.int().min(0).optional().describe('Number of nodes currently mining for this pool.'),
    miningGpus: z.int().min(0).optional().describe('Number of GPUs currently mining for this pool.'),
    conditions: conditionsSchema({
      Ready: 'True when the spec is usable and the miners can be started.',
      YieldKnown: 'True when both prices are known and fresh, so status.yields can be trusted.',
    }).optional(),
  })
  .describe('Observed state of a MiningPool, written by the operator.');

export const miningPoolSchema = z.object({
  apiVersion: z.literal(API_VERSION).default(API_VERSION),
  kind: z.literal('MiningPool').default('MiningPool'),
  metadata: objectMetaSchema.default({}),
  spec: miningPoolSpecSchema,
  status: miningPoolStatusSchema.optional(),
});

export type MiningPoolSpec = z.infer<typeof miningPoolSpecSchema>;
export type MiningPoolStatus = z.infer<typeof miningPoolStatusSchema>;
export type MiningPool = z.infer<typeof miningPoolSchema>;
/** What a MiningPool manifest may contain before defaults are applied. */
export type MiningPoolInput = z.input<typeof miningPoolSchema>;

export const MINING_POOL_CONDITIONS = ['Ready', 'YieldKnown'] as const;

export const miningPoolKind: KindInfo = {
  kind: 'MiningPool',
  plural: 'miningpools',
  singular: 'miningpool',
  listKind: 'MiningPoolList',
  shortNames: ['mp'],
  scope: 'Namespaced',
  description:
    'A MiningPool describes how the farm mines one coin: the pool endpoints and wallet, the miner container, ' +
    'which nodes mine for it, the hashrate and power of each GPU product, and where the revenue and ' +
    'electricity prices come from. The operator computes the mining yield per GPU-hour of each product from ' +
    'it and compares that yield with rental bids to decide which nodes mine and which train.',
  specSchema: miningPoolSpecSchema,
  statusSchema: miningPoolStatusSchema,
  printerColumns: [
    { name: 'Coin', type: 'string', jsonPath: '.spec.coin', description: 'Coin mined.' },
    {
      name: 'Algorithm',
      type: 'string',
      jsonPath: '.spec.algorithm',
      description: 'Algorithm.',
      priority: 1,
    },
    {
      name: 'Yield',
      type: 'string',
      jsonPath: '.status.yields[0].usdPerGpuHour',
      description: 'Net mining yield in USD per GPU-hour of the main (first) GPU product.',
    },
    {
      name: 'Product',
      type: 'string',
      jsonPath: '.status.yields[0].product',
      description: 'The main GPU product, whose yield is shown.',
      priority: 1,
    },
    {
      name: 'Mining GPUs',
      type: 'integer',
      jsonPath: '.status.miningGpus',
      description: 'GPUs mining for this pool now.',
    },
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Whether the pool is usable.',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
  ],
};
