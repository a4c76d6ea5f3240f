import { describe, expect, it } from '@jest/globals';
import { raceRetryDelay, retryWriteRaces } from '../../../src/controller/retry.js';
import { ApiError } from '../../../src/kube/rest.js';

const conflict = (): ApiError =>
  new ApiError('PATCH', '/api/v1/nodes/n', 409, { kind: 'Status', reason: 'Conflict', code: 409 }, undefined);
const signal = new AbortController().signal;

describe('write race retries', () => {
  it('back off exponentially with jitter while a key keeps racing, up to 10 s', async () => {
    let outcome: 'race' | 'ok' = 'race';
    const r = retryWriteRaces(
      async () => {
        if (outcome === 'race') throw new Error('1 node target write(s) failed', { cause: conflict() });
        return { requeueAfterMs: 30_000 };
      },
      undefined,
      () => 0,
    );
    const delays: (number | undefined)[] = [];
    for (let i = 0; i < 10; i++) delays.push((await r('fleet', signal))?.requeueAfterMs);
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
    // Another key has its own count; a success resets this one.
    expect((await r('other', signal))?.requeueAfterMs).toBe(100);
    outcome = 'ok';
    expect((await r('fleet', signal))?.requeueAfterMs).toBe(30_000);
    outcome = 'race';
    expect((await r('fleet', signal))?.requeueAfterMs).toBe(100);
  });

  it('jitter stretches a delay by up to a half, never shortens it', () => {
    expect(raceRetryDelay(0, () => 0)).toBe(100);
    expect(raceRetryDelay(0, () => 0.999)).toBe(150);
    expect(raceRetryDelay(3, () => 0.5)).toBe(1000);
    for (let i = 0; i < 100; i++) {
      const d = raceRetryDelay(2);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(600);
    }
  });

  it('rethrows anything but a race', async () => {
    const r = retryWriteRaces(async () => {
      throw new Error('boom');
    });
    await expect(r('k', signal)).rejects.toThrow('boom');
  });
});
