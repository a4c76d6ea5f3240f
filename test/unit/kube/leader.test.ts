import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { FakeClock, flushPromises, sleep } from '../../../src/kube/clock.js';
import { LeaderElector, canAcquire, type Lease } from '../../../src/kube/leader.js';
import { ApiError, type RestClient, type RestRequest, type RestResponse } from '../../../src/kube/rest.js';

const PATH = '/apis/coordination.k8s.io/v1/namespaces/ns/leases/op';

/** An in-memory Lease endpoint with real optimistic concurrency; resourceVersions are opaque strings. */
class FakeLeaseServer {
  lease: Lease | undefined;
  private n = 0;
  failing = new Set<string>();
  writes: string[] = [];
  /** Answers to these candidates come this late (the request itself is handled at once). */
  slow = new Map<string, { clock: FakeClock; ms: number }>();

  client(identity: string): { rest: RestClient } {
    const rest: RestClient = {
      kc: new k8s.KubeConfig(),
      request: async <T>(req: RestRequest): Promise<RestResponse<T>> => {
        await Promise.resolve();
        if (this.failing.has(identity)) throw new Error(`${identity}: connection refused`);
        const slow = this.slow.get(identity);
        if (!slow) return this.handle(req) as RestResponse<T>;
        let answer: RestResponse<unknown> | undefined;
        let error: unknown;
        try {
          answer = this.handle(req);
        } catch (err) {
          error = err;
        }
        await sleep(slow.clock, slow.ms);
        if (!answer) throw error;
        return answer as RestResponse<T>;
      },
    };
    return { rest };
  }

