import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { renderChart, fleetSeries } from '../backtest/chart.js';
import { writeDecisions } from '../backtest/decisions.js';
import { loadFleetPolicy, loadMiningPool } from '../backtest/manifests.js';
import { runBacktest, type BacktestReport } from '../backtest/run.js';
import { parseTrace } from '../backtest/trace.js';
import { parseJobTrace, withBigMemoryJobs } from '../backtest/jobs/trace.js';
import { gpuMemoryOf } from '../backtest/replay.js';
import { runJobsBacktest, type JobsReport } from '../backtest/jobs/run.js';
import { writeJobDecisions } from '../backtest/jobs/decisions.js';
import { formatUsd } from '../economics/money.js';
import { seconds } from '../planner/reasons.js';
import type { PlannerPolicy } from '../planner/index.js';

interface Options {
  trace: string;
  pool: string;
  policy: string;
  nodes: number;
  gpusPerNode: number;
  json?: boolean;
  decisions?: string;
  chart?: string;
  jobs?: string;
  gpuMemory?: Record<string, number>;
  bigMemoryJobs?: number;
  placement: 'smallestMemory' | 'yield';
}

/** `PRODUCT=MiB,PRODUCT=MiB`: GPU memory of each product's nodes. */
function memoryList(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\d{1,7})\s*$/.exec(part);
    if (!m?.[1] || !m[2] || Number(m[2]) < 1)
      throw new InvalidArgumentError(`'${part}' must be PRODUCT=MiB, e.g. NVIDIA-GeForce-RTX-3090=24576`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

function percent(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 100)
    throw new InvalidArgumentError('must be a percentage from 0 to 100');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new InvalidArgumentError('must be a whole number from 1 to 100000');
  return n;
}

/** A progress bar on stderr for long runs: redrawn in place on a terminal, a few lines otherwise. */
export function progressBar(label: string): {
  update: (done: number, total: number) => void;
  end: () => void;
} {
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  let shown = false;
  let lastDraw = 0;
  let lastTenth = -1;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - started < 700 && done < total) return; // short runs stay quiet
      const frac = total > 0 ? done / total : 1;
      if (tty) {
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        const width = 30;
        const filled = Math.round(frac * width);
        process.stderr.write(
          `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(frac * 100)}% ${done}/${total}`,
        );
        shown = true;
      } else {
        const tenth = Math.floor(frac * 10);
        if (tenth === lastTenth) return;
        lastTenth = tenth;
        process.stderr.write(`${label}: ${tenth * 10}% (${done}/${total})\n`);
      }
    },
    end() {
      if (tty && shown) process.stderr.write('\n');
      shown = false;
    },
  };
}

function describePolicy(name: string, p: PlannerPolicy): string {
  return (
    `policy ${name}: hysteresis ${p.hysteresisPercent}%, dwell ${seconds(p.minDwellSeconds)}, switch ${seconds(p.switchingSeconds)}, ` +
    `drains ${p.maxConcurrentDrains}, idle ${p.allowIdle ? 'allowed' : 'not allowed'}` +
    (p.floorRentalUsdPerGpuHour > 0 ? `, floor ${p.floorRentalUsdPerGpuHour}` : '') +
    (p.placement === 'yield' ? ', placement by yield only' : '')
  );
}

