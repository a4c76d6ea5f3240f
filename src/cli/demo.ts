import type { Command } from 'commander';
import { runDemo, type DemoOptions } from '../demo/run.js';

const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number, got ${v}`);
  return n;
};

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'Start a local cluster with a simulated GPU farm, run the operator, and replay a real market trace at an accelerated clock',
    )
    .option(
      '--trace <csv>',
      'market trace (default: the embedded ETH / Belgium 2022 Q2 trace, RTX 3090 and 4090)',
    )
    .option('--jobs <csv>', 'job trace (default: the one matching the trace, if any)')
    .option('--nodes <n>', 'nodes per GPU product', positive('--nodes'), 3)
    .option('--gpus-per-node <n>', 'GPUs per node', positive('--gpus-per-node'), 8)
    .option('--speed <hours>', 'market hours per real second', positive('--speed'), 1)
    .option(
      '--hours <n>',
      'stop after this many market hours (non-interactive runs, CI)',
      positive('--hours'),
    )
    .option(
      '--start <time>',
      'market time to start at, ISO 8601 (default: the trace start; June 2022 for the embedded trace)',
    )
    .option('--chart <svg>', 'where to write the chart (default .rigshift/demo/demo.svg)')
    .option('--dir <dir>', 'state folder', '.rigshift/demo')
    .option('--keep', 'leave the cluster running at the end', false)
    .action(async (o: Omit<DemoOptions, 'interactive' | 'log'>) => {
      const controller = new AbortController();
      const stop = (): void => {
        process.stderr.write('\nrigshift demo: stopping (cleaning up the cluster and the operator)\n');
        controller.abort();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const interactive = Boolean(process.stdout.isTTY) && o.hours === undefined;
      const summary = await runDemo(
        {
          ...o,
          nodes: Math.round(o.nodes),
          gpusPerNode: Math.round(o.gpusPerNode),
          hours: o.hours === undefined ? undefined : Math.round(o.hours),
          interactive,
          log: (l) => process.stderr.write(`rigshift demo: ${l}\n`),
        },
        controller.signal,
      );
      const d = summary.revenueUsd - summary.alwaysMineUsd;
      console.log(
        [
          `replayed ${summary.marketHours} market hours`,
          `revenue      $${summary.revenueUsd.toFixed(2)} (mining $${summary.byMode.mining.toFixed(2)}, training $${summary.byMode.training.toFixed(2)}, idle $${summary.byMode.idle.toFixed(2)})`,
          `always-mine  $${summary.alwaysMineUsd.toFixed(2)}  (${d >= 0 ? '+' : '-'}$${Math.abs(d).toFixed(2)})`,
          `node switches ${summary.switches}`,
          `jobs: ${summary.jobs.submitted} submitted, ${summary.jobs.started} started, ${summary.jobs.succeeded} succeeded, ${summary.jobs.failed} failed, ${summary.jobs.expired} left unserved, ${summary.jobs.running} still running, ${summary.jobs.queued} still queued`,
          ...summary.usage.map(
            (u) =>
              `billed (UsageRecord ${u.month}, real time): $${u.earnedUsd} for ${u.gpuHours} GPU-hours of ${u.jobs} jobs`,
          ),
          `chart: ${summary.chart}`,
        ].join('\n'),
      );
    });
}
