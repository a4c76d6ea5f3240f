import { renderChart } from '../backtest/chart.js';
import type { Market } from '../backtest/market.js';

/** The backtest's chart over the replayed window, with the modes the cluster was actually in. */
export function demoChart(
  market: Market,
  fleet: { mining: Float64Array; training: Float64Array; idle: Float64Array },
  startStep: number,
  steps: number,
  title: string,
): string {
  const begin = market.timeline[startStep] as number;
  const end = market.timeline[Math.max(startStep, startStep + steps - 1)] as number;
  const products = market.products.map((p) => {
    let a0 = 0;
    while (a0 < p.series.startMs.length && (p.series.startMs[a0] as number) < begin) a0++;
    let n = a0;
    while (n < p.series.startMs.length && (p.series.startMs[n] as number) <= end) n++;
    const cut = <T extends Float64Array>(a: T): T => a.slice(a0, n) as T;
    return {
      ...p,
      series: {
        ...p.series,
        times: p.series.times.slice(a0, n),
        startMs: cut(p.series.startMs),
        hours: cut(p.series.hours),
        rental: cut(p.series.rental),
        revenue: cut(p.series.revenue),
        electricity: cut(p.series.electricity),
      },
      rate: [cut(p.rate[0]), cut(p.rate[1]), cut(p.rate[2])] as [Float64Array, Float64Array, Float64Array],
    };
  });
  const window: Market = {
    ...market,
    products,
    timeline: market.timeline.slice(startStep, startStep + steps),
  };
  return renderChart({
    title,
    subtitle: `${steps} market hours replayed on the local cluster; fleet modes as the operator set them`,
    market: window,
    fleet: {
      mining: fleet.mining.slice(0, steps),
      training: fleet.training.slice(0, steps),
      idle: fleet.idle.slice(0, steps),
    },
  });
}
