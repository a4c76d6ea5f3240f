import { describe, expect, it } from '@jest/globals';
import type { PriceReading, RawResult, RawSource } from '../../../src/economics/sources/types.js';
import {
  DEFAULT_OUTLIER_RULE,
  ValidatedSource,
  formatAge,
  type ValidationOptions,
} from '../../../src/economics/sources/validated.js';

const t0 = Date.parse('2025-03-01T00:00:00Z');
const at = (seconds: number): Date => new Date(t0 + seconds * 1000);

/** A raw source that answers from a script, counting its fetches. */
class Scripted implements RawSource {
  readonly description = 'scripted';
  fetches = 0;
  constructor(public next: RawResult | (() => Promise<RawResult>)) {}
  fetch(): Promise<RawResult> {
    this.fetches++;
    return typeof this.next === 'function' ? this.next() : Promise.resolve(this.next);
  }
  set(raw: unknown): void {
    this.next = { ok: true, raw };
  }
}

const feed: ValidationOptions = {
  refreshSeconds: 60,
  maxAgeSeconds: 600,
  holdLastGood: true,
  outliers: DEFAULT_OUTLIER_RULE,
};

function setup(options: ValidationOptions = feed, first: unknown = 1) {
  const raw = new Scripted({ ok: true, raw: first });
  const source = new ValidatedSource(raw, options);
  let t = 0;
  /** Feeds one raw value a refresh interval after the previous one and returns the reading. */
  const feedValue = async (value: unknown): Promise<PriceReading> => {
    raw.set(value);
    const reading = await source.read(at(t));
    t += options.refreshSeconds || 1;
    return reading;
  };
  return { raw, source, feedValue, now: () => at(t) };
}

