import { z } from 'zod';
import { CONFIG_KEY, objectName, withCel } from './meta.js';

/** A key of a Secret in the object's namespace. */
export function secretKeyRefSchema(description: string) {
  return z
    .object({
      name: objectName('Name of the Secret, in the same namespace as this object.'),
      key: z
        .string()
        .min(1)
        .max(253)
        .regex(CONFIG_KEY)
        .describe('Key within the Secret whose value is used.'),
    })
    .describe(description);
}

/** A key of a ConfigMap in the object's namespace. */
export function configMapKeyRefSchema(description: string) {
  return z
    .object({
      name: objectName('Name of the ConfigMap, in the same namespace as this object.'),
      key: z
        .string()
        .min(1)
        .max(253)
        .regex(CONFIG_KEY)
        .describe('Key within the ConfigMap whose value is used.'),
    })
    .describe(description);
}

export type KeyRef = z.infer<ReturnType<typeof secretKeyRefSchema>>;

/** Environment variable names as Kubernetes accepts them for containers. */
export const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** An environment variable of a container: a literal value or a value from a Secret or ConfigMap key. */
export function envVarSchema(path: string) {
  const message = `${path}: set either value or valueFrom, not both`;
  const sourceMessage = `${path}.valueFrom: set exactly one of secretKeyRef or configMapKeyRef`;
  return withCel(
    z
      .object({
        name: z.string().min(1).max(256).regex(ENV_NAME).describe('Name of the environment variable.'),
        value: z
          .string()
          .max(32768)
          .optional()
          .describe('Literal value. Use valueFrom for anything secret, never a literal.'),
        valueFrom: withCel(
          z
            .object({
              secretKeyRef: secretKeyRefSchema('Take the value from this key of a Secret.').optional(),
              configMapKeyRef: configMapKeyRefSchema(
                'Take the value from this key of a ConfigMap.',
              ).optional(),
            })
            .refine((v) => (v.secretKeyRef ? 1 : 0) + (v.configMapKeyRef ? 1 : 0) === 1, {
              message: sourceMessage,
            })
            .optional()
            .describe('Where to read the value from instead of a literal.'),
          { rule: 'has(self.secretKeyRef) != has(self.configMapKeyRef)', message: sourceMessage },
        ),
      })
      .refine((e) => !(e.value !== undefined && e.valueFrom !== undefined), { message })
      .describe('An environment variable set in the container.'),
    { rule: '!(has(self.value) && has(self.valueFrom))', message },
  );
}

export type EnvVar = z.infer<ReturnType<typeof envVarSchema>>;
