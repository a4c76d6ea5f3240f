import { z } from 'zod';
import { DNS_LABEL, objectName, withCel } from './meta.js';
import { quantity } from './quantity.js';

// A practical, typed subset of core/v1 volumes: scratch space, configuration, secrets and datasets on PVCs.

const defaultMode = () =>
  z
    .int()
    .min(0)
    .max(511)
    .optional()
    .describe('Permission bits of the files, e.g. 420 (0644 octal). Defaults to 0644.');

const oneSource = 'spec.volumes[]: set exactly one of emptyDir, configMap, secret or persistentVolumeClaim';

export const volumeSchema = withCel(
  z
    .object({
      name: z
        .string()
        .min(1)
        .max(63)
        .regex(DNS_LABEL)
        .describe('Name of the volume, referred to by volumeMounts[].name. Unique within the list.'),
      emptyDir: z
        .object({
          medium: z
            .enum(['Memory'])
            .optional()
            .describe('Memory for a RAM-backed tmpfs (counts against memory); absent for the node’s disk.'),
          sizeLimit: quantity('Largest size the volume may grow to, e.g. 100Gi.').optional(),
        })
        .optional()
        .describe('Scratch space that lives as long as the pod, e.g. for shared memory or a data cache.'),
      configMap: z
        .object({
          name: objectName('Name of the ConfigMap in the job’s namespace.'),
          optional: z.boolean().optional().describe('Start even when the ConfigMap does not exist.'),
          defaultMode: defaultMode(),
        })
        .optional()
        .describe('Mount every key of a ConfigMap as a file.'),
      secret: z
        .object({
          secretName: objectName('Name of the Secret in the job’s namespace.'),
          optional: z.boolean().optional().describe('Start even when the Secret does not exist.'),
          defaultMode: defaultMode(),
        })
        .optional()
        .describe('Mount every key of a Secret as a file, e.g. credentials for a dataset bucket.'),
      persistentVolumeClaim: z
        .object({
          claimName: objectName('Name of the PersistentVolumeClaim in the job’s namespace.'),
          readOnly: z.boolean().default(false).describe('Mount the claim read-only. Default false.'),
        })
        .optional()
        .describe('Mount a PersistentVolumeClaim, e.g. a dataset or a checkpoint store shared by replicas.'),
    })
    .refine(
      (v) =>
        [v.emptyDir, v.configMap, v.secret, v.persistentVolumeClaim].filter((x) => x !== undefined).length ===
        1,
      { message: oneSource },
    )
    .describe(
      'A volume of the training pods: exactly one of emptyDir, configMap, secret or persistentVolumeClaim.',
    ),
  {
    rule: '[has(self.emptyDir), has(self.configMap), has(self.secret), has(self.persistentVolumeClaim)].filter(x, x).size() == 1',
    message: oneSource,
  },
);

const subPathMessage = 'spec.volumeMounts[].subPath must be a relative path without ".."';

export const volumeMountSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(63)
      .regex(DNS_LABEL)
      .describe('Name of the volume to mount, from spec.volumes.'),
    mountPath: z
      .string()
      .min(2)
      .max(1024)
      .regex(/^\/[^:]*$/)
      .describe(
        'Absolute path in the container where the volume appears, e.g. /data. Unique within the list.',
      ),
    readOnly: z.boolean().default(false).describe('Mount read-only. Default false.'),
    subPath: withCel(
      z
        .string()
        .max(1024)
        .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), { message: subPathMessage })
        .optional()
        .describe('Mount only this path within the volume instead of its root.'),
      { rule: "!self.startsWith('/') && !self.matches('(^|/)[.][.](/|$)')", message: subPathMessage },
    ),
  })
  .describe('Where a volume is mounted in the training container.');

export type Volume = z.infer<typeof volumeSchema>;
export type VolumeMount = z.infer<typeof volumeMountSchema>;
