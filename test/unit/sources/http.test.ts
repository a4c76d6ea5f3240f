import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { HttpJsonSource } from '../../../src/economics/sources/http.js';
import { createPriceSource } from '../../../src/economics/sources/factory.js';
import type { PriceReading } from '../../../src/economics/sources/types.js';
import { json, LOCAL_EGRESS, PriceServer, stream } from './price-server.js';

const server = new PriceServer();
beforeAll(() => server.start());
afterAll(() => server.stop());
beforeEach(() => {
  server.requests = 0;
});

const t0 = Date.parse('2025-03-01T00:00:00Z');
const at = (seconds: number): Date => new Date(t0 + seconds * 1000);

function raw(fieldPath = 'data.price', timeoutSeconds = 2, path = '/price') {
  return new HttpJsonSource({ url: server.url(path), fieldPath, timeoutSeconds, egress: LOCAL_EGRESS });
}

describe('HttpJsonSource against a misbehaving server', () => {
  it('reads a number at a nested field path', async () => {
    server.behaviour = json({ data: { price: 0.0021 } });
    await expect(raw().fetch()).resolves.toEqual({ ok: true, raw: 0.0021 });
  });

  it('follows array indexes and tolerates a text/plain content type', async () => {
    server.behaviour = json('{"items":[{"price":"1"},{"price":"0.0035"}]}', 200, 'text/plain; charset=utf-8');
    await expect(raw('items.1.price').fetch()).resolves.toEqual({ ok: true, raw: '0.0035' });
    await expect(raw('items[0].price').fetch()).resolves.toEqual({ ok: true, raw: '1' });
  });

  it('reads a bare number body when no field path is given', async () => {
    server.behaviour = json('0.08\n', 200, 'text/plain');
    await expect(raw('').fetch()).resolves.toEqual({ ok: true, raw: 0.08 });
  });

  it('refuses a 500 with the status only', async () => {
    server.behaviour = json({ error: 'boom' }, 500);
    const result = await raw().fetch();
    expect(result).toEqual({ ok: false, code: 'FetchFailed', reason: 'HTTP 500' });
  });

  it('does not follow a redirect, even to an allowed host', async () => {
    let followed = false;
    server.behaviour = (req, res) => {
      if (req.url === '/moved') {
        followed = true;
        json({ data: { price: 1 } })(req, res);
      } else res.writeHead(302, { location: server.url('/moved') }).end();
    };
    expect(await raw().fetch()).toEqual({
      ok: false,
      code: 'FetchFailed',
      reason: 'redirect not followed (HTTP 302)',
    });
    expect(followed).toBe(false);
  });

  it('gives up on a server that never answers, after its own timeout', async () => {
    server.behaviour = () => undefined; // hold the request open forever
    const result = await raw('data.price', 0.3).fetch();
    expect(result).toEqual({
      ok: false,
      code: 'Timeout',
      reason: 'answer took longer than 0.3s',
    });
    expect(server.requests).toBe(1);
  });

  it('gives up on a body that trickles and never ends', async () => {
    server.behaviour = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data": {"price": 0.00');
    };
    const result = await raw('data.price', 0.3).fetch();
    expect(result).toMatchObject({ ok: false, code: 'Timeout' });
    if (!result.ok) expect(result.reason).toBe('body took longer than 0.3s');
  });

  it('refuses garbage and HTML with its size only, never its text', async () => {
    server.behaviour = json('{"data": {"price": 0.0', 200);
    expect(await raw().fetch()).toEqual({
      ok: false,
      code: 'NotJson',
      reason: 'answer is not JSON (22 bytes)',
    });
    server.behaviour = json('<!doctype html><html><body>Bad gateway</body></html>', 200, 'text/html');
    expect(await raw().fetch()).toEqual({
      ok: false,
      code: 'NotJson',
      reason: 'answer is not JSON (52 bytes)',
    });
    server.behaviour = json('', 200);
    expect(await raw().fetch()).toEqual({ ok: false, code: 'NotJson', reason: 'answer is not JSON (empty)' });
  });

  it('names the missing part of a wrong field path', async () => {
    server.behaviour = json({ data: { usd: 1 }, items: [1] });
    expect(await raw('data.price').fetch()).toEqual({
      ok: false,
      code: 'Missing',
      reason: "field data.price missing: data has no key 'price'",
    });
    expect(await raw('items.3').fetch()).toMatchObject({
      reason: 'field items.3 missing: items has 1 items, no index 3',
    });
    expect(await raw('data.usd.x').fetch()).toMatchObject({
      code: 'Missing',
      reason: /data.usd is a number/,
    });
    expect(await raw('constructor').fetch()).toMatchObject({ code: 'Missing' });
    server.behaviour = json({ data: { price: null } });
    expect(await raw().fetch()).toMatchObject({ code: 'Missing', reason: 'field data.price is null' });
  });

  it('refuses a declared huge body from its Content-Length without reading it', async () => {
    const huge = stream(8 * 1024 * 1024, { declareLength: true });
    server.behaviour = huge.behaviour;
    const result = await raw().fetch();
    expect(result).toEqual({
      ok: false,
      code: 'BodyTooLarge',
      reason: 'answer is 8388608 bytes, more than 65536',
    });
    // Loopback socket buffers may absorb a few MB before the abort, so what the server wrote proves nothing.
  });

  it('cuts a chunked body of several MB at the cap, reading little more than the cap', async () => {
    const huge = stream(6 * 1024 * 1024);
    server.behaviour = huge.behaviour;
    // Count the bytes the source actually pulls out of the body stream.
    let pulled = 0;
    const counting: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const counter = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      return new Response(res.body!.pipeThrough(counter), { status: res.status, headers: res.headers });
    };
    const result = await new HttpJsonSource({
      url: server.url(),
      timeoutSeconds: 5,
      egress: LOCAL_EGRESS,
      fetch: counting,
    }).fetch();
    expect(result).toEqual({ ok: false, code: 'BodyTooLarge', reason: 'answer is more than 65536 bytes' });
    expect(pulled).toBeGreaterThan(64 * 1024);
    expect(pulled).toBeLessThan(512 * 1024);
  });

  it('cuts an endless body, which it could only do without buffering it whole', async () => {
    const endless = stream(Infinity);
    server.behaviour = endless.behaviour;
    const result = await new HttpJsonSource({
      url: server.url(),
      timeoutSeconds: 5,
      maxBodyBytes: 1000,
      egress: LOCAL_EGRESS,
    }).fetch();
    expect(result).toMatchObject({ ok: false, code: 'BodyTooLarge', reason: /more than 1000 bytes/ });
    expect(await endless.closed).toBe(false);
  });

  it('reports a refused connection in fixed words, the socket error only to the debug log', async () => {
    const gone = new PriceServer();
    await gone.start();
    const url = gone.url();
    await gone.stop();
    const logged: Record<string, unknown>[] = [];
    const result = await new HttpJsonSource({
      url,
      timeoutSeconds: 2,
      egress: LOCAL_EGRESS,
      debug: (detail) => logged.push(detail),
    }).fetch();
    expect(result).toEqual({
      ok: false,
      code: 'FetchFailed',
      reason: 'connection or TLS handshake failed (details in the operator log)',
    });
    expect(JSON.stringify(logged)).toMatch(/ECONNREFUSED/);
  });

  it('sends headers from Secrets, and shows neither them nor the query string', async () => {
    let apiKey: string | string[] | undefined;
    server.behaviour = (req, res) => {
      apiKey = req.headers['x-api-key'];
      json({}, 503)(req, res);
    };
    const secrets: Record<string, string> = { 'feed/key': 's3cret\n' };
    const source = new HttpJsonSource({
      url: server.url('/price?apikey=q'),
      timeoutSeconds: 2,
      egress: LOCAL_EGRESS,
      headers: [{ name: 'X-Api-Key', secretKeyRef: { name: 'feed', key: 'key' } }],
      readSecret: (name, key) => Promise.resolve(secrets[`${name}/${key}`]),
    });
    expect(await source.fetch()).toEqual({ ok: false, code: 'FetchFailed', reason: 'HTTP 503' });
    expect(apiKey).toBe('s3cret');
    expect(source.description).toBe(`HTTP ${server.url()}?…`);
    delete secrets['feed/key'];
    server.requests = 0;
    expect(await source.fetch()).toEqual({
      ok: false,
      code: 'FetchFailed',
      reason: 'Secret feed key key not found (header X-Api-Key)',
    });
    expect(server.requests).toBe(0);
  });

  it('refuses URL credentials without sending anything', async () => {
    const url = server.url('/price').replace('http://', 'http://user:pw@');
    const result = await new HttpJsonSource({ url, timeoutSeconds: 2, egress: LOCAL_EGRESS }).fetch();
    expect(result).toMatchObject({
      ok: false,
      code: 'NotAllowed',
      reason: /^credentials in the URL are refused/,
    });
    expect(server.requests).toBe(0);
  });
});

