import { parsePrice } from './decimal.js';
import type {
  LastGood,
  PriceKnown,
  PriceProblem,
  PriceProblemCode,
  PriceReading,
  PriceSource,
  RawSource,
} from './types.js';

/**
 * Outlier rule: once at least `minHistory` good readings exist, a new reading is refused when it is more
 * than `factor` times, or less than 1/`factor` of, the median of the last `window` good readings. The median
 * ignores one earlier glitch that a mean would not. A real change of level is accepted once `confirmations`
 * consecutive refused readings agree with each other within `factor`: they then become the new history.
 */
export interface OutlierRule {
  factor: number;
  window: number;
  minHistory: number;
  confirmations: number;
}

export const DEFAULT_OUTLIER_RULE: OutlierRule = { factor: 5, window: 10, minHistory: 3, confirmations: 3 };

export interface ValidationOptions {
  /** Seconds between refresh attempts, per the injected clock; 0 refreshes on every read. */
  refreshSeconds: number;
  /** A good value stops being usable this long after it was read; undefined: never. */
  maxAgeSeconds?: number;
  /**
   * true: a refused refresh keeps the last good value (with a warning) until it is older than maxAgeSeconds.
   * false: a refused refresh makes the price unknown at once (ConfigMap: what the user wrote is the truth).
   */
  holdLastGood: boolean;
  /** false turns the outlier rule off (values written on purpose by a person). */
  outliers: OutlierRule | false;
  /**
   * Negative values are real (electricity on day-ahead markets): accepted, and the outlier rule bounds only
   * the size of a value (|value| > factor × |median|), since a fall to zero or below is no glitch.
   */
  signed?: boolean;
  /** false: a refused string is described by its length, never quoted (answers of HTTP sources). */
  quoteValues?: boolean;
}

interface Good {
  value: number;
  decimal: string;
  readAt: Date;
}

type Refusal = { code: PriceProblemCode; reason: string };

/** The checks shared by every source, and the memory of the last good value. */
export class ValidatedSource implements PriceSource {
  readonly description: string;
  private good: Good | undefined;
  private problem: PriceProblem | undefined;
  private history: number[] = [];
  private candidates: number[] = [];
  private lastAttempt: Date | undefined;
  private inflight: Promise<void> | undefined;
  /** The history starts from a value restored from status: the outlier rule applies from the first read. */
  private restored = false;

  constructor(
    private readonly raw: RawSource,
    private readonly options: ValidationOptions,
  ) {
    this.description = raw.description;
  }

  async read(now: Date): Promise<PriceReading> {
    if (this.inflight) await this.inflight;
    else if (this.due(now)) {
      this.lastAttempt = now;
      this.inflight = this.refresh(now).finally(() => (this.inflight = undefined));
      await this.inflight;
    }
    return this.current(now);
  }

  current(now: Date): PriceReading {
    const source = this.description;
    const good = this.good;
    if (good && (this.options.holdLastGood || !this.problem)) {
      const maxAge = this.options.maxAgeSeconds;
      const expiresAt = maxAge === undefined ? undefined : new Date(good.readAt.getTime() + maxAge * 1000);
      if (expiresAt === undefined || now.getTime() <= expiresAt.getTime()) {
        const reading: PriceKnown = {
          ok: true,
          value: good.value,
          decimal: good.decimal,
          readAt: good.readAt,
          source,
        };
        if (expiresAt) reading.expiresAt = expiresAt;
        if (this.problem) reading.warning = this.problem;
        return reading;
      }
      const latest = this.problem ? ` (latest refresh: ${this.problem.reason})` : '';
      const age = formatAge(now.getTime() - good.readAt.getTime());
      return {
        ok: false,
        code: 'Stale',
        reason: `last good value ${good.decimal} read ${age} ago is older than maxAgeSeconds ${maxAge}${latest}`,
        source,
      };
    }
    if (this.problem) return { ok: false, code: this.problem.code, reason: this.problem.reason, source };
    return { ok: false, code: 'NotRead', reason: 'not read yet', source };
  }

