import { createPriceSource, type SourceDeps } from './factory.js';
import type { LastGood, PriceSource, PriceSourceSpec } from './types.js';

/**
 * Keeps one source per key (e.g. "namespace/pool/revenueUsdPerMhsDay") across reconciles, so the last good
 * value, the outlier history and the refresh interval survive; a changed spec starts a fresh source.
 */
export class PriceSourceCache {
  private readonly entries = new Map<string, { fingerprint: string; source: PriceSource }>();

  constructor(private readonly deps: SourceDeps = {}) {}

  /**
   * The source for `key`. A fresh one (first use, or a changed spec) is seeded with `lastGood()` when given:
   * the value another process last read, from status.
   */
  get(
    key: string,
    spec: PriceSourceSpec,
    opts: { signed?: boolean; lastGood?: () => LastGood | undefined } = {},
  ): PriceSource {
    const fingerprint = stableJson(spec);
    const entry = this.entries.get(key);
    if (entry && entry.fingerprint === fingerprint) return entry.source;
    const source = createPriceSource(spec, { ...this.deps, signed: opts.signed === true });
    const last = opts.lastGood?.();
    if (last) source.restore?.(last);
    this.entries.set(key, { fingerprint, source });
    return source;
  }

  /** Forget sources whose key is not kept (pools deleted). */
  retain(keep: (key: string) => boolean): void {
    for (const key of [...this.entries.keys()]) if (!keep(key)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`).join(',')}}`;
}
