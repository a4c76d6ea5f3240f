import { describe, expect, it } from '@jest/globals';
import { FakeClock, flushPromises } from '../../../src/kube/clock.js';
import {
  ExponentialBackoff,
  MaxOfLimiters,
  TokenBucket,
  backoffDelay,
  defaultRateLimiter,
} from '../../../src/kube/ratelimit.js';
import { WorkQueue, objectKey, splitKey, type ReconcileResult } from '../../../src/kube/workqueue.js';

interface Call {
  key: string;
  done: boolean;
  at: number;
  signal: AbortSignal;
  resolve(result?: ReconcileResult): void;
  reject(err: unknown): void;
}

/** A reconcile function whose calls the test finishes by hand, tracking concurrency per key and overall. */
function controlledReconcile(clock: FakeClock) {
  const calls: Call[] = [];
  const running = new Map<string, number>();
  let active = 0;
  let maxActive = 0;
  let sameKeyOverlap = false;
  const fn = (key: string, signal: AbortSignal): Promise<ReconcileResult | void> => {
    active++;
    maxActive = Math.max(maxActive, active);
    const n = (running.get(key) ?? 0) + 1;
    running.set(key, n);
    if (n > 1) sameKeyOverlap = true;
    return new Promise<ReconcileResult | void>((resolve, reject) => {
      const done = (): void => {
        call.done = true;
        active--;
        running.set(key, (running.get(key) ?? 1) - 1);
      };
      const call: Call = {
        key,
        done: false,
        at: clock.now(),
        signal,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      calls.push(call);
    });
  };
  return {
    fn,
    calls,
    get maxActive() {
      return maxActive;
    },
    get sameKeyOverlap() {
      return sameKeyOverlap;
    },
    open: () => calls.filter((c) => !c.done),
  };
}

/** A reconcile that records keys and times and succeeds or fails as told. */
function recordingReconcile(
  clock: FakeClock,
  outcome: (key: string, n: number) => 'ok' | 'fail' | ReconcileResult,
) {
  const seen: { key: string; at: number }[] = [];
  const counts = new Map<string, number>();
  const fn = async (key: string): Promise<ReconcileResult | void> => {
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    seen.push({ key, at: clock.now() });
    const o = outcome(key, n);
    if (o === 'fail') throw new Error(`boom ${key} #${n}`);
    if (o === 'ok') return;
    return o;
  };
  return { fn, seen };
}

describe('WorkQueue de-duplication', () => {
  it('processes a key added many times before start once', async () => {
    const clock = new FakeClock();
    const r = recordingReconcile(clock, () => 'ok');
    const q = new WorkQueue(r.fn, { name: 't', clock, concurrency: 2 });
    for (const k of ['a', 'a', 'b', 'a', 'b', 'c']) q.add(k);
    expect(q.len()).toBe(3);
    q.start();
    await q.whenIdle();
    expect(r.seen.map((s) => s.key)).toEqual(['a', 'b', 'c']);
  });

  it('re-queues a key added while it is processed exactly once, after the first run ends', async () => {
    const clock = new FakeClock();
    const c = controlledReconcile(clock);
    const q = new WorkQueue(c.fn, { name: 't', clock, concurrency: 4 });
    q.start();
    q.add('a');
    await flushPromises();
    expect(c.calls).toHaveLength(1);
    q.add('a');
    q.add('a');
    q.add('a');
    await flushPromises();
    // Free workers must not pick up the same key while it runs.
    expect(c.calls).toHaveLength(1);
    expect(q.len()).toBe(0);
    c.calls[0]?.resolve();
    await flushPromises();
    expect(c.calls).toHaveLength(2);
    c.calls[1]?.resolve();
    await q.whenIdle();
    expect(c.calls).toHaveLength(2);
    expect(c.sameKeyOverlap).toBe(false);
  });

  it('never runs one key concurrently with itself under load', async () => {
    const clock = new FakeClock();
    const c = controlledReconcile(clock);
    const q = new WorkQueue(c.fn, { name: 't', clock, concurrency: 3 });
    q.start();
    for (let round = 0; round < 20; round++) {
      q.add(`k${round % 4}`);
      q.add(`k${(round + 1) % 4}`);
      await flushPromises(1);
      if (round % 2 === 0) c.open()[0]?.resolve();
    }
    while (c.open().length > 0) {
      for (const x of c.open()) x.resolve();
      await flushPromises();
    }
    await q.whenIdle();
    expect(c.sameKeyOverlap).toBe(false);
    expect(c.maxActive).toBeLessThanOrEqual(3);
  });
});

describe('WorkQueue concurrency', () => {
  it('runs at most N keys at once and all of them eventually', async () => {
    const clock = new FakeClock();
    const c = controlledReconcile(clock);
    const q = new WorkQueue(c.fn, { name: 't', clock, concurrency: 3 });
    for (let i = 0; i < 10; i++) q.add(`k${i}`);
    q.start();
    await flushPromises();
    expect(q.active()).toBe(3);
    expect(q.len()).toBe(7);
    let finished = 0;
    while (finished < c.calls.length) {
      c.calls[finished++]?.resolve();
      await flushPromises();
      expect(q.active()).toBeLessThanOrEqual(3);
    }
    await q.whenIdle();
    expect(c.calls.map((x) => x.key).sort()).toEqual([...Array(10).keys()].map((i) => `k${i}`).sort());
    expect(c.maxActive).toBe(3);
  });

  it('rejects a non-positive concurrency', () => {
    expect(() => new WorkQueue(async () => {}, { name: 't', concurrency: 0 })).toThrow(/concurrency/);
  });
});

describe('WorkQueue retries', () => {
  it('retries a failing key with exponentially growing delays', async () => {
    const clock = new FakeClock();
    const r = recordingReconcile(clock, () => 'fail');
    const q = new WorkQueue(r.fn, {
      name: 't',
      clock,
      rateLimiter: new ExponentialBackoff(5, 60_000),
    });
    q.start();
    q.add('a');
    await clock.advance(4);
    expect(r.seen.map((s) => s.at)).toEqual([0]);
    await clock.advance(1);
    expect(r.seen.map((s) => s.at)).toEqual([0, 5]);
    await clock.advance(200);
    // 0, +5, +10, +20, +40, +80
    expect(r.seen.map((s) => s.at)).toEqual([0, 5, 15, 35, 75, 155]);
    expect(q.numRequeues('a')).toBe(6);
    await q.shutdown();
  });

  it('resets the backoff after a success (forget)', async () => {
    const clock = new FakeClock();
    // Fails three times, succeeds, then fails again.
    const r = recordingReconcile(clock, (_k, n) => (n === 4 ? 'ok' : 'fail'));
    const q = new WorkQueue(r.fn, { name: 't', clock, rateLimiter: new ExponentialBackoff(5, 60_000) });
    q.start();
    q.add('a');
    await clock.advance(100);
    expect(r.seen.map((s) => s.at)).toEqual([0, 5, 15, 35]);
    expect(q.numRequeues('a')).toBe(0);
    q.add('a');
    await clock.advance(5);
    expect(r.seen.map((s) => s.at)).toEqual([0, 5, 15, 35, 100, 105]);
    await q.shutdown();
  });

  it('keeps retry histories separate per key', async () => {
    const clock = new FakeClock();
    const r = recordingReconcile(clock, (k) => (k === 'bad' ? 'fail' : 'ok'));
    const q = new WorkQueue(r.fn, { name: 't', clock, rateLimiter: new ExponentialBackoff(5, 60_000) });
    q.start();
    q.add('bad');
    await clock.advance(15);
    q.add('good');
    await flushPromises();
    expect(q.numRequeues('bad')).toBe(3);
    expect(q.numRequeues('good')).toBe(0);
    await q.shutdown();
  });

  it('requeue: true retries with backoff without counting as an error', async () => {
    const clock = new FakeClock();
    const errors: string[] = [];
    const r = recordingReconcile(clock, (_k, n) => (n < 3 ? { requeue: true } : 'ok'));
    const q = new WorkQueue(r.fn, {
      name: 't',
      clock,
      rateLimiter: new ExponentialBackoff(5, 60_000),
      hooks: { error: (_n, key) => errors.push(key) },
    });
    q.start();
    q.add('a');
    await clock.advance(100);
    expect(r.seen.map((s) => s.at)).toEqual([0, 5, 15]);
    expect(errors).toEqual([]);
  });
});

describe('WorkQueue addAfter', () => {
  it('adds a key only once its time has come', async () => {
    const clock = new FakeClock();
    const r = recordingReconcile(clock, () => 'ok');
    const q = new WorkQueue(r.fn, { name: 't', clock });
    q.start();
    q.addAfter('a', 1000);
    await clock.advance(999);
    expect(r.seen).toEqual([]);
    expect(q.delayedCount()).toBe(1);
    await clock.advance(1);
    expect(r.seen).toEqual([{ key: 'a', at: 1000 }]);
    expect(q.delayedCount()).toBe(0);
  });

  it('keeps the earliest of several requested times', async () => {
    const clock = new FakeClock();
    const r = recordingReconcile(clock, () => 'ok');
    const q = new WorkQueue(r.fn, { name: 't', clock });
    q.start();
    q.addAfter('a', 5000);
    q.addAfter('a', 2000);
    q.addAfter('a', 3000);
    await clock.advance(10_000);
    expect(r.seen).toEqual([{ key: 'a', at: 2000 }]);
  });

  it('honours requeueAfterMs returned by the reconcile', async () => {
    const clock = new FakeClock();
    const r = recordingReconcile(clock, (_k, n) => (n < 3 ? { requeueAfterMs: 30_000 } : 'ok'));
    const q = new WorkQueue(r.fn, { name: 't', clock });
    q.start();
    q.add('a');
    await clock.advance(120_000);
    expect(r.seen.map((s) => s.at)).toEqual([0, 30_000, 60_000]);
  });

  it('treats a non-positive delay as an immediate add', async () => {
    const clock = new FakeClock();
    const r = recordingReconcile(clock, () => 'ok');
    const q = new WorkQueue(r.fn, { name: 't', clock });
    q.start();
    q.addAfter('a', 0);
    await flushPromises();
    expect(r.seen).toEqual([{ key: 'a', at: 0 }]);
  });
});

describe('WorkQueue shutdown', () => {
  it('waits for in-flight keys, drops queued and delayed ones, aborts the signal', async () => {
    const clock = new FakeClock();
    const c = controlledReconcile(clock);
    const q = new WorkQueue(c.fn, { name: 't', clock, concurrency: 1 });
    q.start();
    q.add('a');
    q.add('b');
    q.addAfter('c', 1000);
    await flushPromises();
    expect(c.calls).toHaveLength(1);
    let resolved = false;
    const done = q.shutdown().then(() => {
      resolved = true;
    });
    await flushPromises();
    expect(c.calls[0]?.signal.aborted).toBe(true);
    expect(resolved).toBe(false);
    expect(clock.pending()).toBe(0);
    q.add('d');
    c.calls[0]?.resolve();
    await done;
    expect(resolved).toBe(true);
    await clock.advance(5000);
    expect(c.calls.map((x) => x.key)).toEqual(['a']);
  });

  it('with drainQueued, processes what was queued before resolving', async () => {
    const clock = new FakeClock();
    const r = recordingReconcile(clock, () => 'ok');
    const q = new WorkQueue(r.fn, { name: 't', clock, concurrency: 1 });
    q.add('a');
    q.add('b');
    q.start();
    await q.shutdown({ drainQueued: true });
    expect(r.seen.map((s) => s.key)).toEqual(['a', 'b']);
  });

  it('does not retry keys that fail during shutdown', async () => {
    const clock = new FakeClock();
    const c = controlledReconcile(clock);
    const q = new WorkQueue(c.fn, { name: 't', clock });
    q.start();
    q.add('a');
    await flushPromises();
    const done = q.shutdown();
    c.calls[0]?.reject(new Error('aborted'));
    await done;
    expect(q.delayedCount()).toBe(0);
    expect(clock.pending()).toBe(0);
    expect(() => q.start()).toThrow(/shut down/);
  });
});

describe('WorkQueue hooks', () => {
  it('reports depth, queue latency, work duration, retries and errors', async () => {
    const clock = new FakeClock();
    const c = controlledReconcile(clock);
    const depths: number[] = [];
    const latencies: number[] = [];
    const durations: number[] = [];
    let retries = 0;
    const errors: string[] = [];
    const q = new WorkQueue(c.fn, {
      name: 'nodes',
      clock,
      rateLimiter: new ExponentialBackoff(5, 1000),
      hooks: {
        depth: (_n, d) => depths.push(d),
        queueLatency: (_n, ms) => latencies.push(ms),
        workDuration: (_n, ms) => durations.push(ms),
        retry: () => retries++,
        error: (n, key) => errors.push(`${n}:${key}`),
      },
    });
    q.add('a');
    q.add('b');
    await clock.advance(250);
    q.start();
    await flushPromises();
    await clock.advance(40);
    c.calls[0]?.reject(new Error('x'));
    await flushPromises();
    c.calls[1]?.resolve();
    await flushPromises();
    expect(depths.slice(0, 2)).toEqual([1, 2]);
    expect(Math.max(...depths)).toBe(2);
    expect(latencies[0]).toBe(250);
    expect(durations[0]).toBe(40);
    expect(retries).toBe(1);
    expect(errors).toEqual(['nodes:a']);
    await q.shutdown();
  });
});

describe('rate limiters', () => {
  it('doubles from base and caps at max', () => {
    const b = new ExponentialBackoff(5, 100);
    expect([1, 2, 3, 4, 5, 6, 7].map(() => b.when('k'))).toEqual([5, 10, 20, 40, 80, 100, 100]);
    expect(b.retries('k')).toBe(7);
    b.forget('k');
    expect(b.when('k')).toBe(5);
    expect(backoffDelay(5, 300_000, 1000)).toBe(300_000);
  });

  it('token bucket allows a burst then spaces retries at qps', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(clock, 2, 3);
    expect([1, 2, 3, 4, 5].map(() => bucket.when('x'))).toEqual([0, 0, 0, 500, 1000]);
    await clock.advance(1000);
    // Two tokens refilled, both already reserved by the waiting retries.
    expect(bucket.when('x')).toBe(500);
  });

  it('combined limiter takes the longer delay of both', () => {
    const clock = new FakeClock();
    const l = new MaxOfLimiters([new ExponentialBackoff(5, 1000), new TokenBucket(clock, 1, 2)]);
    expect([l.when('a'), l.when('b'), l.when('c')]).toEqual([5, 5, 1000]);
    expect(defaultRateLimiter(clock, { jitter: 0 }).when('z')).toBe(5);
  });

  it('stretches each backoff by a random jitter, never below the exponential step', () => {
    const lo = new ExponentialBackoff(100, 10_000, 0.5, () => 0);
    const hi = new ExponentialBackoff(100, 10_000, 0.5, () => 0.999);
    expect([1, 2, 3].map(() => lo.when('k'))).toEqual([100, 200, 400]);
    expect([1, 2, 3].map(() => hi.when('k'))).toEqual([150, 300, 600]);
    const d = defaultRateLimiter(new FakeClock());
    const first = d.when('z');
    expect(first).toBeGreaterThanOrEqual(5);
    expect(first).toBeLessThanOrEqual(7);
    expect(() => new ExponentialBackoff(5, 10, 2)).toThrow(/jitter/);
  });

  it('rejects invalid settings', () => {
    expect(() => new ExponentialBackoff(0, 10)).toThrow();
    expect(() => new TokenBucket(new FakeClock(), 0, 1)).toThrow();
  });
});

describe('object keys', () => {
  it('round-trips namespaced and cluster-scoped keys', () => {
    expect(objectKey({ metadata: { namespace: 'ns', name: 'p' } })).toBe('ns/p');
    expect(objectKey({ metadata: { name: 'node-1' } })).toBe('node-1');
    expect(splitKey('ns/p')).toEqual({ namespace: 'ns', name: 'p' });
    expect(splitKey('node-1')).toEqual({ namespace: undefined, name: 'node-1' });
    expect(() => objectKey({ metadata: {} })).toThrow(/name/);
  });
});
