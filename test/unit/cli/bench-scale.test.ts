import { describe, expect, it } from '@jest/globals';
import {
  countDiff,
  histogramQuantile,
  parseMetrics,
  requestCounts,
  writesOf,
} from '../../../src/cli/bench-scale/process.js';
import { latency, quantile, ratio } from '../../../src/cli/bench-scale/result.js';
import { gpusOf, jobMix, podsOf } from '../../../src/cli/bench-scale/shapes.js';

const METRICS = `# HELP rigshift_api_requests_total Requests
# TYPE rigshift_api_requests_total counter
rigshift_api_requests_total{verb="PATCH",code="200",resource="nodes"} 7
rigshift_api_requests_total{verb="PATCH",code="409",resource="nodes"} 1
rigshift_api_requests_total{verb="POST",code="201",resource="pods/eviction"} 3
rigshift_api_requests_total{verb="GET",code="200",resource="pods"} 4
rigshift_plan_duration_seconds_bucket{le="0.001"} 10
rigshift_plan_duration_seconds_bucket{le="0.01"} 90
rigshift_plan_duration_seconds_bucket{le="0.1"} 99
rigshift_plan_duration_seconds_bucket{le="+Inf"} 100
rigshift_plan_duration_seconds_count 100
`;

describe('bench-scale figures', () => {
  it('counts the operator requests by method and resource, writes apart from reads', () => {
    const m = requestCounts(parseMetrics(METRICS));
    expect(m.get('PATCH nodes')).toBe(8);
    expect(m.get('POST pods/eviction')).toBe(3);
    expect(writesOf(m)).toBe(11);
    const later = new Map(m).set('PATCH nodes', 10);
    expect([...countDiff(m, later)]).toEqual([['PATCH nodes', 2]]);
  });

  it('reads a quantile off a histogram as the bound of its bucket', () => {
    const m = parseMetrics(METRICS);
    expect(histogramQuantile(m, 'rigshift_plan_duration_seconds', 0.5)).toBe(0.01);
    expect(histogramQuantile(m, 'rigshift_plan_duration_seconds', 0.99)).toBe(0.1);
    expect(histogramQuantile(m, 'rigshift_plan_duration_seconds', 1)).toBe(Infinity);
    expect(histogramQuantile(new Map(), 'rigshift_plan_duration_seconds', 0.99)).toBeNull();
  });

  it('takes nearest-rank quantiles and says how many nodes reached a milestone', () => {
    expect(quantile([5, 1, 3, 2, 4], 0.5)).toBe(3);
    expect(quantile([5, 1, 3, 2, 4], 0.99)).toBe(5);
    expect(quantile([], 0.5)).toBeUndefined();
    const l = latency(
      1000,
      new Map([
        ['a', 1500],
        ['b', 3000],
      ]),
      3,
    );
    expect(l).toEqual({ nodes: 2, expected: 3, p50Seconds: 0.5, p99Seconds: 2 });
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, null)).toBeNull();
    expect(ratio(3, 0)).toBeNull();
  });

  it('mixes shapes from 1×1 to 4×8, deterministic, about 3.2 GPUs a job', () => {
    const mix = jobMix(2000);
    expect(mix).toEqual(jobMix(2000));
    const shapes = new Set(mix.map((s) => `${s.replicas}x${s.gpus}`));
    expect(shapes).toEqual(new Set(['1x1', '1x2', '1x4', '2x4', '1x8', '2x8', '4x8']));
    expect(gpusOf(mix)).toBe(40 * 159);
    expect(podsOf(mix)).toBe(40 * 57);
    // Big gangs are spread over the burst, not bunched at its end.
    const firstBig = mix.findIndex((s) => s.replicas === 4);
    expect(firstBig).toBeLessThan(50);
  });
});
