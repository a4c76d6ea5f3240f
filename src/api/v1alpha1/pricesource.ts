import { z } from 'zod';
import { price, signedPrice } from './decimal.js';
import { configMapKeyRefSchema, secretKeyRefSchema } from './refs.js';
import { withCel } from './meta.js';

/** Dot path into a JSON document: names and array indexes, e.g. `data.usdPerMhsDay`, `items.0.usd`, `items[0].usd`. */
export const FIELD_PATH = /^([A-Za-z0-9_$-]+|\[[0-9]+\])(\.[A-Za-z0-9_$-]+|\[[0-9]+\])*$/;

/** RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function httpSourceSchema(path: string, signed: boolean) {
  const ageMessage = `${path}.http.maxAgeSeconds must be at least refreshSeconds`;
  const schemeMessage = `${path}.http.url must be an http:// or https:// URL`;
  const credsMessage = `${path}.http.url must not hold credentials: put them in http.headers from a Secret`;
  return withCel(
    z
      .object({
        url: withCel(
          z
            .string()
            .min(1)
            .max(2048)
            .refine((u) => /^https?:\/\/[^\s]+$/.test(u), { message: schemeMessage })
            .refine((u) => !/^https?:\/\/[^/?#]*@/.test(u), { message: credsMessage })
            .describe(
              'URL of a JSON document, fetched with GET by the operator: https://, or http:// to a host the ' +
                'operator’s admin allows. The host must be on the operator’s allowlist (chart value ' +
                'priceSources.allowedHosts); loopback, link-local and private addresses are refused unless the ' +
                'admin allows that exact host; redirects are not followed. No credentials in the URL: use headers.',
            ),
          { rule: "self.matches('^https?://[^ ]+$')", message: schemeMessage },
          { rule: "!self.matches('^https?://[^/?#]*@')", message: credsMessage },
        ),
        headers: z
          .array(
            z
              .object({
                name: z
                  .string()
                  .min(1)
                  .max(64)
                  .regex(HEADER_NAME)
                  .describe('Header name, e.g. X-Api-Key or Authorization.'),
                secretKeyRef: secretKeyRefSchema(
                  'The header’s value: this key of a Secret in the pool’s namespace, read on every fetch.',
                ),
              })
              .describe('A request header whose value comes from a Secret.'),
          )
          .max(4)
          .optional()
          .describe(
            'Request headers whose values come from Secrets (API keys), never shown in status or Events.',
          ),
        fieldPath: z
          .string()
          .max(256)
          .regex(FIELD_PATH)
          .optional()
          .describe(
            'Dot path to the value inside the JSON response, e.g. data.price; numeric segments or ' +
              '[n] index arrays (items.0.usd, items[0].usd). Absent when the whole response is the number. ' +
              'The value may be a JSON number or a decimal string' +
              (signed ? '; negative values are accepted.' : '; negative values are refused.'),
          ),
        refreshSeconds: z
          .int()
          .min(10)
          .max(86400)
          .default(300)
          .describe('How often to fetch the document, in seconds (10 to 86400). Default 300.'),
        timeoutSeconds: z
          .int()
          .min(1)
          .max(300)
          .default(10)
          .describe('How long one fetch may take before it counts as failed, in seconds. Default 10.'),
        maxAgeSeconds: z
          .int()
          .min(10)
          .max(604800)
          .default(1800)
          .describe(
            'How old the last good value may get, in seconds, while fetches fail. Past this age the price is ' +
              'unknown: the YieldKnown condition turns False and the operator stops switching on this pool’s ' +
              'yield. At least refreshSeconds. Default 1800.',
          ),
      })
      .refine((h) => h.maxAgeSeconds >= h.refreshSeconds, { message: ageMessage })
      .optional()
      .describe('Fetch the price from a JSON endpoint over HTTP(S).'),
    { rule: 'self.maxAgeSeconds >= self.refreshSeconds', message: ageMessage, fieldPath: '.maxAgeSeconds' },
  );
}

/**
 * Where a price comes from: exactly one of a literal value, a ConfigMap key, or an HTTP JSON endpoint.
 * `path` (e.g. spec.revenueUsdPerMhsDay) is named in error messages. `signed`: the price may be negative
 * (electricity on day-ahead markets); otherwise the operator refuses negative readings and the API negative
 * values.
 */
export function priceSourceSchema(
  path: string,
  description: string,
  unit: string,
  example: string,
  opts: { signed?: boolean } = {},
) {
  const signed = opts.signed === true;
  const literal = signed ? signedPrice : price;
  const oneOf = `${path}: set exactly one of value, configMapKeyRef or http`;
  return withCel(
    z
      .object({
        value: literal(
          `${path}.value`,
          `A fixed price in ${unit}, as a decimal string such as "${example}".`,
        ).optional(),
        configMapKeyRef: configMapKeyRefSchema(
          `Read the price in ${unit} from this ConfigMap key (a decimal string), re-read whenever the ` +
            'ConfigMap changes. Lets a script or another controller publish prices without touching this object.',
        ).optional(),
        http: httpSourceSchema(path, signed),
      })
      .refine((s) => [s.value, s.configMapKeyRef, s.http].filter((x) => x !== undefined).length === 1, {
        message: oneOf,
      })
      .describe(`${description} Exactly one of value, configMapKeyRef or http.`),
    {
      rule: '[has(self.value), has(self.configMapKeyRef), has(self.http)].filter(x, x).size() == 1',
      message: oneOf,
    },
  );
}

export type PriceSource = z.infer<ReturnType<typeof priceSourceSchema>>;
