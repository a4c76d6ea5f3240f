// The operator, run as the chart's ServiceAccount (its token, its RBAC, nothing else), through a whole switch:
// it takes its Lease, prices a MiningPool, labels a node and starts a miner, drains the miner for a
// TrainingJob through the Eviction API, starts the training pod, cleans up when the job is deleted and
// releases its Lease. Every API call it needs for that is allowed, and none is refused. The chart's
// ValidatingAdmissionPolicy is in force (PriorityClasses of this test's own): it admits the operator's pods.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { installChartRbac, type ChartRbac } from '../../support/chart-rbac.js';
import { getTestCluster, uniqueSuffix, waitFor, type TestCluster } from '../../support/cluster.js';

const PRODUCT = 'NVIDIA-GeForce-RTX-4090';

let c: TestCluster;
let ns: string;
let rbac: ChartRbac;
let node: string;
let operator: ChildProcess | undefined;
let logs = '';
const suffix = uniqueSuffix();
let classes: { mining: string; training: string } | undefined;

const pool = `
apiVersion: rigshift.io/v1alpha1
kind: MiningPool
metadata:
  name: etc
spec:
  coin: ETC
  algorithm: etchash
  stratum:
    primary: stratum+tcp://etc.pool.example:1010
  wallet: '0x9f1c2a4b7e3d5c6f8a0b1c2d3e4f5a6b7c8d9e0f'
  miner:
    image: registry.example.com/miners/t-rex:0.26.8
    args: [--algo=etchash]
  gpuProfiles:
    - product: ${PRODUCT}
      hashrate: 124.7M
      miningWatts: 249
      trainingWatts: 450
      idleWatts: 25
  revenueUsdPerMhsDay:
    value: '0.02'
  electricityUsdPerKwh:
    value: '0.05'
`;

const job = `
apiVersion: rigshift.io/v1alpha1
kind: TrainingJob
metadata:
  name: finetune
spec:
  image: registry.example.com/train:1
  replicas: 1
  gpusPerReplica: 8
  bidUsdPerGpuHour: '2.00'
  checkpointGracePeriodSeconds: 1
`;

beforeAll(async () => {
  c = await getTestCluster();
  const crds = join(process.cwd(), 'crds');
  await c.kubectl([
    'apply',
    '--server-side',
    '--force-conflicts',
    '--field-manager=rigshift-crds',
    '-f',
    crds,
  ]);
  await c.kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', crds]);
  ns = await c.createNamespace('install-run');
  const release = `rigshift-${suffix}`;
  classes = { mining: `${release}-mining`, training: `${release}-training` };
  rbac = await installChartRbac(c, {
    namespace: ns,
    release,
    priorityClasses: true,
    admissionPolicy: true,
    helmArgs: [
      '--set',
      `priorityClasses.mining.name=${classes.mining},priorityClasses.training.name=${classes.training}`,
    ],
  });
  // In force before the operator starts: anyone else (here the test's admin) is refused the classes.
  const probe = `apiVersion: v1\nkind: Pod\nmetadata: {name: probe, namespace: ${ns}}\nspec: {priorityClassName: ${classes.training}, containers: [{name: c, image: x}]}\n`;
  await waitFor('the admission policy to refuse others the training PriorityClass', async () => {
    const r = await c.kubectl(['create', '--dry-run=server', '-f', '-'], { input: probe, allowFail: true });
    return /is reserved for the pods of the rigshift operator/.test(r.stderr);
  });
  [node] = (await c.addGpuNodes({
    count: 1,
    product: PRODUCT,
    gpus: 8,
    memoryMiB: 24564,
    namePrefix: `install-run-${suffix}`,
    labels: { 'rigshift-test': suffix },
  })) as [string];
  await c.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], { input: pool });
}, 120_000);

afterAll(async () => {
  if (operator && operator.exitCode === null) operator.kill('SIGKILL');
  if (node) await c.kubectl(['delete', 'node', node, '--ignore-not-found', '--wait=false']);
  await rbac?.cleanup();
  if (classes)
    await c.kubectl(['delete', 'priorityclass', classes.mining, classes.training, '--ignore-not-found']);
});

/** On failure, the operator's warnings and errors say which request was refused. */
function withLogs(err: unknown): Error {
  const problems = logs.split('\n').filter((l) => /"level":(40|50|60)/.test(l));
  return new Error(
    `${err instanceof Error ? err.message : String(err)}\noperator warnings:\n${problems.slice(-15).join('\n')}`,
  );
}