describe('ValidatedSource', () => {
  it('reports NotRead before the first read', () => {
    const { source } = setup();
    expect(source.current(at(0))).toEqual({
      ok: false,
      code: 'NotRead',
      reason: 'not read yet',
      source: 'scripted',
    });
  });

  it('reports the refusal itself when no good value was ever read', async () => {
    const { source, raw } = setup();
    raw.next = { ok: false, code: 'FetchFailed', reason: 'HTTP 500 from http://x/' };
    expect(await source.read(at(0))).toEqual({
      ok: false,
      code: 'FetchFailed',
      reason: 'HTTP 500 from http://x/',
      source: 'scripted',
    });
  });

  it('turns a throwing raw source into FetchFailed', async () => {
    const { source, raw } = setup();
    raw.next = () => Promise.reject(new Error('socket hang up'));
    expect(await source.read(at(0))).toMatchObject({
      ok: false,
      code: 'FetchFailed',
      reason: 'socket hang up',
    });
  });

  it('never lets a refused reading overwrite the last good value', async () => {
    const { feedValue } = setup();
    for (const v of ['0.0021', '0.0022', '0.0020']) await feedValue(v);
    for (const bad of ['abc', '-1', null, '0.5', 'Infinity', '0']) {
      const reading = await feedValue(bad);
      expect(reading).toMatchObject({ ok: true, value: 0.002, decimal: '0.0020', readAt: at(120) });
      expect(reading.ok && reading.warning?.at).toBeInstanceOf(Date);
    }
  });

  it('refuses outliers on both sides of the median, naming the rule', async () => {
    const { feedValue } = setup();
    for (const v of [10, 11, 9, 10.5, 40]) await feedValue(v); // 40 is within 5× and accepted
    const high = await feedValue(60);
    expect(high.ok && high.warning).toEqual({
      code: 'Outlier',
      reason: 'value 60 is an outlier: more than 5× the median 10.5 of the last 5 readings',
      at: at(300),
    });
    const low = await feedValue(2);
    expect(low.ok && low.warning?.reason).toBe(
      'value 2 is an outlier: less than 1/5 of the median 10.5 of the last 5 readings',
    );
    expect(low).toMatchObject({ ok: true, value: 40 });
  });

  it('uses the median, so one accepted spike does not shift the reference', async () => {
    const { feedValue } = setup();
    for (const v of [10, 10, 10, 49]) await feedValue(v); // 49 < 5 × 10: accepted
    // A mean (17.25) would allow up to 86; the median (10) refuses 60.
    expect(await feedValue(60)).toMatchObject({ ok: true, value: 49, warning: { code: 'Outlier' } });
  });

  it('does not judge outliers before minHistory good readings', async () => {
    const { feedValue } = setup();
    await feedValue(1);
    expect(await feedValue(100)).toMatchObject({ ok: true, value: 100 });
    expect(await feedValue(1)).toMatchObject({ ok: true, value: 1 });
    expect(await feedValue(1000)).toMatchObject({ ok: true, value: 1, warning: { code: 'Outlier' } });
  });

  it('accepts a new level once it is confirmed by consecutive agreeing readings', async () => {
    const { feedValue } = setup();
    for (const v of [0.05, 0.05, 0.06]) await feedValue(v); // electricity at 5 cents
    expect(await feedValue(2.0)).toMatchObject({ value: 0.06, warning: { code: 'Outlier' } }); // price spike
    expect(await feedValue(2.2)).toMatchObject({ value: 0.06, warning: { code: 'Outlier' } });
    const third = await feedValue(2.1);
    expect(third).toMatchObject({ ok: true, value: 2.1 });
    expect(third).not.toHaveProperty('warning');
    // The spike is now the reference: the old level is the outlier.
    expect(await feedValue(0.05)).toMatchObject({ value: 2.1, warning: { code: 'Outlier' } });
  });

  it('does not confirm outliers that disagree with each other', async () => {
    const { feedValue } = setup();
    for (const v of [1, 1, 1]) await feedValue(v);
    for (const v of [10, 100, 1000, 10]) {
      expect(await feedValue(v)).toMatchObject({ value: 1, warning: { code: 'Outlier' } });
    }
  });

  it('a good reading between outliers resets their confirmation', async () => {
    const { feedValue } = setup();
    for (const v of [1, 1, 1]) await feedValue(v);
    await feedValue(10);
    await feedValue(10);
    await feedValue(1.1);
    expect(await feedValue(10)).toMatchObject({ value: 1.1, warning: { code: 'Outlier' } });
  });

  it('can have the outlier rule turned off', async () => {
    const { feedValue } = setup({ ...feed, outliers: false });
    for (const v of [1, 1, 1]) await feedValue(v);
    expect(await feedValue(1000)).toMatchObject({ ok: true, value: 1000 });
  });

  it('keeps the last good value until maxAgeSeconds, then says Stale with the latest refusal', async () => {
    const { source, raw } = setup();
    raw.set('0.08');
    expect(await source.read(at(0))).toMatchObject({ ok: true, expiresAt: at(600) });
    raw.next = { ok: false, code: 'Timeout', reason: 'answer from http://x/ took longer than 10s' };
    expect(await source.read(at(600))).toMatchObject({ ok: true, value: 0.08, warning: { code: 'Timeout' } });
    expect(source.current(at(601))).toEqual({
      ok: false,
      code: 'Stale',
      reason:
        'last good value 0.08 read 10m ago is older than maxAgeSeconds 600 (latest refresh: answer from http://x/ took longer than 10s)',
      source: 'scripted',
    });
  });

  it('goes Stale when nobody refreshes it, without a latest refusal', async () => {
    const { source } = setup();
    await source.read(at(0));
    expect(source.current(at(3 * 3600 + 300))).toMatchObject({
      code: 'Stale',
      reason: 'last good value 1 read 3h 5m ago is older than maxAgeSeconds 600',
    });
  });

  it('without holding, a refusal makes the price unknown at once and a fix makes it known', async () => {
    const options = { refreshSeconds: 0, holdLastGood: false, outliers: false as const };
    const { source, raw } = setup(options);
    raw.set('0.12');
    expect(await source.read(at(0))).toMatchObject({ ok: true, value: 0.12 });
    expect(source.current(at(10 ** 6))).toMatchObject({ ok: true, value: 0.12 });
    expect(source.current(at(0))).not.toHaveProperty('expiresAt');
    raw.set('twelve cents');
    expect(await source.read(at(1))).toMatchObject({ ok: false, code: 'NotANumber' });
    raw.set('0.13');
    expect(await source.read(at(2))).toMatchObject({ ok: true, value: 0.13 });
    expect(raw.fetches).toBe(3);
  });

  it('refreshes on the injected clock only, and says when next', async () => {
    const { source, raw } = setup();
    expect(source.nextRefreshAt()).toBeUndefined();
    await source.read(at(0));
    await source.read(at(30));
    expect(raw.fetches).toBe(1);
    expect(source.nextRefreshAt()).toEqual(at(60));
    await source.read(at(60));
    expect(raw.fetches).toBe(2);
    await source.read(at(10)); // the clock went back: refresh rather than trust an interval
    expect(raw.fetches).toBe(3);
  });

  it('shares one fetch between concurrent reads', async () => {
    const { source, raw } = setup();
    let release: (r: RawResult) => void = () => undefined;
    raw.next = () => new Promise<RawResult>((resolve) => (release = resolve));
    const a = source.read(at(0));
    const b = source.read(at(0));
    const c = source.read(at(120));
    release({ ok: true, raw: 7 });
    const readings = await Promise.all([a, b, c]);
    expect(readings.map((r) => r.ok && r.value)).toEqual([7, 7, 7]);
    expect(raw.fetches).toBe(1);
  });
});

