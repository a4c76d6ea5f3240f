import { Command } from 'commander';
import { registerLocal } from './local.js';
import { registerCrds } from './crds.js';
import { registerRun } from './run.js';
import { registerBenchOperator } from './bench-operator.js';
import { registerBenchCaches } from './bench-caches.js';
import { registerBenchScale } from './bench-scale/index.js';
import { registerBacktest } from './backtest.js';
import { registerBacktestTable } from './backtest-table.js';
import { registerBench } from './bench.js';
import { registerDemo } from './demo.js';
import { registerDocs } from './docs.js';
import { registerChaos } from './chaos.js';
import { registerCtl } from './ctl/index.js';

/** Builds the `rigshift` command tree. Each concern registers its own subcommands. */
export function buildProgram(): Command {
  const program = new Command('rigshift')
    .description('Move GPU nodes between crypto mining and rented AI training, whichever pays more.')
    .version('0.1.0')
    .showHelpAfterError();
  registerDemo(program);
  registerLocal(program);
  registerCrds(program);
  registerRun(program);
  registerBenchOperator(program);
  registerBenchCaches(program);
  registerBenchScale(program);
  registerBacktest(program);
  registerBacktestTable(program);
  registerBench(program);
  registerDocs(program);
  registerChaos(program);
  registerCtl(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
