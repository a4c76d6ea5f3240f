// Events recorded through events.k8s.io/v1, with repeats folded into one series.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apply } from '../../../src/kube/apply.js';
import { createKubeClient, type KubeClient } from '../../../src/kube/client.js';
import { EventRecorder } from '../../../src/kube/events.js';
import { getTestCluster, type TestCluster } from '../../support/cluster.js';

let c: TestCluster;
let client: KubeClient;
let ns: string;

interface Ev {
  metadata: { name: string; namespace: string };
  reason: string;
  note?: string;
  type: string;
  action: string;
  reportingController: string;
  reportingInstance: string;
  eventTime: string;
  regarding: { kind: string; name: string; namespace?: string; uid?: string };
  series?: { count: number; lastObservedTime: string };
}

async function listEvents(namespace: string, selector: string): Promise<Ev[]> {
  const res = await client.rest.request<{ items: Ev[] }>({
    method: 'GET',
    path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
    query: { fieldSelector: selector },
  });
  return res.body.items;
}

beforeAll(async () => {
  c = await getTestCluster();
  client = createKubeClient(c.kc);
  ns = await c.createNamespace('kube-events');
});

afterAll(async () => {
  await client?.rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${ns}` }).catch(() => undefined);
});

describe('EventRecorder', () => {
  it('creates an event about an object and folds repeats into one series', async () => {
    const target = await apply(client, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'subject', namespace: ns },
      data: {},
    });
    const rec = new EventRecorder(client, { reportingInstance: 'rigshift-test-0' });
    const note = 'Drain waits: PDB miners allows no disruption (needs 1 healthy pod, has 1)';
    for (let i = 0; i < 5; i++) await rec.warning(target, 'DrainBlocked', 'Drain', note);
    await rec.normal(target, 'Switched', 'Switch', 'mining → training for job llama');
    await rec.flush();

    const events = await listEvents(ns, 'regarding.name=subject');
    expect(events).toHaveLength(2);
    const blocked = events.find((e) => e.reason === 'DrainBlocked');
    expect(blocked).toMatchObject({
      type: 'Warning',
      action: 'Drain',
      note,
      reportingController: 'rigshift.io/operator',
      reportingInstance: 'rigshift-test-0',
      regarding: { kind: 'ConfigMap', name: 'subject', namespace: ns, uid: target.metadata.uid },
      series: { count: 5 },
    });
    expect(blocked?.eventTime).toMatch(/\.\d{6}Z$/);
    const switched = events.find((e) => e.reason === 'Switched');
    expect(switched?.series).toBeUndefined();
    expect(rec.stats()).toMatchObject({ created: 2, failed: 0 });

    // kubectl shows it like any other event.
    const shown = await c.kubectl(['get', 'events', '-n', ns, '--field-selector', 'reason=DrainBlocked']);
    expect(shown.stdout).toContain('DrainBlocked');
    await rec.close();
  });

  it('records events about cluster-scoped objects in the default namespace, with long notes cut to 1 KB', async () => {
    const rec = new EventRecorder(client, { reportingInstance: 'rigshift-test-0' });
    const name = ns; // a unique cluster-scoped object: the test's namespace itself
    const note = 'x'.repeat(3000);
    await rec.normal({ apiVersion: 'v1', kind: 'Namespace', name }, 'Checked', 'Verify', note);
    const events = await listEvents('default', `regarding.name=${name}`);
    expect(events).toHaveLength(1);
    expect(Buffer.byteLength(events[0]?.note ?? '')).toBeLessThanOrEqual(1024);
    expect(rec.stats().failed).toBe(0);
    await client.rest.request({
      method: 'DELETE',
      path: `/apis/events.k8s.io/v1/namespaces/default/events/${events[0]?.metadata.name}`,
    });
  });
});
