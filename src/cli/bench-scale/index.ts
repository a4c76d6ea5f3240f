import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { runningSvg, table } from './report.js';
import { benchScale } from './run.js';

/**
 * `rigshift bench-scale`: figures at farm scale on a local cluster of its own (kwok nodes), measured in one
 * run so that ratios are honest on a noisy machine: a price flip and a job burst switching many nodes at once,
 * gang throughput against the bare scheduler and Kueue, and what the operator process costs.
 */
export function registerBenchScale(program: Command): void {
  const int = (min: number) => (v: string) => {
    const n = Number.parseInt(v, 10);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`expected a whole number of at least ${min}, got ${v}`);
    return n;
  };
  program
    .command('bench-scale')
    .description(
      'Benchmark at farm scale on a throw-away local cluster: price flip and job burst latencies, API writes per ' +
        'node switch, gang throughput against the bare scheduler and Kueue, operator CPU, memory and planner time',
    )
    .option('--nodes <n>', 'kwok nodes (8 GPUs each, half RTX 3090, half RTX 4090)', int(4), 1000)
    .option('--flip <n>', 'nodes switched by the price flip and by the job burst', int(2), 200)
    .option('--jobs <n>', 'TrainingJobs of mixed shapes (1×1 to 4×8) in the gang burst', int(1), 2000)
    .option('--miner-grace <seconds>', "the miners' termination grace period", int(0), 1)
    .option('--node-workers <n>', "the operator's --node-workers (default: its own, 16)", int(1))
    .option('--job-workers <n>', "the operator's --job-workers (default: its own, 8)", int(1))
    .option('--steady-seconds <n>', 'window for the steady-state request rate', int(1), 30)
    .option('--timeout <seconds>', 'deadline of each wait', int(10), 1800)
    .option('--no-kueue', 'skip the Kueue comparison')
    .option(
      '--operator-log <file>',
      "keep the operator's log (at debug level: every API write it sends) in this file",
    )
    .option('--json', 'print one JSON object instead of the table')
    .option('--svg <file>', 'write a plot of pods Running over time (rigshift, bare, Kueue)')
    .action(
      async (o: {
        nodes: number;
        flip: number;
        jobs: number;
        minerGrace: number;
        nodeWorkers?: number;
        jobWorkers?: number;
        steadySeconds: number;
        timeout: number;
        kueue: boolean;
        json?: boolean;
        svg?: string;
        operatorLog?: string;
      }) => {
        const r = await benchScale({
          nodes: o.nodes,
          flip: o.flip,
          jobs: o.jobs,
          minerGraceSeconds: o.minerGrace,
          nodeWorkers: o.nodeWorkers,
          jobWorkers: o.jobWorkers,
          steadySeconds: o.steadySeconds,
          timeoutSeconds: o.timeout,
          kueue: o.kueue,
          operatorLog: o.operatorLog,
          progress: (line) => void process.stderr.write(`bench-scale: ${line}\n`),
        });
        if (o.svg) writeFileSync(o.svg, runningSvg(r));
        console.log(o.json ? JSON.stringify(r, null, 2) : table(r));
      },
    );
}
