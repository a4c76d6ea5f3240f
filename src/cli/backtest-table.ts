import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { loadFleetPolicy, loadMiningPool } from '../backtest/manifests.js';
import { runBacktest } from '../backtest/run.js';
import { parseTrace } from '../backtest/trace.js';
import { parseJobTrace } from '../backtest/jobs/trace.js';
import { runJobsBacktest } from '../backtest/jobs/run.js';

/**
 * The README's backtest table: every market trace of the data set, alone and with its committed job trace,
 * and job traces built from other windows of the Philly trace and other seeds (`tools/make_jobs.py`), so that
 * no policy is judged on one trace.
 */

interface Row {
  market: string;
  nodes: number;
  /** A committed job trace under data/jobs/, or one built by make_jobs.py. */
  jobs?: { file: string } | { startDay: number; seed: number; fleetGpus: number };
}

export const TABLE_ROWS: readonly Row[] = [
  { market: 'etc-ercot-2023q3-rtx4090', nodes: 4 },
  { market: 'eth-belgium-2022q1-rtx3090', nodes: 4 },
  { market: 'eth-belgium-2022q2-mixed', nodes: 4 },
  {
    market: 'etc-ercot-2023q3-rtx4090',
    nodes: 4,
    jobs: { file: 'philly-on-etc-ercot-2023q3-rtx4090' },
  },
  { market: 'etc-ercot-2023q3-rtx4090', nodes: 4, jobs: { startDay: 45, seed: 11, fleetGpus: 32 } },
  { market: 'etc-ercot-2023q3-rtx4090', nodes: 4, jobs: { startDay: 75, seed: 5, fleetGpus: 32 } },
  { market: 'eth-belgium-2022q1-rtx3090', nodes: 4, jobs: { startDay: 20, seed: 7, fleetGpus: 32 } },
  { market: 'eth-belgium-2022q1-rtx3090', nodes: 4, jobs: { startDay: 50, seed: 3, fleetGpus: 32 } },
  {
    market: 'eth-belgium-2022q2-mixed',
    nodes: 3,
    jobs: { file: 'philly-on-eth-belgium-2022q2-mixed' },
  },
  { market: 'eth-belgium-2022q2-mixed', nodes: 3, jobs: { startDay: 30, seed: 13, fleetGpus: 48 } },
  { market: 'eth-belgium-2022q2-mixed', nodes: 3, jobs: { startDay: 60, seed: 21, fleetGpus: 48 } },
];

const usd = (n: number) => n.toFixed(2);
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(4) : 'n/a');

export function registerBacktestTable(program: Command): void {
  program
    .command('backtest-table')
    .description(
      'Print the README backtest table: every trace of the data set, committed and built job traces (slow: minutes)',
    )
    .requiredOption('--data <dir>', 'the shared data set (traces/, jobs/, src/jobs_philly.csv)')
    .option('--tools <dir>', 'where make_jobs.py is (default: <data>/../tools)')
    .option('--pool <file>', 'MiningPool manifest', 'deploy/examples/miningpool-etc.yaml')
    .option('--policy <file>', 'FleetPolicy manifest', 'deploy/examples/fleetpolicy-default.yaml')
    .action(async (opts: { data: string; tools?: string; pool: string; policy: string }) => {
      const pool = loadMiningPool(opts.pool);
      const { policy } = loadFleetPolicy(opts.policy);
      const tools = opts.tools ?? join(opts.data, '..', 'tools');
      const built = mkdtempSync(join(tmpdir(), 'rigshift-jobs-'));
      const lines = [
        '| market trace               | job trace                          | nodes per product | rigshift USD | greedy USD |  bound USD | rigshift / bound | rigshift / greedy | bound if stopped jobs left ³ |',
        '| -------------------------- | ---------------------------------- | ----------------- | -----------: | ---------: | ---------: | ---------------: | ----------------: | ---------------------------: |',
      ];
      try {
        for (const row of TABLE_ROWS) {
          const marketFile = join(opts.data, 'traces', `${row.market}.csv`);
          const trace = parseTrace(readFileSync(marketFile, 'utf8'), basename(marketFile));
          const shape = { nodesPerProduct: row.nodes, gpusPerNode: 8 };
          let cells: string[];
          if (!row.jobs) {
            const r = runBacktest(trace, pool, policy, shape).report;
            const rig = r.strategies.rigshift.revenueUsd;
            const thr = r.strategies.threshold.revenueUsd;
            const pf = r.strategies.perfectForesight.revenueUsd;
            cells = [
              'none (rental market)',
              usd(rig),
              `${usd(thr)} ¹`,
              `${usd(pf)} ²`,
              ratio(rig, pf),
              ratio(rig, thr),
              '',
            ];
          } else {
            let jobsFile: string;
            let label: string;
            if ('file' in row.jobs) {
              jobsFile = join(opts.data, 'jobs', `${row.jobs.file}.csv`);
              label = row.jobs.file;
            } else {
              const j = row.jobs;
              jobsFile = join(built, `${row.market}-d${j.startDay}-s${j.seed}.csv`);
              execFileSync('python3', [
                join(tools, 'make_jobs.py'),
                marketFile,
                join(opts.data, 'src', 'jobs_philly.csv'),
                jobsFile,
                String(j.startDay),
                String(j.fleetGpus),
                String(j.seed),
              ]);
              label = `built: day ${j.startDay}, seed ${j.seed}, ${j.fleetGpus} GPUs`;
            }
            const jobs = parseJobTrace(readFileSync(jobsFile, 'utf8'), basename(jobsFile));
            const r = (await runJobsBacktest(trace, jobs, pool, policy, shape)).report;
            const rig = r.strategies.rigshift.revenueUsd;
            const greedy = r.strategies.greedy.revenueUsd;
            const bound = r.strategies.perfectForesight.revenueUsd;
            cells = [
              label,
              usd(rig),
              usd(greedy),
              usd(bound),
              ratio(rig, bound),
              ratio(rig, greedy),
              usd(r.lp.withoutResumeUsd),
            ];
          }
          const line = [row.market, cells[0], String(row.nodes), ...cells.slice(1)];
          lines.push(`| ${line.join(' | ')} |`);
          process.stderr.write(`${lines[lines.length - 1]}\n`);
        }
      } finally {
        rmSync(built, { recursive: true, force: true });
      }
      console.log(lines.join('\n'));
    });
}
