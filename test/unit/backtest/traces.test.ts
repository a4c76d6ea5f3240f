import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { writeDecisions } from '../../../src/backtest/decisions.js';
import { loadFleetPolicy, loadMiningPool } from '../../../src/backtest/manifests.js';
import { runBacktest } from '../../../src/backtest/run.js';
import { parseTrace } from '../../../src/backtest/trace.js';
import { cents, exactRevenue, readRows, type ExactProfile } from './exact.js';
import { EXAMPLE_POLICY, EXAMPLE_POOL, TRACES } from './fixtures.js';

const TRACE_FILES = [
  'eth-belgium-2022q1-rtx3090.csv',
  'eth-belgium-2022q2-mixed.csv',
  'etc-ercot-2023q3-rtx4090.csv',
];

describe('backtest on the real traces with the example manifests', () => {
  const pool = loadMiningPool(EXAMPLE_POOL);
  const { policy } = loadFleetPolicy(EXAMPLE_POLICY);
  const spec = (
    load(readFileSync(EXAMPLE_POOL, 'utf8')) as {
      spec: { gpuProfiles: (ExactProfile & { product: string })[]; poolFeePercent: string };
    }
  ).spec;
  const profiles = Object.fromEntries(spec.gpuProfiles.map((p) => [p.product, p]));

  it.each(TRACE_FILES)(
    '%s: capture ratio in [0, 1], nothing beats perfect foresight, decisions recompute',
    (file) => {
      const csv = readFileSync(join(TRACES, file), 'utf8');
      const d = runBacktest(parseTrace(csv), pool, policy, { nodesPerProduct: 2, gpusPerNode: 8 });
      const r = d.report;
      expect(r.captureRatio).not.toBeNull();
      expect(r.captureRatio!).toBeGreaterThanOrEqual(0);
      expect(r.captureRatio!).toBeLessThanOrEqual(1);
      for (const s of Object.values(r.strategies))
        expect(s.revenueUsd).toBeLessThanOrEqual(r.strategies.perfectForesight.revenueUsd);
      expect(Object.keys(r).sort()).toEqual(['captureRatio', 'seconds', 'steps', 'strategies']);
      expect(Object.keys(r.strategies).sort()).toEqual([
        'alwaysMine',
        'alwaysRent',
        'perfectForesight',
        'rigshift',
        'threshold',
      ]);

      // The decisions CSV alone (with the trace and the manifests) gives back rigshift's revenue.
      const dir = mkdtempSync(join(tmpdir(), 'rigshift-decisions-'));
      try {
        const out = join(dir, 'decisions.csv');
        const rows = writeDecisions(out, d.market, d.rigshift);
        const lines = readFileSync(out, 'utf8').trim().split('\n');
        expect(lines[0]).toBe('time,node,gpu_product,mode');
        expect(lines.length - 1).toBe(rows);
        const traceTimes = new Set(readRows(csv).map((x) => x.time));
        const byNode = new Map<string, { product: string; modes: string[] }>();
        for (const line of lines.slice(1)) {
          const [time, node, product, mode] = line.split(',') as [string, string, string, string];
          expect(traceTimes.has(time)).toBe(true);
          const entry = byNode.get(node) ?? { product, modes: [] };
          entry.modes.push(mode);
          byNode.set(node, entry);
        }
        expect(byNode.size).toBe(2 * d.market.products.length);
        const exact = exactRevenue(
          readRows(csv),
          byNode,
          profiles,
          spec.poolFeePercent,
          8,
          policy.switchingSeconds,
        );
        expect(cents(exact)).toBe(r.strategies.rigshift.revenueUsd);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