function table(report: BacktestReport | JobsReport, withJobs: boolean): string {
  const pf = report.strategies.perfectForesight.revenueUsd;
  const rows: string[][] = [
    [
      'strategy',
      'revenue USD',
      'switches',
      'of perfect foresight',
      ...(withJobs ? ['admitted', 'refused', 'preempted', 'expired'] : []),
    ],
  ];
  for (const [name, s] of Object.entries(report.strategies) as [
    string,
    { revenueUsd: number; switches: number; jobs?: Record<string, number> },
  ][]) {
    rows.push([
      name,
      formatUsd(s.revenueUsd),
      String(s.switches),
      pf > 0 ? `${((s.revenueUsd / pf) * 100).toFixed(2)}%` : 'n/a',
      ...(withJobs
        ? ['admitted', 'refused', 'preempted', 'expired'].map((k) => (s.jobs ? String(s.jobs[k] ?? 0) : ''))
        : []),
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   '),
    )
    .join('\n');
}

/**
 * The LP solver's log on stderr, once a solve has run for two seconds (short solves stay quiet): the bound of
 * a long job trace can take minutes.
 */
function solverLog(clearBar: () => void): (line: string) => void {
  let started = 0;
  let held: string[] | null = [];
  return (line) => {
    if (started === 0) started = Date.now();
    if (held !== null) {
      held.push(line);
      if (Date.now() - started < 2000) return;
      clearBar();
      for (const l of held) process.stderr.write(`LP bound: ${l}\n`);
      held = null;
      return;
    }
    process.stderr.write(`LP bound: ${line}\n`);
  };
}

export function registerBacktest(program: Command): void {
  program
    .command('backtest')
    .description(
      'Replay a market trace through the planner and compare with simple strategies and perfect foresight',
    )
    .requiredOption(
      '--trace <file>',
      'market trace CSV (time, gpu_product, rental, mining revenue, electricity)',
    )
    .requiredOption('--pool <file>', 'MiningPool manifest: GPU profiles and pool fee')
    .requiredOption(
      '--policy <file>',
      'FleetPolicy manifest: hysteresis, dwell, switching seconds, drains, idle',
    )
    .option('--nodes <n>', 'nodes per GPU product in the trace', positiveInt, 1)
    .option('--gpus-per-node <g>', 'GPUs per node', positiveInt, 8)
    .option('--json', 'print the report as JSON')
    .option('--decisions <file>', 'write rigshift decisions as CSV (time,node,gpu_product,mode)')
    .option('--chart <file>', 'write an SVG chart of prices, yields and fleet modes')
    .option('--jobs <file>', 'job trace CSV: replay real demand instead of an unlimited rental market')
    .option(
      '--gpu-memory <list>',
      'GPU memory per product in MiB, a mixed fleet: PRODUCT=MiB,... (default 24576 for every product)',
      memoryList,
    )
    .option(
      '--big-memory-jobs <percent>',
      'with --jobs: this share of the jobs that name no product (picked by a hash of their name) need the ' +
        'largest GPU memory of the fleet',
      percent,
    )
    .addOption(
      new Option(
        '--placement <order>',
        'which fitting nodes a job takes first (yield: the order before memory mattered)',
      )
        .choices(['smallestMemory', 'yield'])
        .default('smallestMemory'),
    )
    .action(async (opts: Options) => {
      const trace = parseTrace(readFileSync(opts.trace, 'utf8'), basename(opts.trace));
      const pool = loadMiningPool(opts.pool);
      const loaded = loadFleetPolicy(opts.policy);
      const name = loaded.name;
      const policy: PlannerPolicy = { ...loaded.policy, placement: opts.placement };
      const shape = {
        nodesPerProduct: opts.nodes,
        gpusPerNode: opts.gpusPerNode,
        ...(opts.gpuMemory ? { gpuMemoryMiB: opts.gpuMemory } : {}),
      };
      const unknown = Object.keys(opts.gpuMemory ?? {}).filter(
        (p) => !trace.series.some((s) => s.product === p),
      );
      if (unknown.length > 0) {
        throw new InvalidArgumentError(
          `--gpu-memory names ${unknown.join(', ')}, not in the trace (${trace.series.map((s) => s.product).join(', ')})`,
        );
      }
      const bar = progressBar('rigshift backtest');
      if (opts.jobs) {
        let jobs = parseJobTrace(readFileSync(opts.jobs, 'utf8'), basename(opts.jobs));
        if (opts.bigMemoryJobs) {
          const biggest = Math.max(...trace.series.map((s) => gpuMemoryOf(shape, s.product)));
          jobs = withBigMemoryJobs(jobs, opts.bigMemoryJobs, biggest);
        }
        const result = await runJobsBacktest(trace, jobs, pool, policy, shape, {
          onProgress: bar.update,
          onLog: solverLog(bar.end),
          jobsName: basename(opts.jobs),
        });
        bar.end();
        if (opts.decisions) writeJobDecisions(opts.decisions, result);
        if (opts.chart) {
          writeFileSync(
            opts.chart,
            renderChart({
              title: `rigshift backtest: ${basename(opts.trace)} with jobs ${basename(opts.jobs)}`,
              subtitle: `${shape.nodesPerProduct} × ${shape.gpusPerNode}-GPU nodes per product; ${describePolicy(name, policy)}`,
              market: result.market,
              fleet: result.fleet,
            }),
          );
        }
        if (opts.json) console.log(JSON.stringify(result.report, null, 2));
        else {
          console.log(
            `${basename(opts.trace)} with ${basename(opts.jobs)}: ${result.report.steps} steps, ${describePolicy(name, policy)}`,
          );
          if (opts.gpuMemory || opts.bigMemoryJobs) {
            const mem = trace.series
              .map((s) => `${s.product} ${gpuMemoryOf(shape, s.product)} MiB`)
              .join(', ');
            const big = jobs.filter((j) => j.minGpuMemoryMiB !== undefined).length;
            console.log(`fleet GPU memory: ${mem}; ${big} of ${jobs.length} jobs need a minimum`);
          }
          console.log(table(result.report, true));
          console.log(
            `perfect foresight here is an upper bound: ${result.report.strategies.perfectForesight.bound}`,
          );
          console.log(
            `capture ratio ${result.report.captureRatio ?? 'n/a'} (rigshift / that bound), ${result.report.seconds} s ` +
              `(the LP: ${result.report.lp.columns} columns, ${result.report.lp.rows} rows, ${result.report.lp.seconds} s)`,
          );
          console.log(
            `the same LP if a stopped interruptible job left instead of resuming: ${formatUsd(result.report.lp.withoutResumeUsd)} USD ` +
              '(how much of the bound resuming paused work makes; not a bound: the replay resumes them)',
          );
        }
        return;
      }
      const detail = runBacktest(trace, pool, policy, shape, bar.update);
      bar.end();
      if (opts.decisions) writeDecisions(opts.decisions, detail.market, detail.rigshift);
      if (opts.chart) {
        writeFileSync(
          opts.chart,
          renderChart({
            title: `rigshift backtest: ${basename(opts.trace)}`,
            subtitle:
              `${shape.nodesPerProduct} × ${shape.gpusPerNode}-GPU nodes per product; ${describePolicy(name, policy)}; ` +
              `capture ${detail.report.captureRatio ?? 'n/a'}`,
            market: detail.market,
            fleet: fleetSeries(
              detail.market.timeline.length,
              detail.rigshift.nodes.length,
              shape.gpusPerNode,
              detail.rigshift.modes,
            ),
          }),
        );
      }
      if (opts.json) {
        console.log(JSON.stringify(detail.report, null, 2));
        return;
      }
      const r = detail.report;
      console.log(
        `${basename(opts.trace)}: ${r.steps} steps, ${trace.series.length} product${trace.series.length > 1 ? 's' : ''} × ` +
          `${shape.nodesPerProduct} node${shape.nodesPerProduct > 1 ? 's' : ''} × ${shape.gpusPerNode} GPUs; ${describePolicy(name, policy)}`,
      );
      console.log(table(r, false));
      console.log(`capture ratio ${r.captureRatio ?? 'n/a'} (rigshift / perfect foresight), ${r.seconds} s`);
    });
}
