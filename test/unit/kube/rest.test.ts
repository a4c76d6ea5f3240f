import { afterEach, describe, expect, it } from '@jest/globals';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { apply, isFieldManagerConflict } from '../../../src/kube/apply.js';
import type { Clock } from '../../../src/kube/clock.js';
import { classifyEvictionError, evictPod } from '../../../src/kube/eviction.js';
import { Kinds, ResourceMapper, resourcePath, type ResourceInfo } from '../../../src/kube/resources.js';
import { ApiError, createRestClient, resourceOf, retryAfterSeconds } from '../../../src/kube/rest.js';

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}
type Reply = { status: number; headers?: Record<string, string>; body?: unknown };

/** A local HTTP server answering from a script, standing in for the API server's HTTP behaviour. */
async function scriptedServer(replies: Reply[] | ((req: Seen, n: number) => Reply)) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const s = {
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        body,
      };
      seen.push(s);
      const r =
        typeof replies === 'function'
          ? replies(s, seen.length - 1)
          : (replies[seen.length - 1] ?? { status: 500 });
      res.writeHead(r.status, { 'Content-Type': 'application/json', ...(r.headers ?? {}) });
      res.end(r.body === undefined ? '{}' : JSON.stringify(r.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't0ken' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Fires timers at once, recording the delays asked for. */
function instantClock(): Clock & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    now: () => 0,
    setTimeout: (fn, ms) => {
      delays.push(ms);
      return setImmediate(fn) as unknown as ReturnType<typeof setTimeout>;
    },
    clearTimeout: (h) => clearImmediate(h as unknown as NodeJS.Immediate),
  };
}

const status = (code: number, reason: string, message: string, extra: object = {}) => ({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  code,
  reason,
  message,
  ...extra,
});

let closeServer: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeServer?.();
  closeServer = undefined;
});

