// Scenario 7 of issue 5: two replicas with Lease leader election. Only the leader acts (every Event comes
// from it; the standby reports rigshift_leader 0 and is ready); killing the leader with SIGKILL hands over
// within the lease duration, and the new leader acts; SIGTERM releases the lease at once.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
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

let w: World;
const replicas: OperatorProcess[] = [];
const ports = new Map<string, number>();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function start(identity: string): Promise<OperatorProcess> {
  const port = await freePort();
  ports.set(identity, port);
  const p = spawnOperator(
    w,
    [
      '--leader-elect',
      '--lease-duration',
      '4',
      '--renew-deadline',
      '3',
      '--retry-period',
      '1',
      '--metrics-address',
      `127.0.0.1:${port}`,
      // This test reads rigshift_leader without a token (auth is tested in install/metrics-auth.test.ts).
      '--metrics-auth',
      'none',
    ],
    identity,
  );
  replicas.push(p);
  return p;
}

async function http(identity: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${ports.get(identity)}${path}`);
  return { status: res.status, body: await res.text() };
}

const leaderGauge = async (identity: string): Promise<string | undefined> =>
  /^rigshift_leader (\d)$/m.exec((await http(identity, '/metrics')).body)?.[1];

async function holder(): Promise<string | undefined> {
  const lease = await w.get<{ spec?: { holderIdentity?: string } }>('Lease', w.rbac.leaseName);
  return lease?.spec?.holderIdentity || undefined;
}

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-leader', nodes: 2 });
  await start('replica-a');
  await waitFor('replica-a leads', async () => (await holder()) === 'replica-a', 60_000);
  await start('replica-b');
  await waitFor(
    'replica-b ready',
    async () => (await http('replica-b', '/readyz').catch(() => ({ status: 0 }))).status === 200,
    60_000,
  );
  await waitAllMining(w, 90_000);
}, 180_000);

afterAll(async () => {
  for (const r of replicas) r.child.kill('SIGKILL');
  await w?.cleanup();
}, 60_000);

it('only the leader acts; the standby is ready and keeps out', async () => {
  expect(await holder()).toBe('replica-a');
  expect(await leaderGauge('replica-a')).toBe('1');
  expect(await leaderGauge('replica-b')).toBe('0');
  expect((await http('replica-b', '/readyz')).body).toMatch(/ok: standby/);
  await w.apply(jobManifest(w.ns, 'first', { replicas: 1, checkpointGracePeriodSeconds: 1 }));
  const first = await waitFor(
    'job first Running',
    async () => {
      const j = await w.get<Job>('TrainingJob', 'first');
      return j?.status?.state === 'Running' ? j : undefined;
    },
    60_000,
  );
  const node = first.status?.assignedNodes?.[0] ?? '';
  const events = [...(await w.events(node, 'default')), ...(await w.events('first'))];
  expect(events.length).toBeGreaterThan(0);
  expect(new Set(events.map((e) => e.reportingInstance))).toEqual(new Set(['replica-a']));
  expect(replicas[1]?.output()).not.toMatch(/leading: reconciling/);
});

it('SIGKILL of the leader hands over to the standby, which then acts', async () => {
  const a = replicas[0];
  a?.child.kill('SIGKILL');
  await a?.exited;
  const killedAt = Date.now();
  await waitFor('replica-b leads', async () => (await leaderGauge('replica-b')) === '1', 30_000);
  expect(await holder()).toBe('replica-b');
  // Lease 4 s, seen by b from its last observation, retried every second.
  expect(Date.now() - killedAt).toBeLessThan(15_000);

  await w.apply(jobManifest(w.ns, 'after', { replicas: 1, checkpointGracePeriodSeconds: 1 }));
  await waitFor(
    'job after Running',
    async () => (await w.get<Job>('TrainingJob', 'after'))?.status?.state === 'Running',
    60_000,
  );
  const jobEvents = await w.events('after');
  expect(jobEvents.length).toBeGreaterThan(0);
  expect(new Set(jobEvents.map((e) => e.reportingInstance))).toEqual(new Set(['replica-b']));
}, 90_000);

it('SIGTERM of the leader releases the lease at once', async () => {
  const b = replicas[1];
  b?.child.kill('SIGTERM');
  expect(await b?.exited).toBe(0);
  expect(await holder()).toBeUndefined();
}, 30_000);
