// /metrics behind Kubernetes auth: the decisions and their cache (the API server's side is in
// test/e2e/install/metrics-auth.test.ts).
import { afterEach, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../../src/kube/clock.js';
import { startHttpServer, type RunningHttpServer } from '../../../src/kube/http.js';
import { MetricsAuthorizer } from '../../../src/kube/metrics-auth.js';
import { createMetrics } from '../../../src/kube/metrics.js';
import type { RestRequest } from '../../../src/kube/rest.js';

/** An API server that knows two tokens: `reader` (may get /metrics) and `nobody` (may not). */
function fakeApi(opts: { down?: boolean } = {}) {
  const calls: RestRequest[] = [];
  const users: Record<string, string> = { reader: 'system:serviceaccount:mon:prometheus', nobody: 'alice' };
  const request = (req: RestRequest) => {
    calls.push(req);
    if (opts.down) return Promise.reject(new Error('connect ECONNREFUSED'));
    const spec = (req.body as { spec: Record<string, unknown> }).spec;
    if (req.path.endsWith('/tokenreviews')) {
      const user = users[spec.token as string];
      const status = user ? { authenticated: true, user: { username: user, groups: ['g'] } } : {};
      return Promise.resolve({ statusCode: 201, headers: {}, body: { status } as never });
    }
    const allowed = spec.user === users.reader;
    return Promise.resolve({ statusCode: 201, headers: {}, body: { status: { allowed } } as never });
  };
  return { calls, rest: { request } as never };
}

describe('MetricsAuthorizer', () => {
  it('refuses no token (401), an unknown token (401), a user without the permission (403)', async () => {
    const api = fakeApi();
    const auth = new MetricsAuthorizer({ rest: api.rest, clock: new FakeClock(0) });
    expect(await auth.check(undefined)).toMatchObject({ ok: false, status: 401 });
    expect(await auth.check('Basic abc')).toMatchObject({ ok: false, status: 401 });
    expect(api.calls).toHaveLength(0);
    expect(await auth.check('Bearer forged')).toMatchObject({ ok: false, status: 401 });
    expect(await auth.check('Bearer nobody')).toEqual({
      ok: false,
      status: 403,
      reason: 'alice may not get /metrics',
    });
    expect(await auth.check('Bearer reader')).toEqual({
      ok: true,
      user: 'system:serviceaccount:mon:prometheus',
    });
    const sar = api.calls.at(-1)!;
    expect(sar.path).toBe('/apis/authorization.k8s.io/v1/subjectaccessreviews');
    expect(sar.body).toMatchObject({
      spec: {
        user: 'system:serviceaccount:mon:prometheus',
        groups: ['g'],
        nonResourceAttributes: { path: '/metrics', verb: 'get' },
      },
    });
  });

  it('reuses a decision for a minute, then asks again', async () => {
    const api = fakeApi();
    const clock = new FakeClock(0);
    const auth = new MetricsAuthorizer({ rest: api.rest, clock });
    await auth.check('Bearer reader');
    await auth.check('Bearer reader');
    expect(api.calls).toHaveLength(2); // one TokenReview, one SubjectAccessReview
    await clock.advance(61_000);
    await auth.check('Bearer reader');
    expect(api.calls).toHaveLength(4);
  });

  it('fails closed when the API server cannot be asked, and does not cache that', async () => {
    const api = fakeApi({ down: true });
    const auth = new MetricsAuthorizer({ rest: api.rest, clock: new FakeClock(0) });
    expect(await auth.check('Bearer reader')).toMatchObject({ ok: false, status: 500 });
    expect(await auth.check('Bearer reader')).toMatchObject({ ok: false, status: 500 });
    expect(api.calls).toHaveLength(2);
  });

  it('keeps at most maxEntries tokens', async () => {
    const api = fakeApi();
    const auth = new MetricsAuthorizer({ rest: api.rest, clock: new FakeClock(0), maxEntries: 3 });
    for (let i = 0; i < 10; i++) await auth.check(`Bearer t${i}`);
    expect((auth as unknown as { cache: Map<string, unknown> }).cache.size).toBeLessThanOrEqual(3);
  });
});

describe('the metrics server with auth', () => {
  let server: RunningHttpServer | undefined;
  afterEach(async () => server?.close());

  it('guards /metrics only; /healthz and /readyz stay open', async () => {
    const auth = new MetricsAuthorizer({ rest: fakeApi().rest, clock: new FakeClock(0) });
    server = await startHttpServer({
      address: '127.0.0.1:0',
      registry: createMetrics({ defaultMetrics: false }).registry,
      readiness: () => ({ ready: true }),
      authorizeMetrics: (h) => auth.check(h),
    });
    const get = async (path: string, token?: string) => {
      const r = await fetch(
        `${server!.url}${path}`,
        token ? { headers: { authorization: `Bearer ${token}` } } : {},
      );
      return { status: r.status, auth: r.headers.get('www-authenticate'), body: await r.text() };
    };
    expect(await get('/metrics')).toEqual({
      status: 401,
      auth: 'Bearer',
      body: 'a bearer token is required\n',
    });
    expect((await get('/metrics', 'nobody')).status).toBe(403);
    const ok = await get('/metrics', 'reader');
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('rigshift_nodes');
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
  });
});
