// UsageRecord arithmetic: totals folded in idempotently, months split by each job's earlier totals, metrics
// recomputed from the records.
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseUsageRecord } from '../../../src/api/v1alpha1/index.js';
import { arrayStore } from '../../../src/controller/caches.js';
import {
  lineCovers,
  mergeUsage,
  monthOf,
  newLines,
  previousMonth,
  usageFigures,
  type JobUsage,
} from '../../../src/controller/usage/index.js';
import { Decimal } from '../../../src/economics/decimal.js';
import { createMetrics } from '../../../src/kube/metrics.js';

const NOW = Date.parse('2026-12-07T10:00:00Z');
const use = (uid: string, gpuHours: string, earnedUsd: string): JobUsage => ({
  uid,
  name: `job-${uid}`,
  gpuHours: Decimal.parse(gpuHours),
  earnedUsd: Decimal.parse(earnedUsd),
});

describe('months', () => {
  it('are UTC calendar months', () => {
    expect(monthOf(Date.parse('2026-12-31T23:59:59Z'))).toBe('2026-12');
    expect(monthOf(Date.parse('2027-01-01T00:00:00Z'))).toBe('2027-01');
    expect(previousMonth('2027-01')).toBe('2026-12');
    expect(previousMonth('2026-10')).toBe('2026-09');
  });
});

describe('mergeUsage', () => {
  it('books new jobs, sums the namespace and skips jobs that used nothing', () => {
    const r = mergeUsage(
      undefined,
      [use('a', '1.5', '0.525'), use('b', '0.25', '0.1'), use('c', '0', '0')],
      new Map(),
      NOW,
    );
    expect(r.changed).toBe(true);
    expect(r.status.gpuHours).toBe('1.75');
    expect(r.status.earnedUsd).toBe('0.625');
    expect(r.status.jobs?.map((l) => [l.uid, l.gpuHours, l.earnedUsd])).toEqual([
      ['a', '1.5', '0.525'],
      ['b', '0.25', '0.1'],
    ]);
  });

  it('creates no record for jobs that used nothing', () => {
    expect(mergeUsage(undefined, [use('a', '0', '0')], new Map(), NOW).changed).toBe(false);
    expect(mergeUsage(undefined, [], new Map(), NOW).changed).toBe(false);
  });

  it('is idempotent: the same job totals folded again (a restart, a new leader) add nothing', () => {
    const first = mergeUsage(undefined, [use('a', '1.5', '0.525')], new Map(), NOW);
    const again = mergeUsage(first.status, [use('a', '1.5', '0.525')], new Map(), NOW + 60_000);
    expect(again.changed).toBe(false);
    expect(again.status).toEqual(first.status);
    const thrice = mergeUsage(again.status, [use('a', '1.5', '0.525')], new Map(), NOW + 120_000);
    expect(thrice.status.gpuHours).toBe('1.5');
  });

  it('adds only what the job totals grew by, and never takes back', () => {
    const first = mergeUsage(undefined, [use('a', '1.5', '0.525')], new Map(), NOW);
    const grown = mergeUsage(first.status, [use('a', '2', '0.7')], new Map(), NOW + 60_000);
    expect(grown.status.jobs?.[0]).toMatchObject({ gpuHours: '2', earnedUsd: '0.7', jobGpuHours: '2' });
    const shrunk = mergeUsage(grown.status, [use('a', '1', '0.35')], new Map(), NOW + 120_000);
    expect(shrunk.changed).toBe(false);
    expect(shrunk.status.gpuHours).toBe('2');
  });

  it('keeps the lines of jobs that are gone', () => {
    const first = mergeUsage(undefined, [use('a', '1', '1'), use('b', '2', '2')], new Map(), NOW);
    const after = mergeUsage(first.status, [use('b', '3', '3')], new Map(), NOW + 60_000);
    expect(after.status.jobs?.map((l) => l.uid)).toEqual(['a', 'b']);
    expect(after.status.gpuHours).toBe('4');
    expect(after.status.earnedUsd).toBe('4');
  });

  it("a job running across months: the new month's line starts from the earlier month's totals", () => {
    const nov = mergeUsage(undefined, [use('a', '10', '3.5')], new Map(), NOW);
    const line = nov.status.jobs?.[0];
    expect(newLines(undefined, [use('a', '12', '4.2')]).map((j) => j.uid)).toEqual(['a']);
    const dec = mergeUsage(
      undefined,
      [use('a', '12', '4.2')],
      new Map([
        ['a', { gpuHours: Decimal.parse(line!.jobGpuHours), earnedUsd: Decimal.parse(line!.jobEarnedUsd) }],
      ]),
      NOW,
    );
    expect(dec.status.jobs?.[0]).toMatchObject({ gpuHours: '2', earnedUsd: '0.7', jobGpuHours: '12' });
    // A job that used nothing more this month gets no line.
    const none = mergeUsage(
      undefined,
      [use('a', '10', '3.5')],
      new Map([['a', { gpuHours: Decimal.parse('10'), earnedUsd: Decimal.parse('3.5') }]]),
      NOW,
    );
    expect(none.status.jobs).toEqual([]);
  });

  it('lineCovers: the finalizer waits until the line holds the job totals', () => {
    const r = mergeUsage(undefined, [use('a', '1.5', '0.525')], new Map(), NOW);
    expect(lineCovers(r.status.jobs?.[0], use('a', '1.5', '0.525'))).toBe(true);
    expect(lineCovers(r.status.jobs?.[0], use('a', '1.6', '0.56'))).toBe(false);
    expect(lineCovers(undefined, use('a', '1', '1'))).toBe(false);
  });

  it('writes a status the CRD schema accepts', () => {
    const r = mergeUsage(undefined, [use('a', '0.000277778', '0.000097222')], new Map(), NOW);
    const parsed = parseUsageRecord({
      apiVersion: 'rigshift.io/v1alpha1',
      kind: 'UsageRecord',
      metadata: { name: '2026-12', namespace: 'team-a' },
      spec: { month: '2026-12' },
      status: r.status,
    });
    expect(parsed.ok).toBe(true);
    expect(parseUsageRecord({ kind: 'UsageRecord', spec: { month: '2026-13' } }).ok).toBe(false);
  });
});

