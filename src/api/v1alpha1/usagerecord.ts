import { z } from 'zod';
import { statusDecimal } from './decimal.js';
import { API_VERSION, type KindInfo, listMap, objectMetaSchema, timestamp, withCel } from './meta.js';

/** A calendar month in UTC, `2026-12`: the name of each UsageRecord and its spec.month. */
export const MONTH = /^[0-9]{4}-(0[1-9]|1[0-2])$/;

const monthMessage = 'spec.month must be a month in UTC written YYYY-MM, such as "2026-12"';
const nameMessage = 'metadata.name must equal spec.month (one UsageRecord per namespace per month)';

export const usageRecordSpecSchema = z
  .object({
    month: withCel(
      z
        .string()
        .max(7)
        .refine((s) => MONTH.test(s), { message: monthMessage })
        .describe('The month (UTC) this record covers, YYYY-MM. Immutable.'),
      { rule: `self.matches('${MONTH.source}')`, message: monthMessage },
      { rule: 'self == oldSelf', message: 'spec.month is immutable' },
    ),
  })
  .describe('Which month of which namespace this record covers (its namespace is the renter’s).');

export const usageLineSchema = z
  .object({
    uid: z
      .string()
      .min(1)
      .max(128)
      .describe('metadata.uid of the TrainingJob: a recreated job is a new line.'),
    name: z.string().max(253).describe('The TrainingJob’s name (it may no longer exist).'),
    gpuHours: statusDecimal('GPU-hours the job used in this month.'),
    earnedUsd: statusDecimal('USD the job owes for this month: its bid × its GPU-hours, as accrued.'),
    jobGpuHours: statusDecimal(
      'The job’s own status.gpuHours when this line was last written (all months): the next update adds only what ' +
        'exceeds it, so writing the same status twice (a restart, a new leader) adds nothing.',
    ),
    jobEarnedUsd: statusDecimal(
      'The job’s own status.earnedUsd when this line was last written (all months).',
    ),
    lastUpdateTime: timestamp('When this line was last written.'),
  })
  .describe('One TrainingJob’s usage in the month.');

export const usageRecordStatusSchema = z
  .object({
    gpuHours: statusDecimal(
      'GPU-hours used in the namespace in this month: the sum of jobs[].gpuHours.',
    ).optional(),
    earnedUsd: statusDecimal(
      'USD owed by the namespace for this month: the sum of jobs[].earnedUsd, to 6 decimals.',
    ).optional(),
    jobs: listMap(
      z
        .array(usageLineSchema)
        .max(4000)
        .optional()
        .describe(
          'Every TrainingJob that used GPUs in the month, by uid; lines stay after their job is deleted.',
        ),
      'uid',
    ),
    lastUpdateTime: timestamp('When the operator last wrote this record.').optional(),
  })
  .describe('Usage in the month, written by the operator only.');

export const usageRecordSchema = z.object({
  apiVersion: z.literal(API_VERSION).default(API_VERSION),
  kind: z.literal('UsageRecord').default('UsageRecord'),
  metadata: objectMetaSchema.default({}),
  spec: usageRecordSpecSchema,
  status: usageRecordStatusSchema.optional(),
});

export type UsageLine = z.infer<typeof usageLineSchema>;
export type UsageRecordStatus = z.infer<typeof usageRecordStatusSchema>;
export type UsageRecord = z.infer<typeof usageRecordSchema>;

export const usageRecordKind: KindInfo = {
  kind: 'UsageRecord',
  plural: 'usagerecords',
  singular: 'usagerecord',
  listKind: 'UsageRecordList',
  shortNames: ['usage'],
  scope: 'Namespaced',
  description:
    'A UsageRecord is the bill of one namespace for one month (UTC), named after the month (2026-12): the ' +
    'GPU-hours and USD of every TrainingJob that ran in it, kept after the job is deleted. Written by the ' +
    'operator only, from the jobs’ own status.gpuHours and status.earnedUsd, as totals (never increments), ' +
    'so restarts and leader changes never count anything twice. Renters can read it, not write it.',
  specSchema: usageRecordSpecSchema,
  statusSchema: usageRecordStatusSchema,
  rootValidations: [{ rule: 'self.metadata.name == self.spec.month', message: nameMessage }],
  printerColumns: [
    { name: 'Month', type: 'string', jsonPath: '.spec.month', description: 'Month (UTC).' },
    {
      name: 'GPU-Hours',
      type: 'string',
      jsonPath: '.status.gpuHours',
      description: 'GPU-hours used in the month.',
    },
    { name: 'USD', type: 'string', jsonPath: '.status.earnedUsd', description: 'USD owed for the month.' },
    {
      name: 'Updated',
      type: 'date',
      jsonPath: '.status.lastUpdateTime',
      description: 'Last written by the operator.',
    },
  ],
};
