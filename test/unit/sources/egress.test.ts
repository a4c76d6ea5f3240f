// The egress rules of HTTP price sources: which addresses count as inside the cluster or host, and what a
// refusal says (fixed words and the pool author's own host name, never what a server answered).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { classifyAddress } from '../../../src/economics/sources/address.js';
import { checkTarget, type EgressRules } from '../../../src/economics/sources/egress.js';
import { HttpJsonSource } from '../../../src/economics/sources/http.js';
import { json, PriceServer } from './price-server.js';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['febf::1', 'linkLocal'],
    ['10.0.0.1', 'private'],
    ['10.96.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['::ffff:10.1.2.3', 'private'],
    ['64:ff9b::a9fe:a9fe', 'linkLocal'],
    ['2002:a9fe:a9fe::1', 'linkLocal'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['169.255.0.1', 'public'],
    ['2606:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['not-an-ip', 'invalid'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });
});

const rules = (over: Partial<EgressRules> = {}): EgressRules => ({
  allowedHosts: ['prices.example.com', '*.feeds.example.org'],
  allowHttpHosts: [],
  allowPrivateHosts: [],
  ...over,
});
const publicDns = () => Promise.resolve([{ address: '93.184.215.14', family: 4 as const }]);

describe('checkTarget', () => {
  it.each<[string, EgressRules, true | string]>([
    ['https://prices.example.com/x', rules(), true],
    ['https://a.feeds.example.org/x', rules(), true],
    ['https://PRICES.example.com./x', rules(), true],
    ['https://feeds.example.org/x', rules(), 'host not allowed: feeds.example.org'],
    ['https://evil.example/x', rules(), 'host not allowed: evil.example'],
    ['https://evil.example/x', rules({ allowedHosts: ['*'] }), true],
    ['http://prices.example.com/x', rules(), 'plain http not allowed'],
    ['http://prices.example.com/x', rules({ allowHttpHosts: ['prices.example.com'] }), true],
    ['https://u:p@prices.example.com/x', rules(), 'credentials in the URL are refused'],
    ['ftp://prices.example.com/x', rules(), 'only https URLs are fetched'],
  ])('%s → %s', async (url, r, expected) => {
    const result = await checkTarget(new URL(url), r, publicDns);
    if (expected === true) expect(result).toMatchObject({ ok: true });
    else
      expect(result).toMatchObject({
        ok: false,
        code: 'NotAllowed',
        reason: expect.stringContaining(String(expected)),
      });
  });

  it.each([
    ['https://127.0.0.1/x'],
    ['https://0x7f.1/x'], // WHATWG URL parsing turns this into 127.0.0.1
    ['https://2130706433/x'],
    ['https://169.254.169.254/latest/meta-data/'],
    ['https://[::1]/x'],
    ['https://[::ffff:169.254.169.254]/x'],
    ['https://10.96.0.1/x'],
    ['https://0.0.0.0/x'],
  ])('%s is refused even when its host is on the allowlist', async (url) => {
    const result = await checkTarget(new URL(url), rules({ allowedHosts: ['*'] }), publicDns);
    expect(result).toMatchObject({
      ok: false,
      code: 'NotAllowed',
      reason: /^address not allowed: .* is a loopback/,
    });
  });

  it('refuses a name that resolves to any private address, and never answers with the address', async () => {
    const dns = () =>
      Promise.resolve([
        { address: '93.184.215.14', family: 4 as const },
        { address: '169.254.169.254', family: 4 as const },
      ]);
    const result = await checkTarget(new URL('https://prices.example.com/'), rules(), dns);
    expect(result).toMatchObject({
      ok: false,
      code: 'NotAllowed',
      reason: expect.stringMatching(/^address not allowed: prices.example.com resolves to a loopback/),
      detail: '169.254.169.254 is linkLocal',
    });
    if (!result.ok) expect(result.reason).not.toContain('169.254');
  });

  it('lets an admin allow one exact private host', async () => {
    const dns = () => Promise.resolve([{ address: '10.0.0.7', family: 4 as const }]);
    const allowed = rules({ allowPrivateHosts: ['prices.example.com'] });
    expect(await checkTarget(new URL('https://prices.example.com/'), allowed, dns)).toEqual({
      ok: true,
      host: 'prices.example.com',
      target: { address: '10.0.0.7', family: 4 },
    });
    const other = rules({ allowedHosts: ['*'], allowPrivateHosts: ['prices.example.com'] });
    expect(await checkTarget(new URL('https://other.example.com/'), other, dns)).toMatchObject({ ok: false });
  });

  it('does not look up a host that is not allowed', async () => {
    let lookups = 0;
    const dns = () => {
      lookups++;
      return publicDns();
    };
    await checkTarget(new URL('https://metadata.google.internal/'), rules(), dns);
    expect(lookups).toBe(0);
  });

  it('says a name did not resolve, the resolver error only in detail', async () => {
    const dns = () =>
      Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }));
    expect(await checkTarget(new URL('https://prices.example.com/'), rules(), dns)).toEqual({
      ok: false,
      code: 'FetchFailed',
      reason: 'host did not resolve: prices.example.com',
      detail: 'ENOTFOUND (getaddrinfo ENOTFOUND x)',
    });
  });
});

describe('HttpJsonSource connects to the address it checked', () => {
  const server = new PriceServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('resolves once and connects there with the original Host header', async () => {
    const port = new URL(server.url()).port;
    let host: string | undefined;
    server.behaviour = (req, res) => {
      host = req.headers.host;
      json({ price: 0.5 })(req, res);
    };
    // A rebinding resolver: the first answer is the one checked and used; a later one would be public.
    const answers = ['127.0.0.1', '93.184.215.14'];
    let lookups = 0;
    const source = new HttpJsonSource({
      url: `http://feed.internal:${port}/price`,
      fieldPath: 'price',
      timeoutSeconds: 2,
      egress: {
        allowedHosts: ['feed.internal'],
        allowHttpHosts: ['feed.internal'],
        allowPrivateHosts: ['feed.internal'],
      },
      resolve: () => Promise.resolve([{ address: answers[lookups++] ?? '', family: 4 }]),
    });
    expect(await source.fetch()).toEqual({ ok: true, raw: 0.5 });
    expect(lookups).toBe(1);
    expect(host).toBe(`feed.internal:${port}`);
  });

  it('refuses a rebinding answer without connecting', async () => {
    server.requests = 0;
    const port = new URL(server.url()).port;
    const source = new HttpJsonSource({
      url: `http://feed.internal:${port}/price`,
      timeoutSeconds: 2,
      egress: { allowedHosts: ['feed.internal'], allowHttpHosts: ['feed.internal'], allowPrivateHosts: [] },
      resolve: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]),
    });
    expect(await source.fetch()).toMatchObject({
      ok: false,
      code: 'NotAllowed',
      reason: /^address not allowed/,
    });
    expect(server.requests).toBe(0);
  });
});
