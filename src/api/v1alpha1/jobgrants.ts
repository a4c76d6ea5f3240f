import { z } from 'zod';
import { API_VERSION, type KindInfo, objectMetaSchema, withCel } from './meta.js';

/** How many renter batch Jobs may hold GPUs at once (one key each). */
export const MAX_GRANTED_JOBS = 4000;

const emptyMessage = 'spec.jobs: a granted Job has at least one node (remove its key to revoke the grant)';

export const jobGrantsSpecSchema = z
  .object({
    jobs: withCel(
      z
        .record(
          z.string().max(128),
          z
            .array(z.string().min(1).max(253).describe('A node name.'))
            .max(256)
            .describe('The nodes the Job’s GPU pods may be pinned to.'),
        )
        .refine((m) => Object.values(m).every((nodes) => nodes.length > 0), { message: emptyMessage })
        .meta({ maxProperties: MAX_GRANTED_JOBS })
        .describe(
          'The renter batch Jobs the operator has started, by metadata.uid of the Job: the nodes granted to it. ' +
            'Keys are added and removed one at a time (JSON merge patches).',
        ),
      { rule: 'self.all(uid, self[uid].size() > 0)', message: emptyMessage },
    ).optional(),
  })
  .describe('The grants, written by the operator only.');

export const jobGrantsStatusSchema = z
  .object({})
  .describe('Unused: a JobGrants is a parameter, not reconciled.');

export const jobGrantsSchema = z.object({
  apiVersion: z.literal(API_VERSION).default(API_VERSION),
  kind: z.literal('JobGrants').default('JobGrants'),
  metadata: objectMetaSchema.default({}),
  spec: jobGrantsSpecSchema.default({}),
  status: jobGrantsStatusSchema.optional(),
});

export type JobGrants = z.infer<typeof jobGrantsSchema>;

export const jobGrantsKind: KindInfo = {
  kind: 'JobGrants',
  plural: 'jobgrants',
  singular: 'jobgrants',
  listKind: 'JobGrantsList',
  shortNames: ['grants'],
  scope: 'Namespaced',
  description:
    'JobGrants lists the renter batch/v1 Jobs the operator has started and the nodes granted to each: the ' +
    'parameter of the chart’s renter GPU policy (a ValidatingAdmissionPolicy), which lets the Job controller ' +
    'create a GPU pod in a renter namespace only for a Job listed here, pinned to its granted nodes. One object ' +
    'in the operator’s namespace (<release>-job-grants), written by the operator only; renters cannot read or ' +
    'write it.',
  specSchema: jobGrantsSpecSchema,
  statusSchema: jobGrantsStatusSchema,
  specDefault: {},
  printerColumns: [],
};
