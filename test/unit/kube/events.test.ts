import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { FakeClock, flushPromises } from '../../../src/kube/clock.js';
import {
  EventRecorder,
  EventSeriesCache,
  isValidReason,
  truncateUtf8,
  type SeriesDecision,
} from '../../../src/kube/events.js';
import { ApiError, type RestClient, type RestRequest, type RestResponse } from '../../../src/kube/rest.js';

describe('EventSeriesCache', () => {
  it('creates, turns the first repeat into a series, then defers until the flush interval', () => {
    const c = new EventSeriesCache({ windowMs: 60_000, flushIntervalMs: 10_000 });
    const seen: [number, SeriesDecision][] = [];
    for (const t of [0, 1000, 2000, 3000, 11_000, 12_000]) seen.push([t, c.observe('k', t)]);
    expect(seen).toEqual([
      [0, { action: 'create' }],
      [1000, { action: 'update', count: 2, lastObservedMs: 1000 }],
      [2000, { action: 'defer', count: 3, flushAtMs: 11_000 }],
      [3000, { action: 'defer', count: 4, flushAtMs: 11_000 }],
      [11_000, { action: 'update', count: 5, lastObservedMs: 11_000 }],
      [12_000, { action: 'defer', count: 6, flushAtMs: 21_000 }],
    ]);
    expect(c.pendingKeys()).toEqual(['k']);
    expect(c.takePending('k', 13_000)).toEqual({ count: 6, lastObservedMs: 12_000 });
    expect(c.takePending('k', 13_000)).toBeUndefined();
  });

  it('starts a new event after the window of silence and keeps keys apart', () => {
    const c = new EventSeriesCache({ windowMs: 60_000 });
    expect(c.observe('a', 0).action).toBe('create');
    expect(c.observe('b', 10).action).toBe('create');
    expect(c.observe('a', 60_000).action).toBe('update');
    expect(c.observe('a', 120_001).action).toBe('create');
  });

  it('forgets the least recently used series beyond its capacity', () => {
    const c = new EventSeriesCache({ maxEntries: 2 });
    c.observe('a', 0);
    c.observe('b', 1);
    c.observe('a', 2); // a is now the most recent
    c.observe('c', 3); // evicts b
    expect(c.has('a')).toBe(true);
    expect(c.has('b')).toBe(false);
    expect(c.size()).toBe(2);
  });
});

describe('event input rules', () => {
  it.each([
    ['DrainBlocked', true],
    ['Switched', true],
    ['drainBlocked', false],
    ['Drain Blocked', false],
    ['Drain-Blocked', false],
    ['', false],
    ['A'.repeat(129), false],
  ])('reason %j valid: %s', (r, ok) => expect(isValidReason(r)).toBe(ok));

  it('cuts notes to 1024 UTF-8 bytes without splitting characters', () => {
    const long = 'é'.repeat(600); // 1200 bytes
    const cut = truncateUtf8(long);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1024);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut).not.toContain('\uFFFD');
    expect(truncateUtf8('short')).toBe('short');
  });
});

/** Records requests; answers 201/200, or what `answer` says. */
function fakeRest(answer?: (req: RestRequest) => RestResponse<unknown> | Error) {
  const requests: RestRequest[] = [];
  const rest: RestClient = {
    kc: new k8s.KubeConfig(),
    async request<T>(req: RestRequest): Promise<RestResponse<T>> {
      requests.push(req);
      const a = answer?.(req);
      if (a instanceof Error) throw a;
      return (a ?? {
        statusCode: req.method === 'POST' ? 201 : 200,
        headers: {},
        body: req.body,
      }) as RestResponse<T>;
    },
  };
  return { rest, requests };
}

const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'gpu-1', uid: 'u1' } };
const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'miner-x', namespace: 'farm', uid: 'u2' } };

