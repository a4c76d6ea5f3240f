import { describe, expect, it } from '@jest/globals';
import { PriceSourceCache } from '../../../src/economics/sources/cache.js';
import { createPriceSource, specProblem } from '../../../src/economics/sources/factory.js';
import type { PriceSourceSpec } from '../../../src/economics/sources/types.js';

const now = new Date('2025-03-01T00:00:00Z');
const later = (seconds: number): Date => new Date(now.getTime() + seconds * 1000);

describe('static value source', () => {
  it('reads its decimal and never expires', async () => {
    const source = createPriceSource({ value: '0.0021' });
    expect(await source.read(now)).toEqual({
      ok: true,
      value: 0.0021,
      decimal: '0.0021',
      readAt: now,
      source: 'value 0.0021',
    });
    expect(source.current(later(10 ** 8))).toMatchObject({ ok: true, value: 0.0021 });
    expect(source.nextRefreshAt()).toBeUndefined();
  });

  it.each([
    ['abc', 'NotANumber', "value 'abc' is not a number"],
    ['-0.2', 'Negative', 'value -0.2 is negative'],
    ['', 'Missing', 'value is empty'],
  ])('refuses %j', async (value, code, reason) => {
    expect(await createPriceSource({ value }).read(now)).toMatchObject({ ok: false, code, reason });
  });
});

describe('ConfigMap key source', () => {
  function withConfigMaps() {
    const maps = new Map<string, Record<string, string>>();
    const lookups: string[] = [];
    const source = createPriceSource(
      { configMapKeyRef: { name: 'prices', key: 'electricity' } },
      {
        configMap: (name) => {
          lookups.push(name);
          return maps.get(name);
        },
      },
    );
    return { maps, lookups, source };
  }

  it('follows the ConfigMap as it is created, edited, broken, fixed and deleted', async () => {
    const { maps, lookups, source } = withConfigMaps();
    expect(await source.read(later(0))).toMatchObject({
      ok: false,
      code: 'Missing',
      reason: 'ConfigMap prices not found',
    });
    maps.set('prices', { other: '1' });
    expect(await source.read(later(1))).toMatchObject({
      code: 'Missing',
      reason: 'key electricity missing from ConfigMap prices',
    });
    maps.set('prices', { electricity: '0.08' });
    expect(await source.read(later(2))).toEqual({
      ok: true,
      value: 0.08,
      decimal: '0.08',
      readAt: later(2),
      source: 'ConfigMap prices key electricity',
    });
    // Read on every call (it is a cache lookup), and a deliberate 50× change is taken as written.
    maps.set('prices', { electricity: '4.00' });
    expect(await source.read(later(3))).toMatchObject({ ok: true, value: 4, decimal: '4.00' });
    // A bad edit is not papered over with the old value: the user must see it.
    maps.set('prices', { electricity: '8 cents' });
    expect(await source.read(later(4))).toMatchObject({
      ok: false,
      code: 'NotANumber',
      reason: "value '8 cents' is not a number",
    });
    maps.set('prices', { electricity: '0.09' });
    expect(await source.read(later(5))).toMatchObject({ ok: true, value: 0.09 });
    maps.delete('prices');
    expect(await source.read(later(6))).toMatchObject({ ok: false, code: 'Missing' });
    expect(lookups).toEqual(Array(7).fill('prices'));
  });

  it('reports a throwing lookup as FetchFailed', async () => {
    const source = createPriceSource(
      { configMapKeyRef: { name: 'prices', key: 'k' } },
      {
        configMap: () => {
          throw new Error('cache not synced');
        },
      },
    );
    expect(await source.read(now)).toMatchObject({
      ok: false,
      code: 'FetchFailed',
      reason: 'ConfigMap prices: cache not synced',
    });
  });

  it('is Missing when the operator gave no lookup at all', async () => {
    const source = createPriceSource({ configMapKeyRef: { name: 'prices', key: 'k' } });
    expect(await source.read(now)).toMatchObject({ ok: false, code: 'Missing' });
  });
});

describe('specs that cannot work', () => {
  it.each<[PriceSourceSpec, RegExp]>([
    [{}, /exactly one of value, configMapKeyRef, http must be set, found none/],
    [{ value: '1', http: { url: 'http://x/' } }, /found value, http/],
    [{ configMapKeyRef: { name: '', key: 'k' } }, /needs a name and a key/],
    [{ http: { url: 'not a url' } }, /is not a URL/],
    [{ http: { url: 'file:///etc/passwd' } }, /must be http or https, not file:/],
    [{ http: { url: 'http://x/', fieldPath: 'a..b' } }, /empty segment/],
    [{ http: { url: 'http://x/', timeoutSeconds: 0 } }, /timeoutSeconds must be a positive number/],
    [
      { http: { url: 'http://x/', refreshSeconds: 600, maxAgeSeconds: 300 } },
      /would expire between refreshes/,
    ],
  ])('%j is InvalidSource', async (spec, reason) => {
    expect(specProblem(spec)).toMatch(reason);
    const reading = await createPriceSource(spec).read(now);
    expect(reading).toMatchObject({ ok: false, code: 'InvalidSource' });
    if (!reading.ok) expect(reading.reason).toMatch(reason);
  });

  it('accepts an HTTP spec with defaults filled in', () => {
    expect(specProblem({ http: { url: 'https://prices.example/x', fieldPath: 'a.b' } })).toBeUndefined();
  });
});

describe('PriceSourceCache', () => {
  it('keeps a source across reconciles and replaces it when the spec changes', async () => {
    const cache = new PriceSourceCache();
    const a = cache.get('ns/pool/revenue', { value: '0.1' });
    expect(cache.get('ns/pool/revenue', { value: '0.1' })).toBe(a);
    const b = cache.get('ns/pool/revenue', { value: '0.2' });
    expect(b).not.toBe(a);
    expect(await b.read(now)).toMatchObject({ value: 0.2 });
    // Key order and absent fields do not count as a change.
    const h1 = cache.get('ns/pool/power', { http: { url: 'http://x/', fieldPath: 'p', refreshSeconds: 60 } });
    const h2 = cache.get('ns/pool/power', {
      http: { refreshSeconds: 60, fieldPath: 'p', url: 'http://x/', timeoutSeconds: undefined },
    });
    expect(h2).toBe(h1);
    expect(cache.size).toBe(2);
    cache.retain((key) => key.startsWith('ns/pool/p'));
    expect(cache.size).toBe(1);
    expect(cache.get('ns/pool/revenue', { value: '0.2' })).not.toBe(b);
  });
});
