import { STATUS_DECIMAL, type GpuProfile } from '../api/v1alpha1/index.js';
import { Decimal } from '../economics/decimal.js';
import { formatRate } from '../economics/money.js';
import { miningYieldExact } from '../economics/rates.js';
import { inputsKnown } from '../economics/sources/known.js';
import type { LastGood, PriceProblemCode, PriceReading } from '../economics/sources/types.js';
import { rfc3339, type Condition } from '../kube/status.js';

/**
 * The pure half of the pool reconciler: price readings in, yields, status and condition out.
 * No clock, no I/O: `now` is passed in.
 */

/** Yields in status: USD per GPU-hour rounded half away from zero to 6 decimals, trailing zeros dropped. */
export const YIELD_PLACES = 6;
/** Prices in status: as read, rounded half away from zero to 9 decimals (the status pattern's limit). */
export const PRICE_PLACES = 9;

/** The two price inputs of a pool, in the order their problems are reported. */
export const PRICE_INPUTS = ['revenueUsdPerMhsDay', 'electricityUsdPerKwh'] as const;
export type PriceInput = (typeof PRICE_INPUTS)[number];
export type PoolReadings = Record<PriceInput, PriceReading>;

export interface ProductYield {
  product: string;
  /** Decimal string, e.g. "0.0873". */
  usdPerGpuHour: string;
}

/** A refused refresh while the last good value still holds: worth a `PriceRefused` Event. */
export interface PriceRefusal {
  input: PriceInput;
  source: string;
  code: PriceProblemCode;
  reason: string;
  /** When the refusal happened (identifies it: one Event per refusal, not per reconcile). */
  at: Date;
  heldValue: string;
  heldReadAt: Date;
  heldUntil?: Date | undefined;
}

/** Reasons of YieldKnown=False besides the price sources' codes. */
export type YieldProblemCode = PriceProblemCode | 'InvalidSpec' | 'OutOfRange';

export type YieldOutcome =
  | {
      known: true;
      reason: 'PricesKnown';
      message: string;
      /** In the order of spec.gpuProfiles. */
      yields: ProductYield[];
      prices: Partial<Record<PriceInput, string>>;
      refusals: PriceRefusal[];
    }
  | {
      known: false;
      reason: YieldProblemCode;
      message: string;
      prices: Partial<Record<PriceInput, string>>;
      refusals: PriceRefusal[];
    };

export interface YieldSpec {
  gpuProfiles: ReadonlyArray<Pick<GpuProfile, 'product' | 'hashrate' | 'miningWatts'>>;
  /** Decimal string, e.g. "1.0". */
  poolFeePercent: string;
}

/** "0.087312" style: half away from zero to `places`, at least two decimals, trailing zeros dropped. */
export function formatStatusDecimal(value: Decimal, places: number): string | undefined {
  const text = formatRate(value, places);
  return STATUS_DECIMAL.test(text) && text.length <= 32 ? text : undefined;
}

/**
 * Yields per GPU product from the pool's spec and its two price readings, with the YieldKnown verdict.
 * A reading that is not ok makes every yield unknown; its code is the reason and the message names the
 * input, the source (ConfigMap and key, or URL) and the source's own explanation.
 */