describe('rest client', () => {
  it('parses JSON and reports each round trip', async () => {
    let auth: string | undefined;
    const s = await scriptedServer(() => ({
      status: 200,
      body: { kind: 'ConfigMap', metadata: { name: 'a' } },
    }));
    closeServer = s.close;
    const rest = createRestClient(s.kc, {
      onRequest: (m, code) => {
        auth = `${m} ${code}`;
      },
    });
    const res = await rest.request<{ kind: string }>({
      method: 'GET',
      path: '/api/v1/namespaces/x/configmaps/a',
    });
    expect(res.body.kind).toBe('ConfigMap');
    expect(auth).toBe('GET 200');
  });

  it('binds every write to the fence: refused once it is aborted, cancelled mid-flight; reads pass', async () => {
    const s = await scriptedServer(() => ({ status: 200, body: { kind: 'Node' } }));
    closeServer = s.close;
    let term = new AbortController();
    const rest = createRestClient(s.kc, { writeFence: () => term.signal });
    await rest.request({ method: 'PATCH', path: '/api/v1/nodes/a', body: {} });
    term.abort(new Error('leadership lost: lease held by rival'));
    for (const method of ['PATCH', 'POST', 'PUT', 'DELETE'] as const) {
      await expect(rest.request({ method, path: '/api/v1/nodes/a', body: {} })).rejects.toThrow(
        `${method} /api/v1/nodes/a: not sent: leadership lost: lease held by rival`,
      );
    }
    await rest.request({ method: 'GET', path: '/api/v1/nodes/a' });
    expect(s.seen.map((r) => r.method)).toEqual(['PATCH', 'GET']);

    // A write the server has not answered yet is cancelled when the fence aborts.
    let arrived: () => void = () => {};
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const hanging = http.createServer(() => arrived());
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    term = new AbortController();
    const slow = createRestClient(kc, { writeFence: () => term.signal });
    const write = slow.request({ method: 'PATCH', path: '/api/v1/nodes/a', body: {} });
    await reached;
    term.abort(new Error('leadership lost'));
    await expect(write).rejects.toThrow(/PATCH \/api\/v1\/nodes\/a: .*abort/i);
    hanging.closeAllConnections();
    await new Promise<void>((resolve) => hanging.close(() => resolve()));
  });

  it('waits for Retry-After on 429 and then succeeds', async () => {
    const tooMany = {
      status: 429,
      headers: { 'Retry-After': '2' },
      body: status(429, 'TooManyRequests', 'slow down'),
    };
    const s = await scriptedServer([tooMany, tooMany, { status: 200, body: { ok: true } }]);
    closeServer = s.close;
    const clock = instantClock();
    const rest = createRestClient(s.kc, { clock });
    const res = await rest.request({ method: 'GET', path: '/api/v1/nodes' });
    expect(res.statusCode).toBe(200);
    expect(s.seen).toHaveLength(3);
    expect(clock.delays).toEqual([2000, 2000]);
  });

  it('gives up after the allowed 429 retries with the server message', async () => {
    const s = await scriptedServer(() => ({
      status: 429,
      body: status(429, 'TooManyRequests', 'storage is busy'),
    }));
    closeServer = s.close;
    const clock = instantClock();
    const rest = createRestClient(s.kc, { clock, max429Retries: 2 });
    const err = await rest.request({ method: 'GET', path: '/api/v1/nodes' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).statusCode).toBe(429);
    expect((err as ApiError).message).toContain('storage is busy');
    expect(s.seen).toHaveLength(3);
    expect(clock.delays).toEqual([1000, 1000]);
  });

  it('throws ApiError with the Status message, reason and causes', async () => {
    const s = await scriptedServer([
      {
        status: 404,
        body: status(404, 'NotFound', 'configmaps "nope" not found', { details: { name: 'nope' } }),
      },
    ]);
    closeServer = s.close;
    const rest = createRestClient(s.kc);
    const err = (await rest
      .request({ method: 'GET', path: '/api/v1/namespaces/x/configmaps/nope' })
      .catch((e: unknown) => e)) as ApiError;
    expect(err.statusCode).toBe(404);
    expect(err.reason).toBe('NotFound');
    expect(err.serverMessage).toBe('configmaps "nope" not found');
    expect(err.message).toBe(
      'GET /api/v1/namespaces/x/configmaps/nope: 404 NotFound: configmaps "nope" not found',
    );
  });

  it('reads Retry-After as seconds, as an HTTP date, or from the Status details', () => {
    expect(retryAfterSeconds({ 'retry-after': '7' }, undefined)).toBe(7);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterSeconds({ 'retry-after': 'Wed, 01 Jan 2025 00:00:30 GMT' }, undefined, now)).toBe(30);
    expect(retryAfterSeconds({}, { details: { retryAfterSeconds: 10 } })).toBe(10);
    expect(retryAfterSeconds({}, undefined)).toBeUndefined();
  });
});

describe('resource paths', () => {
  it.each([
    [
      Kinds.Pod,
      { namespace: 'ns', name: 'p', subresource: 'eviction' },
      '/api/v1/namespaces/ns/pods/p/eviction',
    ],
    [Kinds.Pod, {}, '/api/v1/pods'],
    [Kinds.Node, { name: 'n1' }, '/api/v1/nodes/n1'],
    [
      Kinds.TrainingJob,
      { namespace: 'ml', name: 'j', subresource: 'status' },
      '/apis/rigshift.io/v1alpha1/namespaces/ml/trainingjobs/j/status',
    ],
    [Kinds.FleetPolicy, { name: 'default' }, '/apis/rigshift.io/v1alpha1/fleetpolicies/default'],
    [Kinds.Lease, { namespace: 'ns', name: 'op' }, '/apis/coordination.k8s.io/v1/namespaces/ns/leases/op'],
  ] as [ResourceInfo, Parameters<typeof resourcePath>[1], string][])('%#: %j', (r, opts, expected) =>
    expect(resourcePath(r, opts)).toBe(expected),
  );

  it('refuses a namespace for a cluster-scoped kind', () => {
    expect(() => resourcePath(Kinds.Node, { namespace: 'x', name: 'n' })).toThrow(/cluster-scoped/);
  });

  it('discovers unknown kinds once per group version', async () => {
    const s = await scriptedServer(() => ({
      status: 200,
      body: {
        kind: 'APIResourceList',
        resources: [
          { name: 'deployments', kind: 'Deployment', namespaced: true },
          { name: 'deployments/status', kind: 'Deployment', namespaced: true },
        ],
      },
    }));
    closeServer = s.close;
    const mapper = new ResourceMapper(createRestClient(s.kc));
    const d = await mapper.lookup('apps/v1', 'Deployment');
    expect(d).toEqual({
      group: 'apps',
      version: 'v1',
      resource: 'deployments',
      kind: 'Deployment',
      namespaced: true,
    });
    await mapper.lookup('apps/v1', 'Deployment');
    expect(s.seen.map((x) => x.url)).toEqual(['/apis/apps/v1']);
    await expect(mapper.lookup('apps/v1', 'StatefulSet')).rejects.toThrow(/no resource for kind StatefulSet/);
    expect(await mapper.lookup('v1', 'Pod')).toBe(Kinds.Pod);
  });
});

