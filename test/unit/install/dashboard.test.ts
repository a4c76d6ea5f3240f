// The Grafana dashboard against the operator's real metrics: every series it queries exists in createMetrics()
// (with the label names it groups by), it covers what the issue asks for, and it is well-formed.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMetrics } from '../../../src/kube/metrics.js';

interface Target {
  expr: string;
  refId: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid?: string };
  targets?: Target[];
}

const dashboard = JSON.parse(readFileSync(join(process.cwd(), 'dashboards', 'rigshift.json'), 'utf8')) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string }[] };
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** Labels Prometheus attaches to every scraped series; a metric's own label of the same name is renamed. */
const TARGET_LABELS = ['namespace', 'job', 'instance', 'pod', 'service', 'container', 'endpoint'];

async function exposed(): Promise<Map<string, Set<string>>> {
  const m = createMetrics({ jobBids: true });
  const out = new Map<string, Set<string>>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    const labels = new Set<string>();
    for (const v of metric.values) for (const k of Object.keys(v.labels)) labels.add(k);
    // What a histogram exposes.
    const names =
      String(metric.type) === 'histogram'
        ? [`${metric.name}_bucket`, `${metric.name}_count`, `${metric.name}_sum`]
        : [metric.name];
    for (const n of names) out.set(n, labels);
  }
  // Label names of metrics that have no series yet (labelled counters start empty): from their definitions.
  const defs = m as unknown as Record<string, { name?: string; labelNames?: string[] }>;
  for (const key of Object.keys(defs)) {
    const metric = defs[key] as unknown as { name?: string; labelNames?: string[] } | undefined;
    if (!metric?.name || !metric.labelNames) continue;
    for (const [name, labels] of out) {
      if (name === metric.name || name.startsWith(`${metric.name}_`))
        for (const l of metric.labelNames) labels.add(l);
    }
  }
  return out;
}

describe('dashboards/rigshift.json', () => {
  it('queries only series the operator exposes', async () => {
    const metrics = await exposed();
    const used = new Set(exprs.flatMap((e) => [...e.expr.matchAll(/\brigshift_[a-z_]+/g)].map((m) => m[0])));
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((n) => !metrics.has(n))).toEqual([]);
  });

  it('exports no metric label that Prometheus would rename to exported_* (a scrape target label)', async () => {
    const metrics = await exposed();
    const clashes = [...metrics].flatMap(([name, labels]) =>
      [...labels].filter((l) => TARGET_LABELS.includes(l)).map((l) => `${name}{${l}}`),
    );
    expect(clashes).toEqual([]);
  });

  it('groups and legends by label names the series carry', async () => {
    const metrics = await exposed();
    const problems: string[] = [];
    for (const { panel, expr } of exprs) {
      const names = [...expr.matchAll(/\brigshift_[a-z_]+/g)].map((m) => m[0]);
      const own = new Set(names.flatMap((n) => [...(metrics.get(n) ?? [])]));
      for (const m of expr.matchAll(/\bby \(([^)]*)\)/g)) {
        for (const label of m[1]!.split(',').map((s) => s.trim())) {
          const ok =
            label === 'le' ||
            (own.has(label) && !TARGET_LABELS.includes(label)) ||
            (TARGET_LABELS.includes(label) && !own.has(label));
          if (!ok) problems.push(`${panel}: by ${label} in ${expr}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('shows the fleet by mode, yield versus bids, revenue, switches and drains', () => {
    const covers = (metric: string) => exprs.some((e) => e.expr.includes(metric));
    for (const metric of [
      'rigshift_nodes',
      'rigshift_gpus',
      'rigshift_mining_yield_usd_per_gpu_hour',
      'rigshift_training_bid_usd_per_gpu_hour',
      'rigshift_revenue_usd_total',
      'rigshift_mode_switches_total',
      'rigshift_drain_duration_seconds_bucket',
      'rigshift_leader',
      'rigshift_pending_job_max_wait_seconds',
      'rigshift_job_admission_wait_time_seconds_bucket',
      'rigshift_job_preemptions_total',
    ]) {
      expect(`${metric}: ${covers(metric)}`).toBe(`${metric}: true`);
    }
    const yieldPanel = panels.find((p) => (p.targets ?? []).length >= 2 && /yield/i.test(p.title));
    expect(yieldPanel?.targets?.map((t) => t.expr).join(' ')).toMatch(/yield.*bid/s);
  });

  it('is well-formed: unique ids, refIds, the datasource variable, no overlapping panels', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(
      expect.arrayContaining(['datasource', 'namespace']),
    );
    for (const p of panels) {
      expect(p.datasource?.uid).toBe('${datasource}');
      const refs = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refs).size).toBe(refs.length);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const cell = `${x},${y}`;
          expect(`${p.title} at ${cell} free: ${!cells.has(cell)}`).toBe(`${p.title} at ${cell} free: true`);
          cells.add(cell);
        }
      }
    }
  });

  it('filters every query to the chosen operator namespace', () => {
    for (const { panel, expr } of exprs) {
      for (const sel of expr.matchAll(/\brigshift_[a-z_]+(\{[^}]*\})?/g)) {
        expect(`${panel}: ${sel[0]}`).toMatch(/namespace=~"\$namespace"/);
      }
    }
  });
});