export function computeYields(spec: YieldSpec, readings: PoolReadings): YieldOutcome {
  const prices: Partial<Record<PriceInput, string>> = {};
  const refusals: PriceRefusal[] = [];
  const described: string[] = [];
  for (const input of PRICE_INPUTS) {
    const r = readings[input];
    if (!r.ok) continue;
    const shown = formatStatusDecimal(Decimal.parse(r.decimal), PRICE_PLACES);
    if (shown !== undefined) prices[input] = shown;
    let text = `${input} ${r.decimal} from ${r.source}`;
    if (r.warning) {
      refusals.push({
        input,
        source: r.source,
        code: r.warning.code,
        reason: r.warning.reason,
        at: r.warning.at,
        heldValue: r.decimal,
        heldReadAt: r.readAt,
        heldUntil: r.expiresAt,
      });
      text += ` (holding the value read at ${rfc3339(r.readAt)}: latest refresh refused: ${r.warning.reason})`;
    }
    described.push(text);
  }
  const known = inputsKnown(PRICE_INPUTS.map((i) => [i, readings[i]] as [string, PriceReading]));
  if (!known.known) {
    const bad = readings[known.input as PriceInput];
    const source = bad.ok ? '' : ` from ${bad.source}`;
    const reason = bad.ok ? known.message : bad.reason;
    return {
      known: false,
      reason: known.code,
      message: `${known.input}${source}: ${reason}`,
      prices,
      refusals,
    };
  }
  for (const input of PRICE_INPUTS) {
    const r = readings[input];
    if (r.ok && prices[input] === undefined) {
      const message = `${input} ${r.decimal} from ${r.source} is too large to report`;
      return { known: false, reason: 'OutOfRange', message, prices, refusals };
    }
  }
  const revenue = readings.revenueUsdPerMhsDay as Extract<PriceReading, { ok: true }>;
  const power = readings.electricityUsdPerKwh as Extract<PriceReading, { ok: true }>;
  const yields: ProductYield[] = [];
  for (const profile of spec.gpuProfiles) {
    let exact: Decimal;
    try {
      exact = miningYieldExact(profile, spec.poolFeePercent, revenue.decimal, power.decimal);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return {
        known: false,
        reason: 'InvalidSpec',
        message: `gpuProfiles ${profile.product}: ${why}`,
        prices,
        refusals,
      };
    }
    const shown = formatStatusDecimal(exact, YIELD_PLACES);
    if (shown === undefined) {
      return {
        known: false,
        reason: 'OutOfRange',
        message: `yield of ${profile.product} (${exact.toFixed(2)} USD per GPU-hour) is too large to report`,
        prices,
        refusals,
      };
    }
    yields.push({ product: profile.product, usdPerGpuHour: shown });
  }
  return { known: true, reason: 'PricesKnown', message: described.join('; '), yields, prices, refusals };
}

/** MiningPool status as the pool reconciler writes it (the API's shape, conditions without times yet). */
export interface PoolStatus {
  observedGeneration?: number | undefined;
  yields?: ProductYield[] | undefined;
  revenueUsdPerMhsDay?: string | undefined;
  electricityUsdPerKwh?: string | undefined;
  inputsReadTime?: string | undefined;
  miningNodes?: number | undefined;
  miningGpus?: number | undefined;
  conditions?: Condition[] | undefined;
}

export interface MiningCounts {
  nodes: number;
  gpus: number;
}

export interface PoolStatusInput {
  generation: number | undefined;
  outcome: YieldOutcome;
  readings: PoolReadings;
  /** The status on the server now (its inputsReadTime is kept when nothing was read since). */
  previous: PoolStatus | undefined;
  counts: MiningCounts;
  now: Date;
}

/**
 * The status to write. Yields are left out while unknown (a stale figure must not look current);
 * inputsReadTime is the oldest read time of the inputs that expire (HTTP), or for inputs that never
 * expire (value, ConfigMap) the time their values last changed, so an unchanged pool writes nothing.
 */
export function buildPoolStatus(input: PoolStatusInput): PoolStatus {
  const { outcome, previous, generation } = input;
  return {
    observedGeneration: generation,
    yields: outcome.known ? outcome.yields : undefined,
    revenueUsdPerMhsDay: outcome.prices.revenueUsdPerMhsDay,
    electricityUsdPerKwh: outcome.prices.electricityUsdPerKwh,
    inputsReadTime: inputsReadTime(input),
    miningNodes: input.counts.nodes,
    miningGpus: input.counts.gpus,
    conditions: [readyCondition(input.readings, generation), yieldCondition(outcome, generation)],
  };

  function inputsReadTime({ readings, now }: PoolStatusInput): string | undefined {
    const expiring = PRICE_INPUTS.map((i) => readings[i]).filter(
      (r): r is Extract<PriceReading, { ok: true }> => r.ok && r.expiresAt !== undefined,
    );
    if (expiring.length > 0) return rfc3339(new Date(Math.min(...expiring.map((r) => r.readAt.getTime()))));
    if (!outcome.known) return previous?.inputsReadTime;
    const unchanged =
      previous?.revenueUsdPerMhsDay === outcome.prices.revenueUsdPerMhsDay &&
      previous?.electricityUsdPerKwh === outcome.prices.electricityUsdPerKwh;
    return unchanged && previous?.inputsReadTime ? previous.inputsReadTime : rfc3339(now);
  }
}

/** Ready: the spec can be used (an unusable price source spec is the one thing the API cannot catch). */
export function readyCondition(readings: PoolReadings, generation: number | undefined): Condition {
  for (const input of PRICE_INPUTS) {
    const r = readings[input];
    if (!r.ok && r.code === 'InvalidSource') {
      return {
        type: 'Ready',
        status: 'False',
        reason: 'InvalidPriceSource',
        message: `${input}: ${r.reason}`,
        observedGeneration: generation,
      };
    }
  }
  return {
    type: 'Ready',
    status: 'True',
    reason: 'SpecValid',
    message: 'the spec is usable: miners can be started on the nodes this pool selects',
    observedGeneration: generation,
  };
}

