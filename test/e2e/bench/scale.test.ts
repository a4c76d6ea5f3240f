// `rigshift bench-scale --json` at a small size, as its full size runs: its own cluster beside the shared one,
// the operator as a child process, Kueue built from the Go module proxy; the JSON must hold sane figures in the
// fields scripts rely on, the plot must be drawn, and nothing may be left running.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { projectRoot } from '../../../src/local/paths.js';
import { run } from '../../support/cluster.js';

interface Latency {
  nodes: number;
  expected: number;
  p50Seconds: number | null;
  p99Seconds: number | null;
}
interface Switch {
  labelled: Latency;
  done: Latency;
  running?: Latency;
  writesPerSwitch: number | null;
  perSwitch: Record<string, number>;
}

const positive = (v: unknown): void => {
  expect(typeof v).toBe('number');
  expect(Number.isFinite(v)).toBe(true);
  expect(v as number).toBeGreaterThan(0);
};

describe('rigshift bench-scale', () => {
  it('measures flips, gangs against the bare scheduler and Kueue, and the operator, at 20 nodes', async () => {
    const svg = join(mkdtempSync(join(tmpdir(), 'rigshift-bench-scale-test-')), 'running.svg');
    const r = await run(
      process.execPath,
      [
        join(projectRoot(), 'bin', 'rigshift.js'),
        'bench-scale',
        '--nodes=20',
        '--flip=6',
        '--jobs=40',
        '--steady-seconds=5',
        '--timeout=90',
        '--json',
        `--svg=${svg}`,
      ],
      { ...process.env },
    );
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('operator started');
    const j = JSON.parse(r.stdout) as {
      nodes: number;
      pods: number;
      flip: {
        p50Seconds: number | null;
        p99Seconds: number | null;
        writesPerSwitch: number | null;
        toIdle: Switch;
        toMining: Switch;
        toTraining: Switch;
      };
      gangs: {
        seconds: number | null;
        bareSeconds: number | null;
        ratioToBare: number | null;
        running: number;
      };
      kueue: { seconds: number | null; ratio: number | null; blocked?: string; running?: number };
      operator: {
        cpuSeconds: number | null;
        peakRssMiB: number | null;
        steadyRequestsPerSecond: number | null;
      };
      planner: { p99Ms: number | null; cycles: number };
      errors?: string[];
    };
    expect(j.nodes).toBe(20);
    expect(j.errors).toBeUndefined();

    // Every flipped node reached its milestone, p50 ≤ p99, and the switch wrote to the API server.
    for (const s of [j.flip.toIdle, j.flip.toMining, j.flip.toTraining]) {
      expect(s.done.nodes).toBe(6);
      expect(s.done.expected).toBe(6);
      positive(s.done.p99Seconds);
      expect(s.done.p50Seconds!).toBeLessThanOrEqual(s.done.p99Seconds!);
      positive(s.writesPerSwitch);
    }
    expect(j.flip.toTraining.running?.nodes).toBe(6);
    // A switch to training evicts the miners and creates the job's pods: both counted by resource.
    expect(j.flip.toTraining.perSwitch['POST pods/eviction']).toBeGreaterThan(0);
    expect(j.flip.toTraining.perSwitch['POST pods']).toBeGreaterThan(0);
    expect(j.flip.p99Seconds).toBe(j.flip.toIdle.done.p99Seconds);
    positive(j.flip.writesPerSwitch);

    // All pods of the mix ran under rigshift and straight through the scheduler; the ratio is theirs.
    expect(j.gangs.running).toBe(j.pods);
    positive(j.gangs.seconds);
    positive(j.gangs.bareSeconds);
    positive(j.gangs.ratioToBare);
    expect(j.gangs.ratioToBare!).toBeCloseTo(j.gangs.seconds! / j.gangs.bareSeconds!, 1);

    // Kueue ran on the same cluster (npm test builds it): all the mix's pods Running, a finite ratio.
    expect(j.kueue.blocked).toBeUndefined();
    expect(j.kueue.running).toBe(j.pods);
    positive(j.kueue.seconds);
    positive(j.kueue.ratio);

    positive(j.operator.cpuSeconds);
    positive(j.operator.peakRssMiB);
    expect(j.operator.steadyRequestsPerSecond).not.toBeNull();
    expect(j.operator.steadyRequestsPerSecond!).toBeGreaterThanOrEqual(0);
    positive(j.planner.p99Ms);
    expect(j.planner.cycles).toBeGreaterThan(0);

    const plot = readFileSync(svg, 'utf8');
    expect(plot.startsWith('<svg')).toBe(true);
    expect(plot).toContain('rigshift');
    expect(plot).toContain('bare');
    expect(plot).toContain('Kueue');
    expect((plot.match(/<polyline/g) ?? []).length).toBe(3);
  }, 180_000);
});
