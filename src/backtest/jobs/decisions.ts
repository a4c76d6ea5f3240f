import { closeSync, openSync, writeSync } from 'node:fs';
import type { JobsDetail } from './run.js';

/**
 * rigshift's decisions with a job trace: `time,node,gpu_product,mode,gpus,job,bid_usd_per_gpu_hour`, one row
 * per node, step and use of its GPUs (mining, idle, or training for one job). The first four columns are those
 * of the plain backtest. To recompute the revenue: on each node, the GPUs of a (mode, job) beyond the count it
 * had the step before are the ones that changed and lose the first switching seconds.
 */
export function writeJobDecisions(path: string, detail: JobsDetail): number {
  const { market, world, records } = detail;
  const fd = openSync(path, 'w');
  let rows = 0;
  try {
    let chunk = 'time,node,gpu_product,mode,gpus,job,bid_usd_per_gpu_hour\n';
    for (const r of records) {
      const f = world.fleet[r.node]!;
      const pm = market.products[f.product]!;
      // Job-trace backtests run on aligned products: union step t is step t of every series.
      const time = pm.series.times[r.t];
      const head = `${time},${f.name},${pm.series.product}`;
      if (r.mining > 0) chunk += `${head},mining,${r.mining},,\n`;
      if (r.idle > 0) chunk += `${head},idle,${r.idle},,\n`;
      for (const [j, g] of r.jobs) {
        const spec = world.jobs[j]!.spec;
        chunk += `${head},training,${g},${spec.name},${spec.bid}\n`;
      }
      rows++;
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
