// Issue 9, item 5: watches that silently stop delivering. The operator (a child process) talks to the API
// server through a proxy that freezes its watch connections: within the liveness bound /readyz turns unready
// naming the silent informers and for how long, the operator relists, and it writes no node or job while its
// watches are silent, though a job that would win arrives meanwhile; once watches deliver again it is ready
// and places the job.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startWatchProxy, type WatchProxy } from '../../support/watch-proxy.js';
import {
  createWorld,
  jobManifest,
  spawnOperator,
  waitAllMining,
  waitFor,
  type Job,
  type OperatorProcess,
  type World,
} from './harness.js';

const SILENCE_SECONDS = 6;

let w: World;
let proxy: WatchProxy;
let op: OperatorProcess | undefined;
let port = 0;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address() as { port: number };
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

async function readyz(): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-frozen', nodes: 2 });
  proxy = await startWatchProxy(w.rbac.kc);
  // The operator's credentials, pointed at the proxy (plain HTTP on loopback; the proxy speaks TLS onwards).
  const cluster = w.rbac.kc.getCurrentCluster();
  const user = w.rbac.kc.getCurrentUser();
  if (!cluster || !user) throw new Error('no cluster or user in the operator kubeconfig');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'proxy', server: `http://127.0.0.1:${proxy.port}`, skipTLSVerify: true }],
    users: [{ name: 'op', token: user.token }],
    contexts: [{ name: 'op', cluster: 'proxy', user: 'op', namespace: w.ns }],
    currentContext: 'op',
  });
  const kubeconfig = join(w.dir, 'proxy-kubeconfig');
  writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
  port = await freePort();
  op = spawnOperator(w, [
    '--kubeconfig',
    kubeconfig,
    '--watch-silence',
    String(SILENCE_SECONDS),
    '--metrics-address',
    `127.0.0.1:${port}`,
    '--metrics-auth',
    'none',
  ]);
  await waitAllMining(w, 90_000);
  await waitFor(
    'operator ready',
    async () => (await readyz().catch(() => ({ status: 0 }))).status === 200,
    30_000,
  );
}, 180_000);

afterAll(async () => {
  op?.child.kill('SIGKILL');
  await proxy?.close();
  await w?.cleanup();
}, 60_000);

const isWrite = (r: { method: string; path: string }): boolean =>
  r.method !== 'GET' && /\/nodes\b|\/trainingjobs\b/.test(r.path);

it('a frozen watch: unready naming the informer, relisted, nothing written while stale; recovers after', async () => {
  // Quiet and healthy: bookmarks and reconnects keep every watch live past the bound.
  const healthyFor = Date.now();
  await waitFor(
    'two liveness bounds pass',
    async () => Date.now() - healthyFor > 2 * SILENCE_SECONDS * 1000,
    20_000,
  );
  expect((await readyz()).status).toBe(200);
  expect(op?.output()).not.toMatch(/watch silent/);

  proxy.freeze();
  const frozenAt = Date.now();
  // A job that outbids mining arrives while the operator's watches deliver nothing.
  await w.apply(jobManifest(w.ns, 'meanwhile', { replicas: 1, checkpointGracePeriodSeconds: 1 }));

  const unready = await waitFor(
    '/readyz unready naming the silent watches',
    async () => {
      const r = await readyz();
      const named = ['nvidia nodes', 'amd nodes', 'trainingjobs', 'managed pods'].every((n) =>
        new RegExp(`watch of ${n} silent for \\d+ s`).test(r.body),
      );
      return r.status === 503 && named ? r : undefined;
    },
    (SILENCE_SECONDS + 10) * 1000,
  );
  const staleAt = Date.now();
  // Silence counts from the last delivery, which came before the freeze.
  expect(staleAt - frozenAt).toBeLessThanOrEqual((SILENCE_SECONDS + 2) * 1000);
  const silent = Number(/watch of nvidia nodes silent for (\d+) s/.exec(unready.body)?.[1]);
  expect(silent).toBeGreaterThanOrEqual(SILENCE_SECONDS);

  // Relisted (new lists pass the proxy, the new watches freeze too), and still acting on nothing.
  await waitFor(
    'the operator relists',
    async () => /watch silent .*relisting/.test(op?.output() ?? ''),
    10_000,
  );
  await waitFor(
    'a second list of nodes after the freeze',
    async () =>
      proxy.requests.some(
        (r) => r.at > frozenAt && r.method === 'GET' && /\/nodes\?/.test(r.path) && !r.watch,
      ),
    10_000,
  );
  while (Date.now() - staleAt < 2 * SILENCE_SECONDS * 1000) {
    expect((await readyz()).status).toBe(503); // watched over two more bounds
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(op?.output()).toMatch(/caches stale: not planning/);
  const job = await w.get<Job>('TrainingJob', 'meanwhile');
  expect(job?.status?.assignedNodes ?? []).toEqual([]);
  expect(proxy.requests.filter((r) => r.at > staleAt && isWrite(r))).toEqual([]);

  proxy.thaw();
  await waitFor('ready again', async () => (await readyz()).status === 200, (SILENCE_SECONDS + 20) * 1000);
  await waitFor(
    'the job that arrived meanwhile Running',
    async () => (await w.get<Job>('TrainingJob', 'meanwhile'))?.status?.state === 'Running',
    60_000,
  );
}, 180_000);
