// The chart starts the operator with `rigshift run` and flags: every flag it passes must be one `run` accepts.
// The second test is skipped (and reported as skipped) while no `run` subcommand is registered.
import { expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../../../src/cli/index.js';

const template = readFileSync(
  join(process.cwd(), 'helm', 'rigshift', 'templates', 'deployment.yaml'),
  'utf8',
);
const flags = [...template.matchAll(/^\s*- (?:\{\{ printf ")?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!);
const run = buildProgram().commands.find((c) => c.name() === 'run');

it('passes the flags of the operator design to rigshift run', () => {
  expect(flags.sort()).toEqual(
    [
      '--identity',
      '--in-cluster',
      '--job-grants',
      '--leader-elect',
      '--leader-election-id',
      '--leader-election-namespace',
      '--log-level',
      '--metrics-address',
      '--metrics-auth',
      '--metrics-cert-file',
      '--metrics-key-file',
      '--metrics-job-bids',
      '--price-allowed-hosts',
      '--price-allow-http-hosts',
      '--price-allow-private-hosts',
      '--pool-namespace',
      '--node-selector',
      '--namespace',
    ].sort(),
  );
});

(run ? it : it.skip)('passes only flags that `rigshift run` accepts', () => {
  const known = new Set(run!.options.map((o) => o.long));
  expect(flags.filter((f) => !known.has(f))).toEqual([]);
});