describe('apply', () => {
  const cm = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'a', namespace: 'ns', managedFields: [{ manager: 'x' }] },
    data: { k: 'v' },
  };

  it('PATCHes with the apply content type, field manager, force and dry run', async () => {
    const s = await scriptedServer(() => ({
      status: 200,
      body: { ...cm, metadata: { name: 'a', namespace: 'ns' } },
    }));
    closeServer = s.close;
    const client = { rest: createRestClient(s.kc), mapper: new ResourceMapper(createRestClient(s.kc)) };
    await apply(client, cm, { force: true, dryRun: true });
    await apply(client, cm, { subresource: 'status' });
    const [first, second] = s.seen;
    expect(first?.method).toBe('PATCH');
    expect(first?.contentType).toBe('application/apply-patch+yaml');
    expect(first?.url).toBe('/api/v1/namespaces/ns/configmaps/a?fieldManager=rigshift&force=true&dryRun=All');
    expect(JSON.parse(first?.body ?? '{}').metadata.managedFields).toBeUndefined();
    expect(second?.url).toBe('/api/v1/namespaces/ns/configmaps/a/status?fieldManager=rigshift');
  });

  it('does not retry a field manager conflict and keeps the server message', async () => {
    const conflict = status(
      409,
      'Conflict',
      'Apply failed with 1 conflict: conflict with "kubectl" using v1: .data.k',
      {
        details: {
          causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.data.k' }],
        },
      },
    );
    const s = await scriptedServer(() => ({ status: 409, body: conflict }));
    closeServer = s.close;
    const client = { rest: createRestClient(s.kc), mapper: new ResourceMapper(createRestClient(s.kc)) };
    const err = await apply(client, cm).catch((e: unknown) => e);
    expect(isFieldManagerConflict(err)).toBe(true);
    expect((err as Error).message).toContain('conflict with "kubectl" using v1: .data.k');
    expect(s.seen).toHaveLength(1);
  });

  it('retries a write race 409 and then succeeds', async () => {
    const race = status(
      409,
      'Conflict',
      'the object has been modified; please apply your changes to the latest version',
    );
    const s = await scriptedServer([
      { status: 409, body: race },
      { status: 200, body: cm },
    ]);
    closeServer = s.close;
    const client = { rest: createRestClient(s.kc), mapper: new ResourceMapper(createRestClient(s.kc)) };
    await apply(client, cm, { clock: instantClock() });
    expect(s.seen).toHaveLength(2);
  });

  it('rejects objects without identity before any request', async () => {
    const s = await scriptedServer([]);
    closeServer = s.close;
    const client = { rest: createRestClient(s.kc), mapper: new ResourceMapper(createRestClient(s.kc)) };
    await expect(
      apply(client, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } }),
    ).rejects.toThrow(/namespace is required/);
    expect(s.seen).toHaveLength(0);
  });
});