describe('EventRecorder', () => {
  it('creates an events.k8s.io/v1 Event with the required fields', async () => {
    const clock = new FakeClock(Date.parse('2025-03-01T12:00:00Z'));
    const { rest, requests } = fakeRest();
    const rec = new EventRecorder({ rest }, { reportingInstance: 'rigshift-0', clock });
    await rec.warning(pod, 'DrainBlocked', 'Drain', 'PDB miners-pdb allows no disruption');
    expect(requests).toHaveLength(1);
    const req = requests[0];
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe('/apis/events.k8s.io/v1/namespaces/farm/events');
    expect(req?.body).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { namespace: 'farm' },
      eventTime: '2025-03-01T12:00:00.000000Z',
      reportingController: 'rigshift.io/operator',
      reportingInstance: 'rigshift-0',
      action: 'Drain',
      reason: 'DrainBlocked',
      type: 'Warning',
      note: 'PDB miners-pdb allows no disruption',
      regarding: { apiVersion: 'v1', kind: 'Pod', name: 'miner-x', namespace: 'farm', uid: 'u2' },
    });
    expect((req?.body as { metadata: { name: string } }).metadata.name).toMatch(/^miner-x\.[0-9a-f]+$/);
  });

  it('puts events about cluster-scoped objects in the default namespace', async () => {
    const { rest, requests } = fakeRest();
    const rec = new EventRecorder({ rest }, { reportingInstance: 'r', clock: new FakeClock() });
    await rec.normal(node, 'Switched', 'Switch', 'mining → training');
    expect(requests[0]?.path).toBe('/apis/events.k8s.io/v1/namespaces/default/events');
  });

  it('turns repeats into one series instead of a flood of events', async () => {
    const clock = new FakeClock(1_000_000);
    const { rest, requests } = fakeRest();
    const rec = new EventRecorder(
      { rest },
      { reportingInstance: 'r', clock, series: { flushIntervalMs: 30_000 } },
    );
    const fire = (): Promise<void> => rec.warning(pod, 'DrainBlocked', 'Drain', 'blocked');
    await fire();
    await clock.advance(1000);
    await fire();
    for (let i = 0; i < 50; i++) {
      await clock.advance(100);
      await fire();
    }
    const posts = requests.filter((r) => r.method === 'POST');
    const patches = requests.filter((r) => r.method === 'PATCH');
    expect(posts).toHaveLength(1);
    expect(patches).toHaveLength(1);
    expect(patches[0]?.contentType).toBe('application/merge-patch+json');
    expect(patches[0]?.body).toEqual({ series: { count: 2, lastObservedTime: expect.any(String) } });
    const name = (posts[0]?.body as { metadata: { name: string } }).metadata.name;
    expect(patches[0]?.path).toBe(`/apis/events.k8s.io/v1/namespaces/farm/events/${name}`);
    // The deferred count is written when the flush interval has passed.
    await clock.advance(30_000);
    expect(requests.filter((r) => r.method === 'PATCH').at(-1)?.body).toMatchObject({
      series: { count: 52 },
    });
    // A different note is a different event.
    await rec.warning(pod, 'DrainBlocked', 'Drain', 'blocked again');
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    await rec.close();
    expect(clock.pending()).toBe(0);
  });

  it('flush writes deferred counts at once', async () => {
    const clock = new FakeClock(0);
    const { rest, requests } = fakeRest();
    const rec = new EventRecorder({ rest }, { reportingInstance: 'r', clock });
    for (let i = 0; i < 5; i++) await rec.normal(node, 'Idle', 'Plan', 'electricity too dear');
    await rec.flush();
    expect(requests.map((r) => r.method)).toEqual(['POST', 'PATCH', 'PATCH']);
    expect(requests[2]?.body).toMatchObject({ series: { count: 5 } });
  });

  it('re-creates the event with its series when the old one expired', async () => {
    const clock = new FakeClock(0);
    const { rest, requests } = fakeRest((req) =>
      req.method === 'PATCH'
        ? new ApiError('PATCH', req.path, 404, { kind: 'Status', message: 'events "x" not found' }, undefined)
        : { statusCode: 201, headers: {}, body: req.body },
    );
    const rec = new EventRecorder({ rest }, { reportingInstance: 'r', clock });
    await rec.normal(node, 'Idle', 'Plan', 'n');
    await rec.normal(node, 'Idle', 'Plan', 'n');
    expect(requests.map((r) => r.method)).toEqual(['POST', 'PATCH', 'POST']);
    expect(requests[2]?.body).toMatchObject({ series: { count: 2 } });
  });

  it('in background mode does not make the caller wait, bounds the writes in flight and drops beyond', async () => {
    const release: (() => void)[] = [];
    const requests: RestRequest[] = [];
    const rest: RestClient = {
      kc: new k8s.KubeConfig(),
      request<T>(req: RestRequest): Promise<RestResponse<T>> {
        requests.push(req);
        return new Promise((resolve) =>
          release.push(() => resolve({ statusCode: 201, headers: {}, body: req.body as T })),
        );
      },
    };
    const rec = new EventRecorder(
      { rest },
      { reportingInstance: 'r', clock: new FakeClock(), background: { maxPending: 2 } },
    );
    // Resolved although the API has not answered.
    await rec.normal(node, 'First', 'Plan', 'a');
    await rec.normal(pod, 'Second', 'Plan', 'b');
    await rec.normal(node, 'Third', 'Plan', 'c'); // a third in flight: dropped
    await flushPromises();
    expect(requests.map((r) => (r.body as { reason: string }).reason)).toEqual(['First', 'Second']);
    expect(rec.stats().dropped).toBe(1);
    let settled = false;
    const done = rec.settled().then(() => (settled = true));
    await flushPromises();
    expect(settled).toBe(false);
    for (const r of release) r();
    await done;
    await rec.normal(node, 'Fourth', 'Plan', 'd'); // room again
    await flushPromises();
    expect(requests).toHaveLength(3);
    for (const r of release.slice(2)) r();
    expect(() => rec.normal(node, 'not camel', 'Plan', 'n')).toThrow(/CamelCase/);
    await rec.settled();
  });

  it('logs API failures instead of throwing, and rejects invalid input at once', async () => {
    const { rest } = fakeRest(() => new Error('connection refused'));
    const warnings: unknown[] = [];
    const logger = {
      warn: (o: unknown) => warnings.push(o),
    } as unknown as import('../../../src/log.js').Logger;
    const rec = new EventRecorder({ rest }, { reportingInstance: 'r', clock: new FakeClock(), logger });
    await expect(rec.normal(node, 'Idle', 'Plan', 'n')).resolves.toBeUndefined();
    expect(rec.stats().failed).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(() => rec.normal(node, 'not camel', 'Plan', 'n')).toThrow(/CamelCase/);
    expect(() => rec.normal(node, 'Ok', '', 'n')).toThrow(/action/);
    await flushPromises();
  });
});