  private handle(req: RestRequest): RestResponse<unknown> {
    const fail = (code: number, reason: string): never => {
      throw new ApiError(
        req.method,
        req.path,
        code,
        { kind: 'Status', reason, message: reason, code },
        undefined,
      );
    };
    if (req.method === 'GET') {
      if (!this.lease) fail(404, 'NotFound');
      return { statusCode: 200, headers: {}, body: structuredClone(this.lease) };
    }
    const body = structuredClone(req.body) as Lease;
    if (req.method === 'POST') {
      if (this.lease) fail(409, 'AlreadyExists');
    } else if (req.method === 'PUT') {
      if (req.path !== PATH) fail(404, 'NotFound');
      if (body.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) fail(409, 'Conflict');
    }
    // Opaque and deliberately not numeric-ordered: clients may only compare for equality.
    body.metadata.resourceVersion = `rv-${(this.n++).toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    this.lease = body;
    this.writes.push(body.spec.holderIdentity ?? '');
    return { statusCode: req.method === 'POST' ? 201 : 200, headers: {}, body: structuredClone(body) };
  }
}

function elector(
  server: FakeLeaseServer,
  clock: FakeClock,
  identity: string,
  log: string[],
  stopped?: () => Promise<void>,
) {
  return new LeaderElector(server.client(identity), {
    namespace: 'ns',
    name: 'op',
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    clock,
    onStartedLeading: (signal) => {
      log.push(`${identity} started`);
      signal.addEventListener('abort', () => log.push(`${identity} signal aborted`));
    },
    onStoppedLeading: async () => {
      await stopped?.();
      log.push(`${identity} stopped`);
    },
  });
}

async function run(clock: FakeClock, ms: number, check?: () => void): Promise<void> {
  for (let t = 0; t < ms; t += 250) {
    await clock.advance(250);
    check?.();
  }
}

describe('canAcquire', () => {
  it.each([
    ['free lease', { holderIdentity: '' }, 0, 0, true],
    ['our own lease', { holderIdentity: 'me', leaseDurationSeconds: 15 }, 0, 1, true],
    ['held and fresh', { holderIdentity: 'other', leaseDurationSeconds: 15 }, 1000, 15_999, false],
    [
      'held and expired on our clock',
      { holderIdentity: 'other', leaseDurationSeconds: 15 },
      1000,
      16_000,
      true,
    ],
    ['released (holder cleared)', { holderIdentity: '', leaseDurationSeconds: 1 }, 1000, 1000, true],
  ])('%s', (_n, spec, observedAt, now, ok) => {
    expect(canAcquire(spec, 'me', observedAt, now).ok).toBe(ok);
  });
});

describe('LeaderElector', () => {
  it('elects exactly one of two candidates and keeps it while it renews', async () => {
    const server = new FakeLeaseServer();
    const clock = new FakeClock(1_000_000);
    const log: string[] = [];
    const a = elector(server, clock, 'a', log);
    const b = elector(server, clock, 'b', log);
    a.start();
    b.start();
    await run(clock, 60_000, () => expect(a.isLeader() && b.isLeader()).toBe(false));
    const leaders = [a, b].filter((e) => e.isLeader());
    expect(leaders).toHaveLength(1);
    const leaderId = a.isLeader() ? 'a' : 'b';
    expect(server.lease?.spec.holderIdentity).toBe(leaderId);
    expect(server.lease?.spec.leaseTransitions).toBe(0);
    expect(a.leader()).toBe(leaderId);
    expect(b.leader()).toBe(leaderId);
    expect(log).toEqual([`${leaderId} started`]);
    expect(server.lease?.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await a.stop();
    await b.stop();
  });

  it('hands over within one retry period after a clean release', async () => {
    const server = new FakeLeaseServer();
    const clock = new FakeClock(0);
    const log: string[] = [];
    const a = elector(server, clock, 'a', log);
    a.start();
    await run(clock, 1000);
    const b = elector(server, clock, 'b', log);
    b.start();
    await run(clock, 5000);
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    await a.stop();
    expect(a.state()).toBe('stopped');
    expect(server.lease?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    const releasedAt = clock.now();
    while (!b.isLeader()) await clock.advance(250);
    expect(clock.now() - releasedAt).toBeLessThanOrEqual(2000);
    expect(server.lease?.spec.leaseTransitions).toBe(1);
    expect(log).toEqual(['a started', 'a signal aborted', 'a stopped', 'b started']);
    await b.stop();
  });

  it('takes over only after the lease expires when the leader stops renewing', async () => {
    const server = new FakeLeaseServer();
    const clock = new FakeClock(0);
    const log: string[] = [];
    const a = elector(server, clock, 'a', log);
    const b = elector(server, clock, 'b', log);
    a.start();
    await run(clock, 1000);
    b.start();
    await run(clock, 4000);
    await a.stop({ release: false }); // like a SIGKILL: the lease is left as it was
    const stoppedAt = clock.now();
    while (!b.isLeader()) await clock.advance(250);
    const waited = clock.now() - stoppedAt;
    expect(waited).toBeGreaterThanOrEqual(15_000 - 2000);
    expect(waited).toBeLessThanOrEqual(15_000 + 2000);
    await b.stop();
  });

  it('steps down when it cannot renew before the deadline, before anyone else can take over', async () => {
    const server = new FakeLeaseServer();
    const clock = new FakeClock(0);
    const log: string[] = [];
    const a = elector(server, clock, 'a', log);
    const b = elector(server, clock, 'b', log);
    a.start();
    await run(clock, 1000);
    b.start();
    await run(clock, 3000);
    server.failing.add('a');
    const cutAt = clock.now();
    let aDownAt = -1;
    let bUpAt = -1;
    await run(clock, 30_000, () => {
      if (aDownAt < 0 && !a.isLeader()) aDownAt = clock.now();
      if (bUpAt < 0 && b.isLeader()) bUpAt = clock.now();
      expect(a.isLeader() && b.isLeader()).toBe(false);
    });
    expect(aDownAt - cutAt).toBeLessThanOrEqual(10_000);
    expect(bUpAt).toBeGreaterThan(aDownAt);
    expect(log.slice(0, 3)).toEqual(['a started', 'a signal aborted', 'a stopped']);
    expect(log).toContain('b started');
    // Back on the network, a finds b's lease and stays a standby.
    server.failing.delete('a');
    await run(clock, 5000);
    expect(a.isLeader()).toBe(false);
    expect(a.leader()).toBe('b');
    await a.stop();
    await b.stop();
  });

  it('counts a renewal from its request: an answer later than the deadline renews nothing', async () => {
    const server = new FakeLeaseServer();
    const clock = new FakeClock(0);
    const log: string[] = [];
    const a = elector(server, clock, 'a', log);
    a.start();
    await run(clock, 3000);
    expect(a.isLeader()).toBe(true);
    // Every answer now takes 11 s: each renewal is stored, but none is known to have been before its deadline.
    server.slow.set('a', { clock, ms: 11_000 });
    const slowFrom = clock.now();
    let downAt = -1;
    let ledAgain = false;
    await run(clock, 60_000, () => {
      if (downAt < 0 && !a.isLeader()) downAt = clock.now();
      else if (downAt >= 0 && a.isLeader()) ledAgain = true;
    });
    expect(downAt).toBeGreaterThan(0);
    // The last renewal sent before the slowdown was at most a retry period earlier.
    expect(downAt - slowFrom).toBeLessThanOrEqual(10_000);
    expect(ledAgain).toBe(false);
    expect(log).toEqual(['a started', 'a signal aborted', 'a stopped']);
    server.slow.delete('a');
    await a.stop({ release: false });
  });

  it('times its term on the monotonic clock: a wall-clock step does not end it', async () => {
    const server = new FakeLeaseServer();
    const clock = new FakeClock(0);
    const log: string[] = [];
    const a = elector(server, clock, 'a', log);
    const b = elector(server, clock, 'b', log);
    a.start();
    await run(clock, 1000);
    b.start();
    await run(clock, 3000);
    // The wall clock jumps a minute ahead while one renewal fails (2 s after the last good one).
    clock.stepWallClock(60_000);
    server.failing.add('a');
    await run(clock, 2000, () => expect(a.isLeader()).toBe(true));
    server.failing.delete('a');
    clock.stepWallClock(-120_000);
    await run(clock, 30_000, () => {
      expect(a.isLeader()).toBe(true);
      expect(b.isLeader()).toBe(false);
    });
    expect(log).toEqual(['a started']);
    await a.stop();
    await b.stop();
  });

  it('begins no new term before the last one has ended', async () => {
    const server = new FakeLeaseServer();
    const clock = new FakeClock(0);
    const log: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const a = elector(server, clock, 'a', log, () => gate);
    a.start();
    await run(clock, 1000);
    server.failing.add('a');
    await run(clock, 11_000);
    server.failing.delete('a');
    // Renewals succeed again, but the old term's step-down (its reconciles returning) is still under way.
    await run(clock, 10_000);
    expect(log).toEqual(['a started', 'a signal aborted']);
    expect(a.isLeader()).toBe(false);
    release();
    await run(clock, 3000);
    expect(log).toEqual(['a started', 'a signal aborted', 'a stopped', 'a started']);
    expect(a.isLeader()).toBe(true);
    await a.stop();
  });

  it('runs work only on the leader', async () => {
    const server = new FakeLeaseServer();
    const clock = new FakeClock(0);
    const a = elector(server, clock, 'a', []);
    const b = elector(server, clock, 'b', []);
    a.start();
    await run(clock, 500);
    b.start();
    await run(clock, 2000);
    expect(await a.runIfLeader(async (signal) => (signal.aborted ? 'aborted' : 'acted'))).toBe('acted');
    expect(await b.runIfLeader(async () => 'acted')).toBeUndefined();
    await a.stop();
    await b.stop();
    await flushPromises();
  });

  it('rejects inconsistent timings', () => {
    const server = new FakeLeaseServer();
    const base = { namespace: 'ns', name: 'op', identity: 'x', onStartedLeading: () => {} };
    expect(
      () => new LeaderElector(server.client('x'), { ...base, leaseDurationMs: 5000, renewDeadlineMs: 5000 }),
    ).toThrow();
    expect(() => new LeaderElector(server.client('x'), { ...base, leaseDurationMs: 1500 })).toThrow();
    expect(() => new LeaderElector(server.client('x'), { ...base, identity: '' })).toThrow();
  });
});
