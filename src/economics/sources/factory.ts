import { ConfigMapKeySource, type ConfigMapData } from './configmap.js';
import { parseFieldPath } from './field-path.js';
import { HttpJsonSource } from './http.js';
import { StaticSource } from './static.js';
import type { PriceReading, PriceSource, PriceSourceSpec } from './types.js';
import { DEFAULT_OUTLIER_RULE, ValidatedSource, type OutlierRule } from './validated.js';

/** Used when the spec leaves them out (the API may default them too). */
export const HTTP_DEFAULTS = { refreshSeconds: 300, timeoutSeconds: 10, maxAgeSeconds: 1800 } as const;

export interface SourceDeps {
  /** Data of a ConfigMap by name in the pool's namespace, e.g. an informer-cache lookup; undefined if absent. */
  configMap?: (name: string) => Record<string, string> | undefined;
  /** Injected for tests; Node's global fetch otherwise. */
  fetch?: typeof fetch;
  maxBodyBytes?: number;
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
    ...(deps.fetch && { fetch: deps.fetch }),
    ...(deps.maxBodyBytes !== undefined && { maxBodyBytes: deps.maxBodyBytes }),
  };
  return new ValidatedSource(new HttpJsonSource(rawOptions), {
    refreshSeconds: timing.refreshSeconds,
    maxAgeSeconds: timing.maxAgeSeconds,
    holdLastGood: true,
    outliers: deps.outliers ?? DEFAULT_OUTLIER_RULE,
    signed: deps.signed === true,
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
