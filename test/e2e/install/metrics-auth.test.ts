// Issue 10, item 5: /metrics behind Kubernetes auth against the real API server. The operator runs as the
// chart's ServiceAccount (its ClusterRole must allow TokenReview and SubjectAccessReview); tokens come from the
// TokenRequest API (`kubectl create token`). No token → 401, a ServiceAccount without the chart's
// metrics-reader role → 403, one bound to it → 200; the probes stay open; renters' bids only when turned on.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Manager } from '../../../src/controller/manager.js';
import {
  createWorld,
  jobManifest,
  startOperator,
  waitFor,
  type Job,
  type World,
} from '../operator/harness.js';

let w: World;
let op: Manager | undefined;
let binding = '';

async function token(sa: string): Promise<string> {
  return (await w.c.kubectl(['create', 'token', sa, '-n', w.ns, '--duration=10m'])).stdout.trim();
}

async function get(path: string, bearer?: string): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = bearer ? { authorization: `Bearer ${bearer}` } : {};
  const res = await fetch(`http://127.0.0.1:${op?.httpPort}${path}`, { headers });
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  w = await createWorld({ prefix: 'metrics-auth', nodes: 1 });
  const reader = `${w.rbac.release}-metrics-reader`;
  for (const sa of ['nobody', 'prometheus']) await w.c.kubectl(['create', 'serviceaccount', sa, '-n', w.ns]);
  binding = `${w.ns}-prometheus`;
  await w.c.kubectl([
    'create',
    'clusterrolebinding',
    binding,
    `--clusterrole=${reader}`,
    `--serviceaccount=${w.ns}:prometheus`,
  ]);
  await waitFor('RBAC lets the prometheus ServiceAccount get /metrics', async () => {
    const r = await w.c.kubectl(
      ['auth', 'can-i', 'get', '/metrics', `--as=system:serviceaccount:${w.ns}:prometheus`],
      { allowFail: true },
    );
    return r.stdout.trim() === 'yes';
  });
  await w.apply(jobManifest(w.ns, 'secret-bid', { replicas: 1, bidUsdPerGpuHour: '7.77' }));
  op = await startOperator(w, { metricsAddress: '127.0.0.1:0' });
}, 180_000);

afterAll(async () => {
  await op?.stop();
  if (binding) await w?.c.kubectl(['delete', 'clusterrolebinding', binding, '--ignore-not-found']);
  await w?.cleanup();
}, 60_000);

it('refuses /metrics without a token (401) and with a forged one (401)', async () => {
  const none = await get('/metrics');
  expect(none.status).toBe(401);
  expect(none.body).not.toContain('rigshift_');
  expect((await get('/metrics', 'not-a-token')).status).toBe(401);
});

it('refuses a ServiceAccount without the metrics-reader role (403), the operator’s own included', async () => {
  const nobody = await get('/metrics', await token('nobody'));
  expect(nobody).toEqual({
    status: 403,
    body: `system:serviceaccount:${w.ns}:nobody may not get /metrics\n`,
  });
  expect((await get('/metrics', w.rbac.token)).status).toBe(403);
});

it('serves the metrics-reader ServiceAccount (200), without renters’ bids by default', async () => {
  await waitFor('the job seen by the planner', async () => {
    const j = await w.get<Job>('TrainingJob', 'secret-bid');
    return (j?.status?.conditions?.length ?? 0) > 0;
  });
  const ok = await get('/metrics', await token('prometheus'));
  expect(ok.status).toBe(200);
  expect(ok.body).toMatch(/^rigshift_leader 1$/m);
  expect(ok.body).not.toContain('rigshift_training_bid_usd_per_gpu_hour');
  expect(ok.body).not.toContain('7.77');
});

it('keeps /healthz and /readyz open for the kubelet', async () => {
  expect((await get('/healthz')).status).toBe(200);
  await waitFor('/readyz 200', async () => (await get('/readyz')).status === 200);
});

it('exports per-job bids once an admin turns them on', async () => {
  await op?.stop();
  op = await startOperator(w, { metricsAddress: '127.0.0.1:0', metricsJobBids: true });
  const prometheus = await token('prometheus');
  const body = await waitFor('the bid gauge', async () => {
    const r = await get('/metrics', prometheus);
    return r.status === 200 && r.body.includes('rigshift_training_bid_usd_per_gpu_hour') ? r.body : undefined;
  });
  expect(body).toMatch(
    new RegExp(
      `^rigshift_training_bid_usd_per_gpu_hour\\{job_namespace="${w.ns}",training_job="secret-bid"\\} 7.77$`,
      'm',
    ),
  );
}, 90_000);
