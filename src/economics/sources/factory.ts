import { ConfigMapKeySource, type ConfigMapData } from './configmap.js';
import { parseFieldPath } from './field-path.js';
import type { EgressRules, Resolver } from './egress.js';
import { HttpJsonSource, type SecretReader, type Transport } from './http.js';
import { StaticSource } from './static.js';
import type { PriceReading, PriceSource, PriceSourceSpec } from './types.js';
import { DEFAULT_OUTLIER_RULE, ValidatedSource, type OutlierRule } from './validated.js';

/** RFC 9110 token; headers that steer the connection itself are the operator's. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
]);

/** Used when the spec leaves them out (the API may default them too). */
export const HTTP_DEFAULTS = { refreshSeconds: 300, timeoutSeconds: 10, maxAgeSeconds: 1800 } as const;

export interface SourceDeps {
  /** Data of a ConfigMap by name in the pool's namespace, e.g. an informer-cache lookup; undefined if absent. */
  configMap?: (name: string) => Record<string, string> | undefined;
  /** Where HTTP sources may connect (the admin's allowlist); default: nowhere. */
  egress?: EgressRules;
  /** DNS for the egress check (tests); the system resolver otherwise. */
  resolve?: Resolver;
  /** Reads a key of a Secret in the pool's namespace, for http.headers. */
  readSecret?: SecretReader;
  /** Replaces the connection to the checked address (tests); the egress rules still apply. */
  fetch?: Transport;
  maxBodyBytes?: number;
  /** The operator's debug log, for what status and Events must not show. */
  debug?: (detail: Record<string, unknown>, message: string) => void;
  /** Outlier rule for HTTP sources (static values and ConfigMaps are written on purpose and not checked). */
  outliers?: OutlierRule | false;
  /** The price may be negative (electricity). */
  signed?: boolean;
}

/**
 * Builds the validated source for one spec. A spec that cannot work (none or several kinds set, bad URL,
 * maxAge shorter than the refresh interval) gives a source that always reports InvalidSource, so the
 * reconciler shows the reason in a condition instead of crashing.
 */
export function createPriceSource(spec: PriceSourceSpec, deps: SourceDeps = {}): PriceSource {
  const problem = specProblem(spec);
  if (problem) return new InvalidSource(problem);
  if (spec.value !== undefined) {
    return new ValidatedSource(new StaticSource(spec.value), {
      refreshSeconds: 0,
      holdLastGood: false,
      outliers: false,
      signed: deps.signed === true,
    });
  }
  if (spec.configMapKeyRef) {
    const { name, key } = spec.configMapKeyRef;
    const lookup = deps.configMap;
    const data: ConfigMapData = () => (lookup ? lookup(name) : undefined);
    return new ValidatedSource(new ConfigMapKeySource(name, key, data), {
      refreshSeconds: 0,
      holdLastGood: false,
      outliers: false,
      signed: deps.signed === true,
    });
  }
  const http = spec.http!;
  const timing = httpTiming(spec);
  const rawOptions = {
    url: http.url,
    timeoutSeconds: timing.timeoutSeconds,
    ...(http.fieldPath !== undefined && { fieldPath: http.fieldPath }),
    ...(http.headers && { headers: http.headers }),
    ...(deps.egress && { egress: deps.egress }),
    ...(deps.resolve && { resolve: deps.resolve }),
    ...(deps.readSecret && { readSecret: deps.readSecret }),
    ...(deps.fetch && { fetch: deps.fetch }),
    ...(deps.maxBodyBytes !== undefined && { maxBodyBytes: deps.maxBodyBytes }),
    ...(deps.debug && { debug: deps.debug }),
  };
  return new ValidatedSource(new HttpJsonSource(rawOptions), {
    refreshSeconds: timing.refreshSeconds,
    maxAgeSeconds: timing.maxAgeSeconds,
    holdLastGood: true,
    outliers: deps.outliers ?? DEFAULT_OUTLIER_RULE,
    signed: deps.signed === true,
    quoteValues: false,
  });
}

/** Why a spec cannot be used, or undefined. */
export function specProblem(spec: PriceSourceSpec): string | undefined {
  const kinds = (['value', 'configMapKeyRef', 'http'] as const).filter((k) => spec[k] !== undefined);
  if (kinds.length !== 1) {
    return `exactly one of value, configMapKeyRef, http must be set, found ${kinds.length === 0 ? 'none' : kinds.join(', ')}`;
  }
  if (spec.configMapKeyRef && (!spec.configMapKeyRef.name || !spec.configMapKeyRef.key)) {
    return 'configMapKeyRef needs a name and a key';
  }
  if (!spec.http) return undefined;
  let url: URL;
  try {
    url = new URL(spec.http.url);
  } catch {
    return `http.url '${spec.http.url}' is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `http.url must be http or https, not ${url.protocol}`;
  if (url.username !== '' || url.password !== '')
    return 'http.url must not hold credentials: send them in http.headers from a Secret';
  for (const h of spec.http.headers ?? []) {
    if (!HEADER_NAME.test(h.name) || FORBIDDEN_HEADERS.has(h.name.toLowerCase()))
      return `http.headers name '${h.name}' is not a header a price source may set`;
    if (!h.secretKeyRef?.name || !h.secretKeyRef.key)
      return `http.headers ${h.name} needs a secretKeyRef name and key`;
  }
  try {
    parseFieldPath(spec.http.fieldPath);
  } catch (err) {
    return (err as Error).message;
  }
  const t = httpTiming(spec);
  for (const [name, v] of Object.entries(t)) {
    if (!Number.isFinite(v) || v <= 0) return `http.${name} must be a positive number, not ${v}`;
  }
  if (t.maxAgeSeconds < t.refreshSeconds) {
    return `http.maxAgeSeconds ${t.maxAgeSeconds} is shorter than http.refreshSeconds ${t.refreshSeconds}: the value would expire between refreshes`;
  }
  return undefined;
}

function httpTiming(spec: PriceSourceSpec): {
  refreshSeconds: number;
  timeoutSeconds: number;
  maxAgeSeconds: number;
} {
  return {
    refreshSeconds: spec.http?.refreshSeconds ?? HTTP_DEFAULTS.refreshSeconds,
    timeoutSeconds: spec.http?.timeoutSeconds ?? HTTP_DEFAULTS.timeoutSeconds,
    maxAgeSeconds: spec.http?.maxAgeSeconds ?? HTTP_DEFAULTS.maxAgeSeconds,
  };
}

class InvalidSource implements PriceSource {
  readonly description = 'invalid price source';
  constructor(private readonly reason: string) {}
  read(now: Date): Promise<PriceReading> {
    return Promise.resolve(this.current(now));
  }
  current(_now: Date): PriceReading {
    return { ok: false, code: 'InvalidSource', reason: this.reason, source: this.description };
  }
  nextRefreshAt(): Date | undefined {
    return undefined;
  }
}
