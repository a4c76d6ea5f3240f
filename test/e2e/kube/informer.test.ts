// Informers against the real API server: filtered caches, events, and recovery after the connection dies.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { apply } from '../../../src/kube/apply.js';
import { createKubeClient, type KubeClient } from '../../../src/kube/client.js';
import { Informer } from '../../../src/kube/informer.js';
import { Kinds } from '../../../src/kube/resources.js';
import { WorkQueue } from '../../../src/kube/workqueue.js';
import { getTestCluster, uniqueSuffix, waitFor, type TestCluster } from '../../support/cluster.js';

let c: TestCluster;
let client: KubeClient;
let ns: string;
const id = uniqueSuffix();
const informers: Informer<k8s.KubernetesObject>[] = [];
let nodes: string[] = [];

type CM = k8s.KubernetesObject & { data?: Record<string, string> };

const cm = (
  name: string,
  data: Record<string, string>,
  labels: Record<string, string> = { app: 'rigshift' },
) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: ns, labels },
  data,
});

const del = (name: string) =>
  client.rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${ns}/configmaps/${name}` });

/** A TCP relay to the API server that the test can cut (dropping every connection) and restore. */
async function relay(target: URL) {
  const sockets = new Set<net.Socket>();
  let up = true;
  const server = net.createServer((inbound) => {
    if (!up) {
      inbound.destroy();
      return;
    }
    const outbound = net.connect(Number(target.port), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      up = true;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

beforeAll(async () => {
  c = await getTestCluster();
  client = createKubeClient(c.kc);
  ns = await c.createNamespace('kube-informer');
});

afterAll(async () => {
  for (const i of informers) await i.stop();
  await client?.rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${ns}` }).catch(() => undefined);
  for (const n of nodes)
    await client?.rest.request({ method: 'DELETE', path: `/api/v1/nodes/${n}` }).catch(() => undefined);
});

describe('Informer', () => {
  it('caches only selected objects and sees create, update and delete', async () => {
    await apply(client, cm('before', { v: '0' }));
    const informer = new Informer<CM>(client, Kinds.ConfigMap, {
      namespace: ns,
      labelSelector: 'app=rigshift',
    });
    informers.push(informer);
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name} ${o.data?.v}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    const keys: string[] = [];
    informer.enqueueTo({ add: (k) => keys.push(k) });
    informer.start();
    await informer.waitForSync(10_000);
    expect(informer.hasSynced()).toBe(true);
    expect(informer.get(ns, 'before')?.data).toEqual({ v: '0' });
    expect(informer.get(ns, 'before')?.kind).toBe('ConfigMap');

    await apply(client, cm('other', { v: '1' }, { app: 'someone-else' }));
    await apply(client, cm('x', { v: '1' }));
    await waitFor('add x', async () => informer.get(ns, 'x'), 10_000);
    await apply(client, cm('x', { v: '2' }));
    await waitFor('update x', async () => informer.get(ns, 'x')?.data?.v === '2', 10_000);
    await del('x');
    await waitFor('delete x', async () => !informer.get(ns, 'x'), 10_000);
    expect(seen).toEqual(['add before', 'add x', 'update x 2', 'delete x']);
    expect(keys).toEqual([`${ns}/before`, `${ns}/x`, `${ns}/x`, `${ns}/x`]);
    expect(informer.get(ns, 'other')).toBeUndefined();
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['before']);
  });

  it('recovers after its connection is cut, catching up on changes made meanwhile', async () => {
    const server = new URL(c.kc.getCurrentCluster()!.server);
    const r = await relay(server);
    try {
      const kc = new k8s.KubeConfig();
      kc.loadFromString(c.kc.exportConfig());
      const cluster = kc.getCurrentCluster()!;
      kc.clusters = kc.clusters.map((x) =>
        x.name === cluster.name ? { ...x, server: `https://127.0.0.1:${r.port}` } : x,
      );
      const viaRelay = createKubeClient(kc);
      await apply(client, cm('doomed', { v: '1' }));
      const informer = new Informer<CM>(viaRelay, Kinds.ConfigMap, {
        namespace: ns,
        labelSelector: 'app=rigshift',
        restartBaseMs: 100,
        restartMaxMs: 1000,
      });
      informers.push(informer);
      const queue = new WorkQueue(async () => {}, { name: 'cm' });
      const queued: string[] = [];
      informer.enqueueTo({ add: (k) => (queued.push(k), queue.add(k)) });
      informer.start();
      await informer.waitForSync(10_000);
      await apply(client, cm('live', { v: '1' }));
      await waitFor('live seen', async () => informer.get(ns, 'live'), 10_000);

      r.cut();
      // While the informer cannot reach the server, things change.
      await apply(client, cm('live', { v: '2' }));
      await apply(client, cm('while-down', { v: '1' }));
      await del('doomed');
      await waitFor('informer to notice the failure', async () => informer.stats().errors > 0, 10_000);
      r.restore();

      await waitFor(
        'cache to catch up',
        async () =>
          informer.get(ns, 'live')?.data?.v === '2' &&
          informer.get(ns, 'while-down') &&
          !informer.get(ns, 'doomed'),
        20_000,
      );
      expect(informer.stats().restarts).toBeGreaterThan(0);
      expect(queued).toEqual(expect.arrayContaining([`${ns}/live`, `${ns}/while-down`, `${ns}/doomed`]));
      // And it keeps watching afterwards.
      await apply(client, cm('after', { v: '1' }));
      await waitFor('after seen', async () => informer.get(ns, 'after'), 10_000);
      await queue.shutdown();
    } finally {
      await r.close();
    }
  });

  it('watches cluster-scoped nodes with a label selector', async () => {
    const label = 'rigshift.io/test-kube-informer';
    const informer = new Informer<k8s.V1Node & k8s.KubernetesObject>(client, Kinds.Node, {
      labelSelector: `${label}=${id}`,
    });
    informers.push(informer);
    informer.start();
    await informer.waitForSync(10_000);
    expect(informer.list()).toHaveLength(0);
    nodes = await c.addGpuNodes({
      count: 2,
      product: 'NVIDIA-GeForce-RTX-3090',
      gpus: 8,
      memoryMiB: 24576,
      namePrefix: `kinf-${id}`,
      labels: { [label]: id },
    });
    await waitFor('both nodes cached', async () => informer.list().length === 2, 20_000);
    const n = informer.get(undefined, nodes[0]!);
    expect(n?.metadata?.labels?.['nvidia.com/gpu.product']).toBe('NVIDIA-GeForce-RTX-3090');
    expect(informer.getByKey(nodes[1]!)?.metadata?.name).toBe(nodes[1]);
  });
});
