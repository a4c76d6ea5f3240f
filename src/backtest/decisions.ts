import { closeSync, openSync, writeSync } from 'node:fs';
import { MODE_NAMES, type Market } from './market.js';
import { NOT_AT_STEP, type PlannerRun } from './replay.js';

/**
 * The rigshift decisions as CSV: `time,node,gpu_product,mode`, one row per step of each node's product
 * series, `time` exactly as in the trace. Anyone can recompute the revenue from it and the trace.
 */
export function writeDecisions(path: string, market: Market, run: PlannerRun): number {
  const fd = openSync(path, 'w');
  let rows = 0;
  try {
    let chunk = 'time,node,gpu_product,mode\n';
    const N = run.nodes.length;
    const cursor = new Int32Array(market.products.length);
    for (let t = 0; t < market.timeline.length; t++) {
      const now = market.timeline[t] as number;
      const timeOf: (string | null)[] = market.products.map((pm, p) => {
        const k = cursor[p] as number;
        if (k < pm.series.startMs.length && pm.series.startMs[k] === now) {
          cursor[p] = k + 1;
          return pm.series.times[k] as string;
        }
        return null;
      });
      for (let i = 0; i < N; i++) {
        const mode = run.modes[t * N + i] as number;
        if (mode === NOT_AT_STEP) continue;
        const node = run.nodes[i] as PlannerRun['nodes'][number];
        const time = timeOf[node.product];
        const product = (market.products[node.product] as Market['products'][number]).series.product;
        chunk += `${time},${node.name},${product},${MODE_NAMES[mode as 0 | 1 | 2]}\n`;
        rows++;
      }
      if (chunk.length > 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  return rows;
}
