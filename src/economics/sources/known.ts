import type { PriceProblem, PriceProblemCode, PriceReading } from './types.js';

export type InputsKnown =
  | {
      known: true;
      /** Condition reason. */
      code: 'PricesKnown';
      message: string;
      /** Inputs holding their last good value after a refused refresh: worth an Event, not a False condition. */
      warnings: Array<{ input: string } & PriceProblem>;
    }
  | { known: false; code: PriceProblemCode; message: string; input: string };

/**
 * Whether every price input of a pool is known, for the `YieldKnown` condition. Inputs are checked in the
 * order given; the first unknown one gives the reason (its code and `input: reason`).
 */
export function inputsKnown(
  inputs: Record<string, PriceReading> | ReadonlyArray<[string, PriceReading]>,
): InputsKnown {
  const list = Array.isArray(inputs) ? inputs : Object.entries(inputs);
  const warnings: Array<{ input: string } & PriceProblem> = [];
  const parts: string[] = [];
  for (const [input, reading] of list) {
    if (!reading.ok)
      return { known: false, code: reading.code, message: `${input}: ${reading.reason}`, input };
    if (reading.warning) warnings.push({ input, ...reading.warning });
    parts.push(`${input} ${reading.decimal}`);
  }
  return {
    known: true,
    code: 'PricesKnown',
    message: parts.length ? parts.join(', ') : 'no price inputs',
    warnings,
  };
}
