import type { PlannerPolicy } from './types.js';

export const DEFAULT_PAYBACK_SECONDS = 86_400;

/** The policy reduced to the numbers the rules use. */
export interface Rules {
  hysteresis: number;
  minDwellMs: number;
  switchingSeconds: number;
  /** Hours over which a switch must pay back its lost seconds. */
  horizonHours: number;
  /** Hours lost by a switch, capped at the horizon. */
  lostHours: number;
  allowIdle: boolean;
  floor: number;
  /** Jobs take the smallest GPU memory that fits first (within a placement class). */
  memoryFirst: boolean;
}

export function rulesOf(policy: PlannerPolicy): Rules {
  const horizonSeconds = Math.max(
    policy.minDwellSeconds,
    policy.paybackSeconds ?? DEFAULT_PAYBACK_SECONDS,
    1,
  );
  return {
    hysteresis: Math.max(0, policy.hysteresisPercent) / 100,
    minDwellMs: Math.max(0, policy.minDwellSeconds) * 1000,
    switchingSeconds: Math.max(0, policy.switchingSeconds),
    horizonHours: horizonSeconds / 3600,
    lostHours: Math.min(Math.max(0, policy.switchingSeconds), horizonSeconds) / 3600,
    allowIdle: policy.allowIdle,
    floor: policy.floorRentalUsdPerGpuHour,
    memoryFirst: policy.placement !== 'yield',
  };
}

/**
 * Gain per GPU over the horizon from switching `from` → `to` (USD per GPU-hour rates): the new mode earns
 * nothing for the switching seconds (a loss, or a saving when its rate is negative), the old mode would
 * have earned all along.
 */
export function switchGain(rules: Rules, from: number, to: number): number {
  return to * (rules.horizonHours - rules.lostHours) - from * rules.horizonHours;
}

/** The switching rule: a gain, net of the switching seconds, above the hysteresis share of what `from` earns. */
export function worthSwitching(rules: Rules, from: number, to: number): boolean {
  const gain = switchGain(rules, from, to);
  return gain > 0 && gain > rules.hysteresis * Math.abs(from) * rules.horizonHours;
}

/** Drains allowed at once: a count, or "N%" of the GPU nodes rounded down but at least one. */
export function drainLimit(value: number | string, nodeCount: number): number {
  if (typeof value === 'number') return Math.max(0, Math.floor(value));
  const text = value.trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (pct?.[1]) {
    if (nodeCount === 0) return 0;
    return Math.max(1, Math.floor((Number(pct[1]) / 100) * nodeCount));
  }
  if (/^\d+$/.test(text)) return Number(text);
  throw new SyntaxError(`maxConcurrentDrains must be a count or a percentage like "25%": '${value}'`);
}
