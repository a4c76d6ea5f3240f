// Lease-based leader election between electors in one process, against the real coordination API.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createKubeClient, type KubeClient } from '../../../src/kube/client.js';
import { LeaderElector, type Lease } from '../../../src/kube/leader.js';
import { getTestCluster, waitFor } from '../../support/cluster.js';

let client: KubeClient;
let ns: string;
const LEASE = 'rigshift-operator';
const electors: LeaderElector[] = [];
let leading = 0;
let maxLeading = 0;
const log: string[] = [];

function elector(identity: string): LeaderElector {
  const e = new LeaderElector(client, {
    namespace: ns,
    name: LEASE,
    identity,
    leaseDurationMs: 2000,
    renewDeadlineMs: 1500,
    retryPeriodMs: 250,
    onStartedLeading: () => {
      leading++;
      maxLeading = Math.max(maxLeading, leading);
      log.push(`${identity} started`);
    },
    onStoppedLeading: () => {
      leading--;
      log.push(`${identity} stopped`);
    },
  });
  electors.push(e);
  return e;
}

const readLease = async (): Promise<Lease> =>
  (
    await client.rest.request<Lease>({
      method: 'GET',
      path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${LEASE}`,
    })
  ).body;

beforeAll(async () => {
  const c = await getTestCluster();
  client = createKubeClient(c.kc);
  ns = await c.createNamespace('kube-leader');
});

afterAll(async () => {
  for (const e of electors) await e.stop({ release: false });
  await client?.rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${ns}` }).catch(() => undefined);
});

describe('leader election', () => {
  it('elects one leader, hands over at once on release, and after expiry when the leader stops renewing', async () => {
    const a = elector('replica-a');
    const b = elector('replica-b');
    a.start();
    b.start();
    const first = await waitFor('a leader', async () => [a, b].find((e) => e.isLeader()), 15_000);
    const second = first === a ? b : a;
    const firstId = first === a ? 'replica-a' : 'replica-b';
    const secondId = first === a ? 'replica-b' : 'replica-a';
    await waitFor('standby to see the leader', async () => second.leader() === firstId, 15_000);
    expect(second.isLeader()).toBe(false);
    expect(await second.runIfLeader(async () => 'acted')).toBeUndefined();
    expect(await first.runIfLeader(async () => 'acted')).toBe('acted');

    const lease = await readLease();
    expect(lease.spec).toMatchObject({
      holderIdentity: firstId,
      leaseDurationSeconds: 2,
      leaseTransitions: 0,
    });
    expect(lease.spec.renewTime).toMatch(/\.\d{6}Z$/);
    expect(lease.spec.acquireTime).toMatch(/\.\d{6}Z$/);
    // The leader keeps renewing: renewTime moves, the holder does not.
    const renewed = await waitFor(
      'a renewal',
      async () => {
        const l = await readLease();
        return l.spec.renewTime !== lease.spec.renewTime ? l : undefined;
      },
      5_000,
    );
    expect(renewed.spec.holderIdentity).toBe(firstId);

    // Clean release: the standby takes over on its next try, long before the lease would expire.
    await first.stop();
    const released = Date.now();
    await waitFor('standby to take over after release', async () => second.isLeader(), 10_000);
    const handover = Date.now() - released;
    expect(handover).toBeLessThan(1500);
    const afterRelease = await readLease();
    expect(afterRelease.spec).toMatchObject({
      holderIdentity: secondId,
      leaseTransitions: 1,
      leaseDurationSeconds: 2,
    });

    // The leader dies without releasing (SIGKILL-like): a new standby waits for the lease to expire.
    const c = elector('replica-c');
    c.start();
    await waitFor('new standby to see the leader', async () => c.leader() === secondId, 10_000);
    await second.stop({ release: false });
    const died = Date.now();
    await waitFor('standby to take over after expiry', async () => c.isLeader(), 15_000);
    const takeover = Date.now() - died;
    expect(takeover).toBeGreaterThanOrEqual(1500);
    expect(takeover).toBeLessThan(6000);
    expect((await readLease()).spec).toMatchObject({ holderIdentity: 'replica-c', leaseTransitions: 2 });

    expect(maxLeading).toBe(1);
    expect(log).toEqual([
      `${firstId} started`,
      `${firstId} stopped`,
      `${secondId} started`,
      `${secondId} stopped`,
      'replica-c started',
    ]);
    process.stderr.write(`leader handover: release ${handover} ms, expiry ${takeover} ms (lease 2 s)\n`);
    await c.stop();
  });
});