const get = async (args: string[]) => JSON.parse((await c.kubectl(['get', ...args, '-o', 'json'])).stdout);
const condition = (obj: { status?: { conditions?: { type: string; status: string }[] } }, type: string) =>
  obj.status?.conditions?.find((x) => x.type === type)?.status;

it('switches a node to training and back with nothing but the chart’s RBAC', async () => {
  // Only this test's namespace and node, and a policy file instead of the shared FleetPolicy "default".
  const policy = join(rbac.kubeconfigPath, '..', 'policy.yaml');
  writeFileSync(
    policy,
    `minDwellSeconds: 0\nswitchingSeconds: 0\npriorityClasses:\n  mining: ${classes!.mining}\n  training: ${classes!.training}\n`,
  );
  operator = spawn(
    process.execPath,
    [
      join(process.cwd(), 'bin', 'rigshift.js'),
      'run',
      `--kubeconfig=${rbac.kubeconfigPath}`,
      '--leader-elect',
      `--leader-election-namespace=${ns}`,
      `--leader-election-id=${rbac.leaseName}`,
      `--job-grants=${rbac.jobGrantsName}`,
      '--metrics-address=127.0.0.1:0',
      `--namespace=${ns}`,
      `--node-selector=rigshift-test=${suffix}`,
      `--policy-file=${policy}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  operator.stdout?.on('data', (d: Buffer) => (logs += d.toString()));
  operator.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
  const exited = new Promise<number | null>((resolve) => operator?.on('close', (code) => resolve(code)));

  const coordination = c.kc.makeApiClient(k8s.CoordinationV1Api);
  try {
    await switchAndBack(coordination);
  } catch (err) {
    throw withLogs(err);
  }

  operator.kill('SIGTERM');
  expect(await exited).toBe(0);
  const lease = await coordination.readNamespacedLease({ name: rbac.leaseName, namespace: ns });
  expect(lease.spec?.holderIdentity ?? '').toBe('');
  expect(logs).toMatch(/released lease/);
  expect(logs.split('\n').filter((l) => /forbidden|\b403\b/i.test(l))).toEqual([]);
}, 180_000);

async function switchAndBack(coordination: k8s.CoordinationV1Api): Promise<void> {
  await waitFor('the operator to hold its Lease', async () => {
    const lease = await coordination.readNamespacedLease({ name: rbac.leaseName, namespace: ns });
    return lease.spec?.holderIdentity;
  });
  const url = /"url":"(http:\/\/[^"]+)"/.exec(logs)?.[1];
  expect(url).toBeDefined();
  await waitFor('/readyz to answer 200', async () => (await fetch(`${url}/readyz`)).status === 200);

  await waitFor('the pool to be priced (status through /status)', async () => {
    return condition(await get(['miningpool', 'etc', '-n', ns]), 'YieldKnown') === 'True';
  });
  await waitFor('the node to mine (label by server-side apply, miner pod applied)', async () => {
    const n = await get(['node', node]);
    const miners = await get(['pods', '-n', ns, '-l', 'rigshift.io/miningpool=etc']);
    return n.metadata.labels['rigshift.io/mode'] === 'mining' && miners.items.length === 1;
  });

  await c.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], { input: job });
  await waitFor(
    'the job to run (finalizer patched, miner evicted, training pod created)',
    async () => {
      const j = await get(['trainingjob', 'finetune', '-n', ns]);
      const trainers = await get(['pods', '-n', ns, '-l', 'rigshift.io/trainingjob=finetune']);
      const miners = await get(['pods', '-n', ns, '-l', 'rigshift.io/miningpool=etc']);
      return (
        condition(j, 'Running') === 'True' &&
        j.metadata.finalizers?.includes('rigshift.io/cleanup') &&
        trainers.items.length === 1 &&
        miners.items.length === 0
      );
    },
    60_000,
  );
  expect((await get(['node', node])).metadata.labels['rigshift.io/mode']).toBe('training');

  await c.kubectl(['delete', 'trainingjob', 'finetune', '-n', ns, '--wait=false']);
  await waitFor('the job to be cleaned up and its finalizer removed', async () => {
    const r = await c.kubectl(['get', 'trainingjob', 'finetune', '-n', ns], { allowFail: true });
    return r.code !== 0 && /NotFound/.test(r.stderr);
  });
}
