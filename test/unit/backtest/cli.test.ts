import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerBacktest } from '../../../src/cli/backtest.js';
import { EXAMPLE_POLICY, EXAMPLE_POOL, JOBS, TRACES } from './fixtures.js';

async function cli(args: string[]): Promise<string> {
  const program = new Command('rigshift').exitOverride();
  registerBacktest(program);
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    lines.push(a.join(' '));
  });
  try {
    await program.parseAsync(['node', 'rigshift', 'backtest', ...args]);
  } finally {
    spy.mockRestore();
  }
  return lines.join('\n');
}

describe('rigshift backtest (command)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rigshift-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const base = ['--pool', EXAMPLE_POOL, '--policy', EXAMPLE_POLICY];

  it('prints the JSON report in the agreed shape and writes decisions and a chart', async () => {
    const out = await cli([
      '--trace',
      join(TRACES, 'eth-belgium-2022q2-mixed.csv'),
      ...base,
      '--nodes',
      '2',
      '--gpus-per-node',
      '4',
      '--json',
      '--decisions',
      join(dir, 'd.csv'),
      '--chart',
      join(dir, 'c.svg'),
    ]);
    const report = JSON.parse(out) as Record<string, unknown> & {
      strategies: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(report)).toEqual(['strategies', 'captureRatio', 'steps', 'seconds']);
    expect(Object.keys(report.strategies)).toEqual([
      'rigshift',
      'alwaysMine',
      'alwaysRent',
      'threshold',
      'perfectForesight',
    ]);
    for (const s of Object.values(report.strategies))
      expect(Object.keys(s)).toEqual(['revenueUsd', 'switches']);
    expect(report.steps).toBe(1752);
    // 2 products × 2 nodes × 1752 steps, plus the header.
    expect(readFileSync(join(dir, 'd.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 2 * 2 * 1752);
    const svg = readFileSync(join(dir, 'c.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const text of [
      'RTX-3090 mining yield',
      'RTX-4090 rental net of power',
      'Electricity, USD per kWh',
      'Fleet GPUs by mode',
      'time (UTC)',
    ]) {
      expect(svg).toContain(text);
    }
  });

  it('prints a table a person can read', async () => {
    const out = await cli(['--trace', join(TRACES, 'eth-belgium-2022q1-rtx3090.csv'), ...base]);
    expect(out).toMatch(
      /^eth-belgium-2022q1-rtx3090.csv: 1752 steps, 1 product × 1 node × 8 GPUs; policy default: hysteresis 5%/,
    );
    expect(out).toMatch(/\nrigshift +\d+\.\d\d +0 +100\.00%/);
    expect(out).toMatch(/capture ratio 1 \(rigshift \/ perfect foresight\)/);
  });

  it('replays a job trace and reports job counts and the bound it used', async () => {
    // The first 300 jobs of the real job trace keep this quick.
    const jobs = join(dir, 'jobs.csv');
    const lines = readFileSync(join(JOBS, 'philly-on-etc-ercot-2023q3-rtx4090.csv'), 'utf8').split('\n');
    writeFileSync(jobs, lines.slice(0, 301).join('\n'));
    const out = await cli([
      '--trace',
      join(TRACES, 'etc-ercot-2023q3-rtx4090.csv'),
      ...base,
      '--nodes',
      '4',
      '--json',
      '--jobs',
      jobs,
    ]);
    const report = JSON.parse(out) as {
      strategies: Record<string, { revenueUsd: number; jobs?: Record<string, number>; bound?: string }>;
      captureRatio: number;
    };
    expect(Object.keys(report.strategies)).toEqual([
      'rigshift',
      'alwaysMine',
      'alwaysRent',
      'greedy',
      'threshold',
      'perfectForesight',
    ]);
    expect(Object.keys(report.strategies.rigshift!.jobs!)).toEqual([
      'admitted',
      'refused',
      'preempted',
      'expired',
    ]);
    expect(report.strategies.perfectForesight!.bound).toMatch(/^LP relaxation solved exactly/);
    expect(report.captureRatio).toBeGreaterThan(0);
    expect(report.captureRatio).toBeLessThanOrEqual(1);
  });

  it('says what is wrong with a bad file', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'time,gpu_product\n');
    await expect(cli(['--trace', bad, ...base])).rejects.toThrow(
      /bad.csv: missing columns rental_usd_per_gpu_hour/,
    );
  });
});