describe('an HTTP price source through the validating wrapper', () => {
  const spec = (extra: Record<string, number> = {}) => ({
    http: {
      url: server.url(),
      fieldPath: 'data.price',
      refreshSeconds: 60,
      timeoutSeconds: 0.3,
      maxAgeSeconds: 1800,
      ...extra,
    },
  });

  it('misbehaves in every way in turn, keeps the last good value, then recovers', async () => {
    const source = createPriceSource(spec(), { egress: LOCAL_EGRESS });
    let t = 0;
    const step = async (behaviour: typeof server.behaviour): Promise<PriceReading> => {
      server.behaviour = behaviour;
      t += 60;
      return source.read(at(t));
    };
    // Three good readings build the history for the outlier rule.
    for (const price of [0.0021, 0.0022, 0.002]) {
      expect(await step(json({ data: { price } }))).toMatchObject({ ok: true, value: price, readAt: at(t) });
    }
    const goodAt = at(t);
    const cases: Array<[typeof server.behaviour, string, RegExp | string]> = [
      [json({}, 500), 'FetchFailed', 'HTTP 500'],
      [() => undefined, 'Timeout', /took longer than 0.3s/],
      [json('garbage', 200, 'text/plain'), 'NotJson', 'answer is not JSON (7 bytes)'],
      [json('<html>oops</html>', 200, 'text/html'), 'NotJson', 'answer is not JSON (17 bytes)'],
      [stream(3 * 1024 * 1024).behaviour, 'BodyTooLarge', /more than 65536 bytes/],
      [json({ data: { cost: 1 } }), 'Missing', "field data.price missing: data has no key 'price'"],
      [json({ data: { price: 'abc' } }), 'NotANumber', 'value (a string of 3 characters) is not a number'],
      [json({ data: { price: -0.2 } }), 'Negative', 'value -0.2 is negative'],
      [
        json({ data: { price: 9.1 } }),
        'Outlier',
        'value 9.1 is an outlier: more than 5× the median 0.0021 of the last 3 readings',
      ],
    ];
    for (const [behaviour, code, reason] of cases) {
      const reading = await step(behaviour);
      // Still the last good value, with the refusal as a warning.
      expect(reading).toMatchObject({ ok: true, value: 0.002, decimal: '0.002', readAt: goodAt });
      if (reading.ok) {
        expect(reading.warning?.code).toBe(code);
        expect(reading.warning?.reason).toMatch(reason);
      }
    }
    const recovered = await step(json({ data: { price: '0.0023' } }));
    expect(recovered).toMatchObject({ ok: true, value: 0.0023, decimal: '0.0023', readAt: at(t) });
    expect(recovered).not.toHaveProperty('warning');
  });

  it('does not refetch before refreshSeconds have passed on the injected clock', async () => {
    server.behaviour = json({ data: { price: 0.5 } });
    const source = createPriceSource(spec(), { egress: LOCAL_EGRESS });
    await source.read(at(0));
    await source.read(at(59));
    expect(server.requests).toBe(1);
    expect(source.nextRefreshAt()).toEqual(at(60));
    await source.read(at(60));
    expect(server.requests).toBe(2);
  });

  it('shares one request between concurrent reads', async () => {
    server.behaviour = json({ data: { price: 0.5 } });
    const source = createPriceSource(spec(), { egress: LOCAL_EGRESS });
    const readings = await Promise.all([source.read(at(0)), source.read(at(0)), source.read(at(1))]);
    expect(readings.map((r) => r.ok && r.value)).toEqual([0.5, 0.5, 0.5]);
    expect(server.requests).toBe(1);
  });

  it('goes stale when the last good value outlives maxAgeSeconds, by the clock alone', async () => {
    server.behaviour = json({ data: { price: 0.0021 } });
    const source = createPriceSource(spec(), { egress: LOCAL_EGRESS });
    expect(await source.read(at(0))).toMatchObject({ ok: true, expiresAt: at(1800) });
    server.behaviour = json({}, 502);
    expect(await source.read(at(1800))).toMatchObject({
      ok: true,
      value: 0.0021,
      warning: { code: 'FetchFailed' },
    });
    const stale = await source.read(at(7200));
    expect(stale).toEqual({
      ok: false,
      code: 'Stale',
      reason:
        'last good value 0.0021 read 2h ago is older than maxAgeSeconds 1800 (latest refresh: HTTP 502)',
      source: `HTTP ${server.url()} field data.price`,
    });
    // current() needs no I/O and agrees.
    expect(source.current(at(7200))).toEqual(stale);
    server.behaviour = json({ data: { price: 0.0022 } });
    expect(await source.read(at(7260))).toMatchObject({ ok: true, value: 0.0022, readAt: at(7260) });
  });
});
