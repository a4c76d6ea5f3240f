import { switchFactor } from '../economics/accounting.js';
import { IDLE, MINING, TRAINING, type ModeCode, type ProductMarket } from './market.js';

/**
 * Strategies that need no planner, on one node of a product (every node of a product sees the same prices,
 * so a fleet earns nodes × this). Revenue per GPU; multiply by GPUs per node and nodes.
 */

export interface NodeRun {
  /** USD per GPU over the whole series. */
  revenuePerGpu: number;
  switches: number;
  modes: Uint8Array;
}

export function replayModes(pm: ProductMarket, modes: Uint8Array, switchingSeconds: number): NodeRun {
  const { hours } = pm.series;
  let prev: number = MINING;
  let total = 0;
  let switches = 0;
  for (let k = 0; k < modes.length; k++) {
    const m = modes[k] as ModeCode;
    const h = hours[k] as number;
    let earned = h * (pm.rate[m][k] as number);
    if (m !== prev) {
      earned *= switchFactor(switchingSeconds, h);
      switches++;
    }
    total += earned;
    prev = m;
  }
  return { revenuePerGpu: total, switches, modes };
}

export function alwaysMode(pm: ProductMarket, mode: ModeCode, switchingSeconds: number): NodeRun {
  return replayModes(pm, new Uint8Array(pm.series.hours.length).fill(mode), switchingSeconds);
}

/**
 * NiceHash-style: at every step, move to the best-paying mode when it pays at least `percent` more than the
 * current one; no dwell, no look at switching costs.
 */
export function thresholdRun(
  pm: ProductMarket,
  percent: number,
  allowIdle: boolean,
  switchingSeconds: number,
): NodeRun {
  const n = pm.series.hours.length;
  const modes = new Uint8Array(n);
  let cur: ModeCode = MINING;
  for (let k = 0; k < n; k++) {
    let best: ModeCode = MINING;
    if ((pm.rate[TRAINING][k] as number) > (pm.rate[best][k] as number)) best = TRAINING;
    if (allowIdle && (pm.rate[IDLE][k] as number) > (pm.rate[best][k] as number)) best = IDLE;
    const now = pm.rate[cur][k] as number;
    if (best !== cur && (pm.rate[best][k] as number) > now + (percent / 100) * Math.abs(now)) cur = best;
    modes[k] = cur;
  }
  return replayModes(pm, modes, switchingSeconds);
}

/**
 * Perfect foresight: the exact best sequence of modes under the accounting, by dynamic programming over
 * (step, mode) with the switch loss on every change; the node starts mining. Ties keep the lower mode code.
 */
export function perfectForesight(pm: ProductMarket, allowIdle: boolean, switchingSeconds: number): NodeRun {
  const n = pm.series.hours.length;
  const M = allowIdle ? 3 : 2;
  const from = new Uint8Array(n * 3);
  let value = [0, -Infinity, -Infinity];
  for (let k = 0; k < n; k++) {
    const h = pm.series.hours[k] as number;
    const f = switchFactor(switchingSeconds, h);
    const next = [-Infinity, -Infinity, -Infinity];
    for (let m = 0; m < M; m++) {
      const full = h * (pm.rate[m as ModeCode][k] as number);
      for (let p = 0; p < M; p++) {
        const v = value[p] as number;
        if (v === -Infinity) continue;
        const total = v + (p === m ? full : full * f);
        if (total > (next[m] as number)) {
          next[m] = total;
          from[k * 3 + m] = p;
        }
      }
    }
    value = next;
  }
  let best = 0;
  for (let m = 1; m < M; m++) if ((value[m] as number) > (value[best] as number)) best = m;
  const modes = new Uint8Array(n);
  let m = best;
  for (let k = n - 1; k >= 0; k--) {
    modes[k] = m;
    m = from[k * 3 + m] as number;
  }
  const run = replayModes(pm, modes, switchingSeconds);
  return { ...run, revenuePerGpu: value[best] as number };
}
