// The chart's PrometheusRule against the operator's real metrics: every alert's expression queries series that
// createMetrics() exposes, groups by labels those series carry, and every alert is documented. Rendering with
// helm is checked in test/e2e/install/chart.test.ts; promtool (when built) in test/unit/install/promtool.test.ts.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMetrics } from '../../../src/kube/metrics.js';

const TEMPLATE = readFileSync(
  join(process.cwd(), 'helm', 'rigshift', 'templates', 'prometheusrule.yaml'),
  'utf8',
);

/** Alert name and expression as written in the template, with template actions replaced by a placeholder. */
export function alertsOf(template: string): { alert: string; expr: string }[] {
  const out: { alert: string; expr: string }[] = [];
  for (const m of template.matchAll(/- alert: (\w+)\n\s+expr: (.*)$/gm)) {
    out.push({ alert: m[1]!, expr: m[2]!.replace(/\{\{[^}]*\}\}/g, '1') });
  }
  return out;
}

const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'or',
  'and',
  'unless',
  'bool',
  'offset',
  'rate',
  'increase',
  'changes',
  'time',
  'vector',
  'absent',
  'histogram_quantile',
  'delta',
  'deriv',
]);

/** Metric names in a PromQL expression: identifiers outside strings, matchers, ranges and groupings. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w));
}

/** Series names the operator exposes (histograms as _bucket, _count, _sum), with their label names. */
async function exposed(): Promise<Map<string, Set<string>>> {
  const m = createMetrics({ jobBids: true });
  const out = new Map<string, Set<string>>();
  for (const metric of m.registry.getMetricsAsArray() as unknown as {
    name: string;
    labelNames?: string[];
  }[]) {
    const { type } = await m.registry.getSingleMetric(metric.name)!.get();
    const labels = new Set(metric.labelNames ?? []);
    const names =
      String(type) === 'histogram'
        ? [`${metric.name}_bucket`, `${metric.name}_count`, `${metric.name}_sum`]
        : [metric.name];
    for (const n of names) out.set(n, labels);
  }
  return out;
}

describe('chart PrometheusRule', () => {
  const alerts = alertsOf(TEMPLATE);

  it('the parsers read alerts and metric names', () => {
    expect(metricNames('sum by (pool) (rate(a_total{namespace="x"}[5m])) > 0 or vector(0)')).toEqual([
      'a_total',
    ]);
    expect(metricNames('time() - max by (pool, input) (b_seconds{x="y"}) > 3600')).toEqual(['b_seconds']);
    expect(alertsOf('        - alert: A\n          expr: c{namespace="{{ $ns }}"} > {{ int $r.x }}')).toEqual(
      [{ alert: 'A', expr: 'c{namespace="1"} > 1' }],
    );
  });

  it('ships the alerts of the design', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'RigshiftDrainStalled',
        'RigshiftGangWaiting',
        'RigshiftNoLeader',
        'RigshiftOperatorRestarting',
        'RigshiftPoolPriceStale',
        'RigshiftPoolYieldUnknown',
        'RigshiftPriceSourceRefusing',
      ].sort(),
    );
  });

  it('queries only series the operator exposes, grouped by labels they carry', async () => {
    const metrics = await exposed();
    const problems: string[] = [];
    for (const { alert, expr } of alerts) {
      const names = metricNames(expr);
      if (names.length === 0) problems.push(`${alert}: no metric in ${expr}`);
      for (const n of names) if (!metrics.has(n)) problems.push(`${alert}: ${n} is not exposed`);
      const own = new Set(names.flatMap((n) => [...(metrics.get(n) ?? [])]));
      for (const g of expr.matchAll(/\bby \(([^)]*)\)/g))
        for (const label of g[1]!.split(',').map((s) => s.trim()))
          if (!own.has(label)) problems.push(`${alert}: by ${label}, which ${names.join(', ')} lacks`);
      // Selects the release's own scrape target (its namespace label), never a metric label of that name.
      if (!/\{namespace="1"\}/.test(expr)) problems.push(`${alert}: not scoped to the release namespace`);
    }
    expect(problems).toEqual([]);
  });

  it('documents every alert in docs/metrics.md', () => {
    const doc = readFileSync(join(process.cwd(), 'docs', 'metrics.md'), 'utf8');
    expect(alerts.filter((a) => !doc.includes(`\`${a.alert}\``)).map((a) => a.alert)).toEqual([]);
  });
});
