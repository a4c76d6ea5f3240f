import { resolve } from 'node:path';
import type { Command } from 'commander';
import { runChaos, type ChaosReport } from '../chaos/run.js';

const count = (what: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${what} must be an integer ≥ ${min}, got ${v}`);
  return n;
};

export function registerChaos(program: Command): void {
  program
    .command('chaos')
    .description(
      'Run the operator on a local farm under faults (SIGKILLs, a second replica, API server restarts, a frozen ' +
        'watch) while jobs arrive and prices move; then check that the farm converged',
    )
    .option('--seed <n>', 'seed of the fault plan, the job stream and the prices', count('--seed', 0), 1)
    .option('--kills <n>', 'operator SIGKILLs at random instants', count('--kills', 0), 50)
    .option('--duration <s>', 'seconds of chaos before the quiet period', count('--duration', 10), 600)
    .option('--quiet <s>', 'longest quiet period to converge in, seconds', count('--quiet', 10), 180)
    .option('--nodes <n>', 'GPU nodes (half RTX 3090, half RTX 4090)', count('--nodes', 2), 20)
    .option('--dir <dir>', 'state folder', '.rigshift/chaos')
    .option('--json', 'print the report as one JSON object', false)
    .option('--keep', 'leave the cluster running at the end, for inspection', false)
    .action(
      async (o: {
        seed: number;
        kills: number;
        duration: number;
        quiet: number;
        nodes: number;
        dir: string;
        json: boolean;
        keep: boolean;
      }) => {
        const report = await runChaos({
          seed: o.seed,
          kills: o.kills,
          durationSeconds: o.duration,
          quietSeconds: o.quiet,
          nodes: o.nodes,
          dir: resolve(o.dir),
          keep: o.keep,
          log: (l) => process.stderr.write(`rigshift ${l}\n`),
        });
        console.log(o.json ? JSON.stringify(report) : table(report));
        if (report.violations.length > 0) process.exitCode = 1;
      },
    );
}

function table(r: ChaosReport): string {
  const f = r.faults;
  const c = r.convergeSeconds;
  const lines = [
    `chaos run, seed ${r.seed}: ${r.durationSeconds} s of faults on ${r.nodes} GPU nodes (${r.wallSeconds} s wall)`,
    `jobs submitted      ${r.jobsSubmitted}  (${Object.entries(r.jobsByState)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
    `operator SIGKILLs   ${f.kills} (${f.killsSurvived} converged after)`,
    `API server restarts ${f.apiServerRestarts}`,
    `watch freezes       ${f.watchFreezes}`,
    `two replicas for    ${f.secondReplicaSeconds} s`,
    `converge after a fault: p50 ${c.p50} s, p99 ${c.p99} s, max ${c.max} s`,
    `quiet period converged in ${r.quietConvergeSeconds ?? 'never'} s`,
    `invariant violations ${r.violations.length}`,
    ...r.violations.map((v) => `  ${v.rule} ${v.object}: ${v.detail}`),
  ];
  return lines.join('\n');
}
