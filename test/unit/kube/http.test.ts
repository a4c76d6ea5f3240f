import { afterEach, describe, expect, it } from '@jest/globals';
import { createMetrics, queueHooks, setModeGauges } from '../../../src/kube/metrics.js';
import {
  operatorReadiness,
  parseAddress,
  startHttpServer,
  type Readiness,
  type RunningHttpServer,
} from '../../../src/kube/http.js';

let server: RunningHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('metrics', () => {
  it('exposes the operator metrics with their labels', async () => {
    const m = createMetrics({ defaultMetrics: false, jobBids: true });
    setModeGauges(m, { mining: { nodes: 4, gpus: 32 }, training: { nodes: 2, gpus: 16 } });
    m.miningYield.set({ pool: 'kaspa', product: 'NVIDIA-GeForce-RTX-3090' }, 0.031);
    m.trainingBid.set({ job_namespace: 'ml', training_job: 'llama' }, 0.35);
    m.switches.inc({ from: 'mining', to: 'draining', reason: 'TrainingPaysMore' });
    m.drainDuration.observe({ outcome: 'evicted' }, 42);
    m.revenue.inc({ mode: 'training' }, 1.5);
    const hooks = queueHooks(m);
    hooks.depth?.('nodes', 3);
    hooks.workDuration?.('nodes', 25);
    hooks.error?.('nodes', 'n1', new Error('x'));
    const text = await m.registry.metrics();
    for (const line of [
      'rigshift_nodes{mode="mining"} 4',
      'rigshift_nodes{mode="idle"} 0',
      'rigshift_gpus{mode="training"} 16',
      'rigshift_mining_yield_usd_per_gpu_hour{pool="kaspa",product="NVIDIA-GeForce-RTX-3090"} 0.031',
      'rigshift_training_bid_usd_per_gpu_hour{job_namespace="ml",training_job="llama"} 0.35',
      'rigshift_mode_switches_total{from="mining",to="draining",reason="TrainingPaysMore"} 1',
      'rigshift_drain_duration_seconds_count{outcome="evicted"} 1',
      'rigshift_revenue_usd_total{mode="training"} 1.5',
      'rigshift_workqueue_depth{queue="nodes"} 3',
      'rigshift_reconcile_duration_seconds_count{controller="nodes"} 1',
      'rigshift_reconcile_errors_total{controller="nodes"} 1',
      'rigshift_leader 0',
    ]) {
      expect(text).toContain(line);
    }
  });

  it('exports per-job bids only when turned on', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.trainingBid.set({ job_namespace: 'ml', training_job: 'llama' }, 0.35);
    expect(await m.registry.metrics()).not.toContain('rigshift_training_bid');
  });

  it('keeps registries separate', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.leader.set(1);
    expect(await b.registry.metrics()).toContain('rigshift_leader 0');
  });
});

describe('http server', () => {
  it('serves /metrics, /healthz and /readyz from the readiness callback', async () => {
    const m = createMetrics({ defaultMetrics: false });
    let readiness: Readiness = { ready: false, reasons: ['cache of pods not synced'] };
    server = await startHttpServer({
      address: '127.0.0.1:0',
      registry: m.registry,
      readiness: () => readiness,
    });
    const get = async (p: string): Promise<[number, string]> => {
      const r = await fetch(`${server?.url}${p}`);
      return [r.status, await r.text()];
    };
    expect(await get('/healthz')).toEqual([200, 'ok\n']);
    expect(await get('/readyz')).toEqual([503, 'not ready: cache of pods not synced\n']);
    readiness = { ready: true, detail: 'leader' };
    expect(await get('/readyz')).toEqual([200, 'ok: leader\n']);
    const [code, body] = await get('/metrics');
    expect(code).toBe(200);
    expect(body).toContain('# TYPE rigshift_nodes gauge');
    expect((await get('/nope'))[0]).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('answers 500 with the message when readiness throws', async () => {
    const m = createMetrics({ defaultMetrics: false });
    server = await startHttpServer({
      address: 0,
      registry: m.registry,
      readiness: () => {
        throw new Error('broken');
      },
    });
    const r = await fetch(`${server.url}/readyz`);
    expect(r.status).toBe(500);
    expect(await r.text()).toContain('broken');
  });

  it.each([
    [':8080', { host: undefined, port: 8080 }],
    ['127.0.0.1:9090', { host: '127.0.0.1', port: 9090 }],
    ['[::1]:9090', { host: '::1', port: 9090 }],
    ['8081', { host: undefined, port: 8081 }],
    [0, { host: undefined, port: 0 }],
  ])('parses %j', (a, expected) => expect(parseAddress(a)).toEqual(expected));

  it.each(['localhost', 'x:y', ':70000'])('rejects %j', (a) => expect(() => parseAddress(a)).toThrow());
});

describe('operatorReadiness', () => {
  const cache = (resource: string, synced: boolean) => ({ resource: { resource }, hasSynced: () => synced });
  it.each<[string, ReturnType<typeof cache>[], 'standby' | 'leader' | 'stopped' | undefined, boolean]>([
    ['all synced, leader', [cache('nodes', true), cache('pods', true)], 'leader', true],
    ['all synced, standby', [cache('nodes', true)], 'standby', true],
    ['one cache syncing', [cache('nodes', true), cache('pods', false)], 'leader', false],
    ['elector stopped', [cache('nodes', true)], 'stopped', false],
    ['no election', [cache('nodes', true)], undefined, true],
  ])('%s', (_n, caches, state, ready) => {
    const r = operatorReadiness(caches, state ? { state: () => state } : undefined);
    expect(r.ready).toBe(ready);
    if (!r.ready) expect(r.reasons.length).toBeGreaterThan(0);
  });

  it('is not ready while a watch is silent past its bound, naming it and for how long', () => {
    const stale = {
      resource: { resource: 'pods' },
      name: 'managed pods',
      hasSynced: () => true,
      staleFor: () => 12_400,
    };
    const live = { resource: { resource: 'nodes' }, hasSynced: () => true, staleFor: () => undefined };
    const r = operatorReadiness([live, stale], { state: () => 'leader' });
    expect(r).toEqual({
      ready: false,
      reasons: [
        'watch of managed pods silent for 12 s (no event or bookmark): relisting, acting on nothing until it delivers again',
      ],
    });
    expect(operatorReadiness([live], { state: () => 'leader' }).ready).toBe(true);
  });
});