describe('usage metrics', () => {
  const record = (ns: string, month: string, gpuHours: string, earnedUsd: string): KubernetesObject =>
    ({
      apiVersion: 'rigshift.io/v1alpha1',
      kind: 'UsageRecord',
      metadata: { name: month, namespace: ns },
      spec: { month },
      status: { gpuHours, earnedUsd, jobs: [] },
    }) as KubernetesObject;
  const records = [
    record('team-a', '2026-10', '100', '35'),
    record('team-a', '2026-11', '10', '3.5'),
    record('team-a', '2026-12', '2', '0.7'),
    record('team-b', '2026-12', '1', '0.4'),
  ];

  it('counters sum every month; gauges show the current and the previous month', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.usage.figures = () =>
      usageFigures(
        arrayStore(() => records),
        NOW,
      );
    const text = await m.registry.metrics();
    expect(text).toContain('rigshift_usage_gpu_seconds_total{job_namespace="team-a"} 403200');
    expect(text).toContain('rigshift_usage_usd_total{job_namespace="team-a"} 39.2');
    expect(text).toContain('rigshift_usage_usd_total{job_namespace="team-b"} 0.4');
    expect(text).toContain('rigshift_usage_month_usd{job_namespace="team-a",month="2026-12"} 0.7');
    expect(text).toContain('rigshift_usage_month_usd{job_namespace="team-a",month="2026-11"} 3.5');
    expect(text).not.toContain('month="2026-10"');
    // A second scrape (or a restarted process) exports the same totals, never more.
    expect(await m.registry.metrics()).toBe(text);
    const fresh = createMetrics({ defaultMetrics: false });
    fresh.usage.figures = () =>
      usageFigures(
        arrayStore(() => records),
        NOW,
      );
    expect(await fresh.registry.metrics()).toBe(text);
  });

  it('exports no usage series before the records are known (not a drop to zero)', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.usage.figures = () => undefined;
    expect(await m.registry.metrics()).not.toMatch(/rigshift_usage_usd_total\{/);
  });
});
