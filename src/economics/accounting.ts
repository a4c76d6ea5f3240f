/**
 * The backtest's binding accounting (data/README.md): a node of G GPUs in one mode for a step of Δ hours
 * earns G × Δ × rate, and loses the first S seconds of the step when its mode changed since the step before.
 */

/** Share of a step still earned after a switch: 1 − min(1, S / 3600 / Δ). */
export function switchFactor(switchingSeconds: number, stepHours: number): number {
  if (stepHours <= 0) return 0;
  return 1 - Math.min(1, switchingSeconds / 3600 / stepHours);
}

/** What `gpus` GPUs earn over one step at `rate` USD per GPU-hour. */
export function stepEarnings(
  gpus: number,
  stepHours: number,
  rate: number,
  switched: boolean,
  switchingSeconds: number,
): number {
  const earned = gpus * stepHours * rate;
  return switched ? earned * switchFactor(switchingSeconds, stepHours) : earned;
}