  restore(last: LastGood): void {
    if (!this.options.holdLastGood || this.good || this.lastAttempt) return;
    const parsed = parsePrice(last.decimal, { signed: this.options.signed === true });
    if (!parsed.ok || Number.isNaN(last.readAt.getTime())) return;
    this.good = { value: parsed.value, decimal: parsed.decimal, readAt: last.readAt };
    this.history = [parsed.value];
    this.restored = true;
  }

  nextRefreshAt(): Date | undefined {
    if (this.options.refreshSeconds <= 0 || !this.lastAttempt) return undefined;
    return new Date(this.lastAttempt.getTime() + this.options.refreshSeconds * 1000);
  }

  private due(now: Date): boolean {
    const last = this.lastAttempt;
    if (!last || now.getTime() < last.getTime()) return true; // never tried, or the clock went back
    return now.getTime() - last.getTime() >= this.options.refreshSeconds * 1000;
  }

  private async refresh(now: Date): Promise<void> {
    let result;
    try {
      result = await this.raw.fetch();
    } catch (err) {
      result = {
        ok: false as const,
        code: 'FetchFailed' as const,
        reason: err instanceof Error ? err.message : String(err),
      };
    }
    if (!result.ok) return this.refuse(result, now);
    const parsed = parsePrice(result.raw, {
      signed: this.options.signed === true,
      quote: this.options.quoteValues ?? true,
    });
    if (!parsed.ok) return this.refuse(parsed, now);
    const outlier = this.checkOutlier(parsed.value, parsed.decimal);
    if (outlier) return this.refuse(outlier, now);
    this.accept({ value: parsed.value, decimal: parsed.decimal, readAt: now });
  }

  private checkOutlier(value: number, decimal: string): Refusal | undefined {
    const rule = this.options.outliers;
    if (!rule || (this.history.length < rule.minHistory && !this.restored)) return undefined;
    const m = median(this.history);
    const signed = this.options.signed === true;
    let high: boolean;
    let low: boolean;
    if (signed) {
      if (m === 0) return undefined; // no ratio to a zero median
      high = Math.abs(value) > Math.abs(m) * rule.factor;
      low = false;
    } else {
      if (m <= 0) return undefined; // no ratio to a zero median
      high = value > m * rule.factor;
      low = value < m / rule.factor;
    }
    if (!high && !low) return undefined;
    this.candidates.push(value);
    if (this.candidates.length > rule.confirmations) this.candidates.shift();
    if (this.candidates.length >= rule.confirmations && agree(this.candidates, rule.factor)) {
      this.history = this.candidates.slice(0, -1); // accept() appends the newest
      return undefined;
    }
    const bound = high
      ? `more than ${rule.factor}× the ${signed ? 'size of the ' : ''}median`
      : `less than 1/${rule.factor} of the median`;
    const n = this.history.length;
    const of =
      this.restored && n < rule.minHistory
        ? 'the last good value before a restart and the readings since'
        : `the last ${n} readings`;
    return {
      code: 'Outlier',
      reason: `value ${decimal} is an outlier: ${bound} ${formatNumber(m)} of ${of}`,
    };
  }

  private accept(good: Good): void {
    this.good = good;
    this.problem = undefined;
    this.candidates = [];
    this.history.push(good.value);
    const window = this.options.outliers ? this.options.outliers.window : 1;
    if (this.history.length > window) this.history.splice(0, this.history.length - window);
  }

  private refuse(refusal: Refusal, now: Date): void {
    this.problem = { code: refusal.code, reason: refusal.reason, at: now };
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function agree(values: readonly number[], factor: number): boolean {
  const sizes = values.map(Math.abs);
  const lo = Math.min(...sizes);
  const hi = Math.max(...sizes);
  return lo > 0 ? hi / lo <= factor : hi === 0;
}

function formatNumber(n: number): string {
  return String(Number(n.toPrecision(6)));
}

/** "45s", "31m", "2h", "2h 5m", "3d 4h": how long ago, for people. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}