describe('eviction', () => {
  const pdbBlocked = status(
    429,
    'TooManyRequests',
    "Cannot evict pod as it would violate the pod's disruption budget.",
    {
      details: {
        causes: [
          {
            reason: 'DisruptionBudget',
            message: 'The disruption budget miners needs 2 healthy pods and has 2 currently',
          },
        ],
      },
    },
  );

  const apiErr = (code: number, reason: string, message: string): ApiError =>
    new ApiError('POST', '/e', code, status(code, reason, message), undefined);
  it.each<[string, string, ApiError]>([
    ['PDB 429', 'blockedByPdb', new ApiError('POST', '/e', 429, pdbBlocked, 10)],
    ['not found', 'notFound', apiErr(404, 'NotFound', 'pods "p" not found')],
    [
      'uid changed',
      'notFound',
      apiErr(409, 'Conflict', 'the UID in the precondition (a) does not match (b)'),
    ],
    [
      'two PDBs',
      'severalPdbs',
      apiErr(
        500,
        'InternalError',
        'Internal error occurred: This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
      ),
    ],
    ['other 500', 'error', apiErr(500, 'InternalError', 'etcd timed out')],
  ])('%s → %s', (_n, outcome, err) => {
    const r = classifyEvictionError(err);
    expect(r === 'throttled' ? r : r.outcome).toBe(outcome);
  });

  it('reports the budget message and posts a policy/v1 Eviction with uid precondition', async () => {
    const s = await scriptedServer([{ status: 429, body: pdbBlocked }]);
    closeServer = s.close;
    const r = await evictPod(
      { rest: createRestClient(s.kc) },
      { namespace: 'farm', name: 'miner-1', uid: 'u-1', gracePeriodSeconds: 30 },
    );
    expect(r).toEqual({
      outcome: 'blockedByPdb',
      message:
        "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget miners needs 2 healthy pods and has 2 currently",
      retryAfterSeconds: undefined,
    });
    expect(s.seen[0]?.url).toBe('/api/v1/namespaces/farm/pods/miner-1/eviction');
    expect(JSON.parse(s.seen[0]?.body ?? '{}')).toEqual({
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'miner-1', namespace: 'farm' },
      deleteOptions: { gracePeriodSeconds: 30, preconditions: { uid: 'u-1' } },
    });
  });

  it('retries a throttling 429 (no budget cause) and then evicts', async () => {
    const s = await scriptedServer([
      {
        status: 429,
        headers: { 'Retry-After': '1' },
        body: status(429, 'TooManyRequests', 'too many requests'),
      },
      { status: 201, body: { kind: 'Status', status: 'Success' } },
    ]);
    closeServer = s.close;
    const clock = instantClock();
    const r = await evictPod({ rest: createRestClient(s.kc) }, { namespace: 'farm', name: 'miner-1', clock });
    expect(r).toEqual({ outcome: 'evicted' });
    expect(clock.delays).toEqual([1000]);
  });
});

describe('resourceOf', () => {
  it('names the resource and subresource of a path, as the API server labels them', () => {
    expect(resourceOf('/api/v1/nodes')).toBe('nodes');
    expect(resourceOf('/api/v1/nodes/n1')).toBe('nodes');
    expect(resourceOf('/api/v1/namespaces')).toBe('namespaces');
    expect(resourceOf('/api/v1/namespaces/ns')).toBe('namespaces');
    expect(resourceOf('/api/v1/namespaces/ns/pods')).toBe('pods');
    expect(resourceOf('/api/v1/namespaces/ns/pods/p/eviction')).toBe('pods/eviction');
    expect(resourceOf('/apis/rigshift.io/v1alpha1/namespaces/ns/trainingjobs/j/status?x=1')).toBe(
      'trainingjobs/status',
    );
    expect(resourceOf('/apis/events.k8s.io/v1/namespaces/ns/events')).toBe('events');
    expect(resourceOf('/apis')).toBe('');
  });
});