export function yieldCondition(outcome: YieldOutcome, generation: number | undefined): Condition {
  return {
    type: 'YieldKnown',
    status: outcome.known ? 'True' : 'False',
    reason: outcome.reason,
    message: outcome.message,
    observedGeneration: generation,
  };
}

/** Status of a pool whose object does not parse: nothing can be computed, both conditions say why. */
export function invalidSpecStatus(
  message: string,
  generation: number | undefined,
  previous: PoolStatus | undefined,
  counts: MiningCounts,
): PoolStatus {
  const condition = (type: string): Condition => ({
    type,
    status: 'False',
    reason: 'InvalidSpec',
    message,
    observedGeneration: generation,
  });
  return {
    observedGeneration: generation,
    inputsReadTime: previous?.inputsReadTime,
    miningNodes: counts.nodes,
    miningGpus: counts.gpus,
    conditions: [condition('Ready'), condition('YieldKnown')],
  };
}

/** What the reconciler last reported about YieldKnown, to tell a change from a repeat. */
export interface YieldState {
  status: string;
  reason?: string | undefined;
}

export interface PoolEvent {
  type: 'Normal' | 'Warning';
  reason: 'YieldUnknown' | 'YieldKnown';
  note: string;
}

/**
 * Warning YieldUnknown when the yield turns unknown (or stays unknown for a new reason, or a new pool starts
 * unknown); Normal YieldKnown when it comes back. Nothing while it stays the same.
 */
export function yieldEvent(
  previous: YieldState | undefined,
  next: YieldState & { message: string },
): PoolEvent | undefined {
  if (next.status === 'False') {
    if (previous?.status === 'False' && previous.reason === next.reason) return undefined;
    return { type: 'Warning', reason: 'YieldUnknown', note: `yield unknown: ${next.message}` };
  }
  if (next.status === 'True' && previous?.status === 'False') {
    return { type: 'Normal', reason: 'YieldKnown', note: `yield known again: ${next.message}` };
  }
  return undefined;
}

/** The note of a PriceRefused Event: the source's reason and what is held until when. */
export function refusalNote(r: PriceRefusal): string {
  const until = r.heldUntil ? ` until ${rfc3339(r.heldUntil)}` : '';
  return `${r.input} from ${r.source}: ${r.reason}; keeping the last good value ${r.heldValue} read at ${rfc3339(r.heldReadAt)}${until}`;
}

/** Something with a refresh time (a PriceSource). */
export interface Refreshing {
  nextRefreshAt(): Date | undefined;
}

/**
 * Milliseconds until the pool must be looked at again: the earliest next refresh of a source or expiry of a
 * held value, strictly after now; undefined when nothing is timed (value and ConfigMap sources are event
 * driven).
 */
export function nextCheckMs(
  sources: readonly Refreshing[],
  readings: readonly PriceReading[],
  nowMs: number,
): number | undefined {
  const times: number[] = [];
  for (const s of sources) {
    const t = s.nextRefreshAt()?.getTime();
    if (t !== undefined) times.push(t);
  }
  // A value is still good at exactly expiresAt (inclusive); it is stale one millisecond later.
  for (const r of readings) if (r.ok && r.expiresAt) times.push(r.expiresAt.getTime() + 1);
  const future = times.filter((t) => t > nowMs);
  if (future.length === 0) return undefined;
  return Math.max(1, Math.min(...future) - nowMs);
}

/**
 * The last good value of one input as the status records it, for a price source that starts afresh (the
 * operator restarted, or another replica took over). Only from a status computed for the current generation
 * (the same spec, so the same source); read at `inputsReadTime`, the oldest read time of the expiring inputs,
 * so a restored value never outlives its maxAgeSeconds.
 */
export function lastGoodOf(
  status: PoolStatus | undefined,
  generation: number | undefined,
  input: PriceInput,
): LastGood | undefined {
  if (!status || (generation !== undefined && status.observedGeneration !== generation)) return undefined;
  const decimal = status[input];
  const readMs = status.inputsReadTime ? Date.parse(status.inputsReadTime) : NaN;
  if (decimal === undefined || Number.isNaN(readMs)) return undefined;
  return { decimal, readAt: new Date(readMs) };
}
