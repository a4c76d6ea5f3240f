import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMetrics } from '../../../src/kube/metrics.js';

interface Documented {
  type: string;
  labels: string[];
}

/** The metrics docs/metrics.md lists: lines like "- `name` (gauge; labels `a`, `b`): ...". */
function documented(markdown: string): Map<string, Documented> {
  const out = new Map<string, Documented>();
  for (const m of markdown.matchAll(/^- `(rigshift_[a-z_]+)` \(([a-z]+)(?:; labels ([^)]*))?\)/gm)) {
    const labels = [...(m[3] ?? '').matchAll(/`([a-z_]+)`/g)].map((l) => l[1]!);
    out.set(m[1]!, { type: m[2]!, labels });
  }
  return out;
}

async function registered(): Promise<Map<string, Documented>> {
  const { registry } = createMetrics({ defaultMetrics: false, jobBids: true });
  const out = new Map<string, Documented>();
  for (const { name, labelNames } of registry.getMetricsAsArray() as unknown as {
    name: string;
    labelNames?: string[];
  }[]) {
    const metric = registry.getSingleMetric(name)!;
    const { type } = await metric.get();
    out.set(name, { type: String(type), labels: [...(labelNames ?? [])] });
  }
  return out;
}

describe('docs/metrics.md', () => {
  const markdown = readFileSync(join(process.cwd(), 'docs/metrics.md'), 'utf8');

  it('the parser reads a metric line', () => {
    const d = documented(
      '- `rigshift_x_total` (counter; labels `a`, `b`): text\n- `rigshift_y` (gauge): text',
    );
    expect(d.get('rigshift_x_total')).toEqual({ type: 'counter', labels: ['a', 'b'] });
    expect(d.get('rigshift_y')).toEqual({ type: 'gauge', labels: [] });
  });

  it('lists every registered metric with its type and labels, and no other', async () => {
    const reg = await registered();
    expect(reg.size).toBeGreaterThan(10);
    expect(documented(markdown)).toEqual(reg);
  });
});
