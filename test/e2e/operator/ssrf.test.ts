// Issue 10, item 4: a MiningPool's HTTP price source cannot be turned against the cluster. The operator runs
// as the chart's ServiceAccount with an admin's allowlist that names every host below and allows plain http to
// them (the loosest an admin could plausibly be), but no private host except one feed. Each source pointing
// inside the cluster or the host is refused with a fixed reason; a listener the test starts on 127.0.0.1 sees
// no connection; and nothing a server answered (a unique marker) appears in any pool's status or Event.
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Manager } from '../../../src/controller/manager.js';
import { Kinds, resourcePath } from '../../../src/kube/resources.js';
import { createWorld, poolManifest, startOperator, waitFor, type World } from './harness.js';

const MARKER = `AKIA-SSRF-MARKER-${randomBytes(6).toString('hex')}`;

let w: World;
let op: Manager | undefined;
/** The "victim": a plain TCP listener on 127.0.0.1 that counts connections and answers with the marker. */
let victim: TcpServer;
let victimPort = 0;
let victimConnections = 0;
/** An allowed feed on 127.0.0.2 (the one private host the admin allows) whose answers carry the marker. */
let feed: Server;
let feedPort = 0;
let apiHost = '';
let apiPort = '';

type Condition = { type: string; status: string; reason: string; message: string };
type Pool = { status?: { conditions?: Condition[] } };

interface Case {
  pool: string;
  url: string;
  fieldPath?: string;
  /** Expected YieldKnown reason and a fixed part of its message. */
  reason: string;
  message: RegExp;
}

const cases = (): Case[] => [
  {
    pool: 'loopback',
    url: `http://127.0.0.1:${victimPort}/price`,
    reason: 'NotAllowed',
    message: /address not allowed: 127\.0\.0\.1 is a loopback, link-local, private or reserved address/,
  },
  {
    pool: 'loopback-hex',
    url: `http://0x7f.0.0.1:${victimPort}/price`,
    reason: 'NotAllowed',
    message: /address not allowed: 127\.0\.0\.1 is a loopback/,
  },
  {
    pool: 'localhost',
    url: `http://localhost:${victimPort}/price`,
    reason: 'NotAllowed',
    message: /address not allowed: localhost resolves to a loopback/,
  },
  {
    pool: 'metadata',
    url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    reason: 'NotAllowed',
    message: /address not allowed: 169\.254\.169\.254 is a loopback, link-local/,
  },
  {
    pool: 'metadata-v6',
    url: 'http://[::ffff:169.254.169.254]/latest/meta-data/',
    reason: 'NotAllowed',
    message: /address not allowed: ::ffff:a9fe:a9fe is a loopback, link-local/,
  },
  {
    pool: 'apiserver',
    url: `https://${apiHost}:${apiPort}/api/v1/namespaces/kube-system/secrets`,
    reason: 'NotAllowed',
    message: /address not allowed: .* is a loopback, link-local, private or reserved address/,
  },
  {
    pool: 'private',
    url: `http://10.0.0.1:${victimPort}/price`,
    reason: 'NotAllowed',
    message: /address not allowed: 10\.0\.0\.1 is a loopback, link-local, private/,
  },
  {
    pool: 'unlisted',
    url: 'https://prices.example.com/price',
    reason: 'NotAllowed',
    message: /host not allowed: prices\.example\.com is not in the operator's priceSources\.allowedHosts/,
  },
  {
    pool: 'https-only',
    url: `http://feed.example.com/price`,
    reason: 'NotAllowed',
    message: /plain http not allowed: use https/,
  },
  {
    pool: 'redirect',
    url: `http://127.0.0.2:${feedPort}/redirect`,
    reason: 'FetchFailed',
    message: /redirect not followed \(HTTP 302\)/,
  },
  {
    pool: 'not-json',
    url: `http://127.0.0.2:${feedPort}/html`,
    reason: 'NotJson',
    message: /answer is not JSON \(\d+ bytes\)/,
  },
  {
    pool: 'string-field',
    url: `http://127.0.0.2:${feedPort}/json`,
    fieldPath: 'AccessKeyId',
    reason: 'NotANumber',
    message: /value \(a string of \d+ characters\) is not a number/,
  },
];

