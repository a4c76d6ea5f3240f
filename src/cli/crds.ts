import type { Command } from 'commander';
import { CRD_DIRS, checkCrds, generateCrds, writeCrds } from '../api/crdgen.js';
import { checkChartFiles, writeChartFiles } from './chart-files.js';

export function registerCrds(program: Command): void {
  program
    .command('crds')
    .description(
      `Generate the CustomResourceDefinitions from the API schemas into ${CRD_DIRS.join(' and ')} ` +
        "(or --out) and the chart's copy of the Grafana dashboard, or check that the committed ones are up to date",
    )
    .option('--out <dir>', 'write (or check) only this directory')
    .option('--check', 'do not write; exit 1 when the files differ from the generator output')
    .action((opts: { out?: string; check?: boolean }) => {
      const dirs = opts.out ? [opts.out] : [...CRD_DIRS];
      const files = generateCrds();
      if (opts.check) {
        const problems = dirs.flatMap((d) => checkCrds(d, files));
        if (!opts.out) problems.push(...checkChartFiles(process.cwd()));
        for (const p of problems) console.error(p);
        if (problems.length > 0) {
          console.error('CRDs are stale: run `npm run crds` and commit the result.');
          process.exitCode = 1;
        } else {
          console.error(`CRDs up to date in ${dirs.join(', ')}`);
        }
        return;
      }
      for (const d of dirs) for (const p of writeCrds(d, files)) console.error(`wrote ${p}`);
      // The chart's copies of files kept elsewhere (the Grafana dashboard).
      if (!opts.out) for (const p of writeChartFiles(process.cwd())) console.error(`wrote ${p}`);
    });
}
