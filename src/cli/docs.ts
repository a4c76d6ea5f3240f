import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { CRD_REFERENCE_PATH, checkCrdReference, generateCrdReference } from '../api/docs.js';

export function registerDocs(program: Command): void {
  program
    .command('docs')
    .description(
      `Generate the CRD reference (${CRD_REFERENCE_PATH}) from the API schemas' descriptions, or check ` +
        'that the committed one is up to date',
    )
    .option('--out <file>', 'write (or check) this file instead', CRD_REFERENCE_PATH)
    .option('--check', 'do not write; exit 1 when the file differs from the generator output')
    .action((opts: { out: string; check?: boolean }) => {
      const content = generateCrdReference();
      if (opts.check) {
        const problems = checkCrdReference(opts.out, content);
        for (const p of problems) console.error(p);
        if (problems.length > 0) {
          console.error('The CRD reference is stale: run `npm run docs` and commit the result.');
          process.exitCode = 1;
        } else {
          console.error(`CRD reference up to date in ${opts.out}`);
        }
        return;
      }
      mkdirSync(dirname(opts.out), { recursive: true });
      writeFileSync(opts.out, content);
      console.error(`wrote ${opts.out}`);
    });
}
