import { formatRate } from '../economics/money.js';

/** Small text helpers so every reason reads the same way to a person. */

export const usd = (rate: number): string => formatRate(rate);

export function duration(ms: number): string {
  const minutes = Math.max(0, Math.ceil(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

export function seconds(s: number): string {
  return duration(s * 1000);
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "a, b and 3 more": short lists for messages that end up in Events. */
export function list(items: readonly string[], max = 3): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