beforeAll(async () => {
  victim = createTcpServer((socket) => {
    victimConnections++;
    socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{"price":"${MARKER}"}`);
  });
  await new Promise<void>((resolve) => victim.listen(0, '127.0.0.1', resolve));
  victimPort = (victim.address() as AddressInfo).port;
  feed = createServer((req, res) => {
    if (req.url === '/keyed') {
      const ok = req.headers['x-api-key'] === `key-${MARKER}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? '{"price": 0.02}' : `{"error": "bad key ${String(req.headers['x-api-key'])}"}`);
    } else if (req.url === '/redirect') {
      res.writeHead(302, { location: `http://127.0.0.1:${victimPort}/price?${MARKER}` }).end(MARKER);
    } else if (req.url === '/html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<html>${MARKER}</html>`);
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ AccessKeyId: MARKER }));
    }
  });
  await new Promise<void>((resolve) => feed.listen(0, '127.0.0.2', resolve));
  feedPort = (feed.address() as AddressInfo).port;

  w = await createWorld({ prefix: 'op-ssrf', nodes: 1, withPool: false });
  const server = new URL(w.c.kc.getCurrentCluster()?.server ?? '');
  apiHost = server.hostname;
  apiPort = server.port || '443';
  const hosts = [
    '127.0.0.1',
    'localhost',
    '169.254.169.254',
    '::ffff:a9fe:a9fe',
    apiHost.replace(/^\[|\]$/g, ''),
    '10.0.0.1',
    '127.0.0.2',
    'feed.example.com',
  ];
  op = await startOperator(w, {
    priceEgress: {
      allowedHosts: hosts,
      allowHttpHosts: hosts.filter((h) => h !== 'feed.example.com'),
      allowPrivateHosts: ['127.0.0.2'],
    },
  });
  for (const c of cases()) {
    const pool = poolManifest(w.ns, {
      revenueUsdPerMhsDay: {
        http: { url: c.url, ...(c.fieldPath && { fieldPath: c.fieldPath }), timeoutSeconds: 5 },
      },
    }) as { metadata: { name: string } };
    pool.metadata.name = c.pool;
    await w.apply(pool);
  }
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await new Promise((resolve) => victim?.close(resolve));
  await new Promise((resolve) => feed?.close(resolve));
  await w?.cleanup();
}, 60_000);

it('refuses every source aimed inside the cluster with a fixed reason, and shows nothing a server said', async () => {
  const seen: string[] = [];
  for (const c of cases()) {
    const cond = await waitFor(`pool ${c.pool} YieldKnown False`, async () => {
      const p = await w.get<Pool>('MiningPool', c.pool);
      const y = p?.status?.conditions?.find((x) => x.type === 'YieldKnown');
      return y?.status === 'False' ? y : undefined;
    });
    seen.push(`${c.pool.padEnd(13)} ${c.url}\n    → ${cond.reason}: ${cond.message}`);
    expect(`${c.pool}: ${cond.reason}`).toBe(`${c.pool}: ${c.reason}`);
    expect(cond.message).toMatch(c.message);
  }
  // Each refusal also reaches an Event; none of them, and no status, carries the marker.
  await waitFor('a YieldUnknown Event for every pool', async () => {
    const events = await allEvents();
    return cases().every((c) =>
      events.some((e) => e.regarding?.name === c.pool && e.reason === 'YieldUnknown'),
    );
  });
  const pools = await w.list<Pool>('MiningPool');
  expect(pools).toHaveLength(cases().length);
  const everything = JSON.stringify({ pools: pools.map((p) => p.status), events: await allEvents() });
  expect(everything).not.toContain(MARKER);
  expect(everything).not.toMatch(/ECONNREFUSED|EHOSTUNREACH|ETIMEDOUT|socket hang up|ENOTFOUND/);
  expect(victimConnections).toBe(0);
  process.stdout.write(`SSRF cases (marker ${MARKER}):\n${seen.join('\n')}\n`);
}, 120_000);

it('sends an API key from a Secret the pool names, and never shows it', async () => {
  await w.apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'feed-key' },
    stringData: { key: `key-${MARKER}` },
  });
  const keyed = (name: string, secret: string) => {
    const pool = poolManifest(w.ns, {
      revenueUsdPerMhsDay: {
        http: {
          url: `http://127.0.0.2:${feedPort}/keyed`,
          fieldPath: 'price',
          headers: [{ name: 'X-Api-Key', secretKeyRef: { name: secret, key: 'key' } }],
        },
      },
    }) as { metadata: { name: string } };
    pool.metadata.name = name;
    return pool;
  };
  await w.apply(keyed('keyed', 'feed-key'), keyed('keyed-missing', 'no-such-secret'));
  const yieldOf = async (pool: string) =>
    (await w.get<Pool>('MiningPool', pool))?.status?.conditions?.find((x) => x.type === 'YieldKnown');
  const good = await waitFor('pool keyed YieldKnown True', async () => {
    const y = await yieldOf('keyed');
    return y?.status === 'True' ? y : undefined;
  });
  expect(good.reason).toBe('PricesKnown');
  const missing = await waitFor('pool keyed-missing YieldKnown False', async () => {
    const y = await yieldOf('keyed-missing');
    return y?.status === 'False' ? y : undefined;
  });
  expect(missing.message).toMatch(/Secret no-such-secret key key not found \(header X-Api-Key\)$/);
  const everything = JSON.stringify({
    pools: (await w.list<Pool>('MiningPool')).map((p) => p.status),
    events: await allEvents(),
  });
  expect(everything).not.toContain(MARKER);
}, 60_000);

it('refuses credentials in the URL at the API, naming the field', async () => {
  const pool = poolManifest(w.ns, {
    revenueUsdPerMhsDay: { http: { url: 'https://user:s3cret@prices.example.com/price' } },
  }) as { metadata: { name: string } };
  pool.metadata.name = 'userinfo';
  const yaml = JSON.stringify(pool);
  const r = await w.c.kubectl(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], {
    input: yaml,
    allowFail: true,
  });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/revenueUsdPerMhsDay.http.url must not hold credentials/);
});

async function allEvents(): Promise<{ reason?: string; note?: string; regarding?: { name?: string } }[]> {
  const res = await w.client.rest.request<{
    items: { reason?: string; note?: string; regarding?: { name?: string } }[];
  }>({ method: 'GET', path: resourcePath(Kinds.Event, { namespace: w.ns }) });
  return res.body.items;
}