describe('formatAge', () => {
  it.each([
    [0, '0s'],
    [59_999, '59s'],
    [60_000, '1m'],
    [7_200_000, '2h'],
    [7_500_000, '2h 5m'],
    [86_400_000 * 3 + 3_600_000 * 4, '3d 4h'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});

describe('ValidatedSource: a restart', () => {
  const down: RawResult = { ok: false, code: 'FetchFailed', reason: 'connect ECONNREFUSED' };

  it('holds the last good value restored from status until maxAgeSeconds while the feed is down', async () => {
    const raw = new Scripted(down);
    const source = new ValidatedSource(raw, feed);
    source.restore({ decimal: '0.05', readAt: at(-300) });
    const held = await source.read(at(0));
    expect(held).toMatchObject({ ok: true, decimal: '0.05', readAt: at(-300), expiresAt: at(300) });
    expect(held.ok && held.warning?.code).toBe('FetchFailed');
    expect(source.current(at(300)).ok).toBe(true);
    expect(source.current(at(301))).toMatchObject({ ok: false, code: 'Stale' });
  });

  it('refuses a 100× glitch on the first read after a restart, against the restored value', async () => {
    const raw = new Scripted({ ok: true, raw: 5 });
    const source = new ValidatedSource(raw, feed);
    source.restore({ decimal: '0.05', readAt: at(-30) });
    const r = await source.read(at(0));
    expect(r).toMatchObject({ ok: true, decimal: '0.05' });
    expect(r.ok && r.warning).toMatchObject({
      code: 'Outlier',
      reason: expect.stringMatching(
        /value 5 is an outlier: more than 5× the median 0.05 of the last good value/,
      ),
    });
    // A real new level is still accepted once confirmed.
    for (let i = 1; i <= 2; i++) await source.read(at(60 * i));
    expect(source.current(at(120))).toMatchObject({ ok: true, decimal: '5' });
  });

  it('without a restored value the first reads are believed (what a restart did before)', async () => {
    const raw = new Scripted({ ok: true, raw: 5 });
    const source = new ValidatedSource(raw, feed);
    expect(await source.read(at(0))).toMatchObject({ ok: true, decimal: '5' });
  });

  it('a restored value is ignored once the source read its own, and by sources that hold nothing', async () => {
    const raw = new Scripted({ ok: true, raw: 0.07 });
    const source = new ValidatedSource(raw, feed);
    await source.read(at(0));
    source.restore({ decimal: '0.05', readAt: at(-30) });
    expect(source.current(at(1))).toMatchObject({ decimal: '0.07' });
    const cm = new ValidatedSource(new Scripted(down), { ...feed, holdLastGood: false, outliers: false });
    cm.restore({ decimal: '0.05', readAt: at(-30) });
    expect(await cm.read(at(0))).toMatchObject({ ok: false, code: 'FetchFailed' });
  });
});

describe('ValidatedSource: signed prices (electricity)', () => {
  const signed: ValidationOptions = { ...feed, signed: true };

  it('accepts negative values only when signed', async () => {
    expect(await setup(signed, '-0.012').source.read(at(0))).toMatchObject({ ok: true, decimal: '-0.012' });
    expect(await setup(feed, '-0.012').source.read(at(0))).toMatchObject({ ok: false, code: 'Negative' });
  });

  it('a fall to zero or below is no outlier; a value far larger in size is', async () => {
    const { feedValue } = setup(signed, 0.05);
    for (const v of [0.05, 0.06, 0.05]) expect(await feedValue(v)).toMatchObject({ ok: true });
    expect(await feedValue(-0.03)).toMatchObject({ ok: true, decimal: '-0.03' });
    expect(await feedValue(0)).toMatchObject({ ok: true, decimal: '0' });
    const glitch = await feedValue(-5);
    expect(glitch).toMatchObject({ ok: true, decimal: '0' });
    expect(glitch.ok && glitch.warning?.reason).toMatch(
      /value -5 is an outlier: more than 5× the size of the median 0.05 of the last/,
    );
  });
});
