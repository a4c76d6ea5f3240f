#!/usr/bin/env node
// kubectl plugin: `kubectl rigshift status|queue|quote|why|suspend|resume` (kubectl finds kubectl-rigshift on PATH).
import { buildCtl } from '../dist/cli/ctl/index.js';

buildCtl('kubectl rigshift')
  .parseAsync(process.argv)
  .catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
