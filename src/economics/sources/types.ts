/**
 * Price sources: where a MiningPool's revenue and electricity prices come from.
 * Plain input types mirroring the MiningPool API (kept independent of src/api on purpose).
 */

/** HTTP JSON endpoint. Durations in seconds (fractions allowed, useful in tests). */
export interface HttpPriceSpec {
  url: string;
  /** Dot path into the JSON body, e.g. `data.usdPerMhsDay` or `items.0.price`; empty means the whole body. */
  fieldPath?: string;
  refreshSeconds?: number;
  timeoutSeconds?: number;
  maxAgeSeconds?: number;
  /** Headers whose values come from Secrets in the pool's namespace (API keys). */
  headers?: { name: string; secretKeyRef: { name: string; key: string } }[];
}

export interface ConfigMapKeyRefSpec {
  name: string;
  key: string;
}

/** Exactly one of the three must be set. */
export interface PriceSourceSpec {
  value?: string;
  configMapKeyRef?: ConfigMapKeyRefSpec;
  http?: HttpPriceSpec;
}

/** One-word reasons, usable as condition reasons and Event reasons. */
export type PriceProblemCode =
  | 'InvalidSource'
  | 'NotRead'
  | 'NotAllowed'
  | 'FetchFailed'
  | 'Timeout'
  | 'BodyTooLarge'
  | 'NotJson'
  | 'Missing'
  | 'NotANumber'
  | 'NotFinite'
  | 'Negative'
  | 'Outlier'
  | 'Stale';

export interface PriceProblem {
  code: PriceProblemCode;
  /** Human sentence, e.g. "HTTP 500 from http://prices.local/x". */
  reason: string;
  /** When the problem was seen (injected clock). */
  at: Date;
}

export interface PriceKnown {
  ok: true;
  value: number;
  /** The value as a plain decimal string (no exponent), for exact money arithmetic. */
  decimal: string;
  /** When this value was read (injected clock). */
  readAt: Date;
  /** Human description of the source, e.g. "http http://x/y field data.price". */
  source: string;
  /** When this value stops being usable unless refreshed; absent when it never expires. */
  expiresAt?: Date;
  /** Set when the latest refresh was refused and this is the last good value held. */
  warning?: PriceProblem;
}

export interface PriceUnknown {
  ok: false;
  code: PriceProblemCode;
  reason: string;
  source: string;
}

export type PriceReading = PriceKnown | PriceUnknown;

export interface PriceSource {
  /** Human description of where the price comes from. */
  readonly description: string;
  /**
   * Refreshes if due (HTTP: not before refreshSeconds since the last attempt, per `now`), then returns
   * `current(now)`. Concurrent calls share one fetch.
   */
  read(now: Date): Promise<PriceReading>;
  /** The usable value at `now` without any I/O: the last good value until it expires, else why not. */
  current(now: Date): PriceReading;
  /** When a refresh is next due, so a reconciler can requeue; undefined when refreshing is event driven. */
  nextRefreshAt(): Date | undefined;
  /**
   * Seeds a fresh source with the last good value another process read (from the pool's status after a
   * restart): held until it is older than maxAgeSeconds, and the outlier rule's baseline. Ignored by sources
   * that do not hold a last good value, and once the source has read a value of its own.
   */
  restore?(last: LastGood): void;
}

/** A last good value as recorded in status. */
export interface LastGood {
  /** Decimal string, e.g. "0.085". */
  decimal: string;
  readAt: Date;
}

/** What a raw source hands to the validating wrapper: a value still to be checked, or why there is none. */
export type RawResult = { ok: true; raw: unknown } | { ok: false; code: PriceProblemCode; reason: string };

/** A source without validation or memory: static, ConfigMap key, HTTP. */
export interface RawSource {
  readonly description: string;
  fetch(): Promise<RawResult>;
}
