// Benchmark of the client layer, printing figures (not a test):
//   node --expose-gc dist/kube/bench.js                       work queue only
//   node --expose-gc dist/kube/bench.js --kubeconfig <path> --nodes 500   plus a node informer on a cluster
import { pathToFileURL } from 'node:url';
import type { KubernetesObject } from '@kubernetes/client-node';
import { addGpuNodes } from '../local/nodes.js';
import { createKubeClient, loadKubeConfig } from './client.js';
import { Informer } from './informer.js';
import { Kinds } from './resources.js';
import { WorkQueue } from './workqueue.js';

export async function benchQueue(adds = 200_000, keys = 5_000, concurrency = 8): Promise<string> {
  let processed = 0;
  const q = new WorkQueue(
    async () => {
      processed++;
      await Promise.resolve();
    },
    { name: 'bench', concurrency },
  );
  q.start();
  const t0 = performance.now();
  for (let i = 0; i < adds; i++) {
    q.add(`ns/key-${i % keys}`);
    // Bursts, as informer events arrive: keys re-added while still queued are de-duplicated.
    if (i % 20_000 === 19_999) await new Promise((r) => setImmediate(r));
  }
  await q.whenIdle();
  const ms = performance.now() - t0;
  await q.shutdown();
  return (
    `work queue: ${adds} adds over ${keys} keys, concurrency ${concurrency}: ${processed} reconciles ` +
    `(de-duplicated ${(100 * (1 - processed / adds)).toFixed(1)}%), ${Math.round(adds / (ms / 1000))} adds/s, ` +
    `${ms.toFixed(0)} ms`
  );
}

function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

export async function benchNodeInformer(kubeconfig: string, nodes: number): Promise<string> {
  const kc = loadKubeConfig({ kubeconfig });
  const client = createKubeClient(kc);
  const label = 'rigshift.io/bench-informer';
  const run = Date.now().toString(36);
  const t = performance.now();
  process.stderr.write(`creating ${nodes} kwok nodes...\n`);
  const names = await addGpuNodes(kc, {
    count: nodes,
    product: 'NVIDIA-GeForce-RTX-3090',
    gpus: 8,
    memoryMiB: 24576,
    namePrefix: `bench-${run}`,
    labels: { [label]: run },
    wait: false,
  });
  process.stderr.write(`created in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  try {
    const before = heapMiB();
    const t0 = performance.now();
    const informer = new Informer<KubernetesObject>(client, Kinds.Node, { labelSelector: `${label}=${run}` });
    informer.start();
    await informer.waitForSync(120_000);
    const syncMs = performance.now() - t0;
    const after = heapMiB();
    const cached = informer.list().length;
    await informer.stop();
    return (
      `node informer: ${cached} nodes cached in ${syncMs.toFixed(0)} ms, heap +${(after - before).toFixed(1)} MiB ` +
      `(${(((after - before) * 1024) / Math.max(1, cached)).toFixed(1)} KiB per node)`
    );
  } finally {
    process.stderr.write(`deleting ${names.length} nodes...\n`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names
          .slice(i, i + 20)
          .map((n) =>
            client.rest.request({ method: 'DELETE', path: `/api/v1/nodes/${n}` }).catch(() => undefined),
          ),
      );
    }
  }
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  console.log(await benchQueue());
  const kubeconfig = arg('--kubeconfig');
  if (kubeconfig) console.log(await benchNodeInformer(kubeconfig, Number(arg('--nodes') ?? 500)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
