// Issue 11, item 1: a gang's replicas find each other. Each TrainingJob gets a headless Service (owned by it)
// selecting exactly its pods, each replica a stable hostname under it, and the env PyTorch, torchrun and JAX
// read; a gang restart keeps the names. The shipped 4×8 example runs as written.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1EnvVar, V1Pod, V1Service } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { Manager } from '../../../src/controller/manager.js';
import { isNotFound } from '../../../src/kube/rest.js';
import {
  conditionOf,
  createWorld,
  isRunning,
  jobManifest,
  P3090,
  startOperator,
  waitAllMining,
  waitFor,
  type Job,
  type World,
} from './harness.js';

const P4090 = 'NVIDIA-GeForce-RTX-4090';
let w: World;
let op: Manager | undefined;

const job = (name: string) => w.get<Job & { status?: { restarts?: number } }>('TrainingJob', name);
const service = (name: string) => w.get<V1Service>('Service', name);
const envOf = (p: V1Pod): Record<string, string | undefined> =>
  Object.fromEntries((p.spec?.containers[0]?.env ?? []).map((e: V1EnvVar) => [e.name, e.value]));
/** The pods a Service's selector picks, as the EndpointSlice controller sees them (not finished). */
async function selected(svc: V1Service): Promise<V1Pod[]> {
  const selector = Object.entries(svc.spec?.selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const pods = await w.pods(selector);
  return pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
}
/** Hostname → pod name, from the Service's EndpointSlices: the records the cluster DNS serves. */
async function endpointHosts(name: string): Promise<Record<string, string>> {
  const res = await w.client.rest.request<{
    items: { endpoints?: { hostname?: string; targetRef?: { name?: string } }[] }[];
  }>({
    method: 'GET',
    path: `/apis/discovery.k8s.io/v1/namespaces/${w.ns}/endpointslices`,
    query: { labelSelector: `kubernetes.io/service-name=${name}` },
  });
  const out: Record<string, string> = {};
  for (const s of res.body.items)
    for (const e of s.endpoints ?? []) out[e.hostname ?? ''] = e.targetRef?.name ?? '';
  return out;
}
const runningPods = async (name: string, run: number, replicas: number): Promise<V1Pod[] | undefined> => {
  const pods = (await w.pods(`rigshift.io/trainingjob=${name}`)).filter(isRunning);
  const ok =
    pods.length === replicas && pods.every((p) => p.metadata?.labels?.['rigshift.io/run'] === String(run));
  return ok ? pods.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '')) : undefined;
};

beforeAll(async () => {
  w = await createWorld({
    prefix: 'op-rdzv',
    nodes: 3,
    pool: {
      gpuProfiles: [
        { product: P3090, hashrate: '120M', miningWatts: 300, trainingWatts: 350, idleWatts: 20 },
        { product: P4090, hashrate: '130M', miningWatts: 300, trainingWatts: 400, idleWatts: 20 },
      ],
    },
  });
  op = await startOperator(w);
  await waitAllMining(w);
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

describe('a 2×8 gang finds itself', () => {
  it('a headless Service selecting exactly its pods, stable hostnames, the launchers’ env; kept across a gang restart', async () => {
    await w.apply(jobManifest(w.ns, 'dist', { replicas: 2, gpusPerReplica: 8, backoffLimit: 2 }));
    await waitFor(
      'the gang Running',
      async () => conditionOf(await job('dist'), 'Running')?.status === 'True',
      120_000,
    );
    const j = await job('dist');
    const svc = await service('dist');
    expect(svc?.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(svc?.spec?.ports).toEqual([
      expect.objectContaining({ name: 'rendezvous', port: 29500, protocol: 'TCP' }),
    ]);
    expect(svc?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'TrainingJob', name: 'dist', uid: j?.metadata?.uid, controller: true }),
    ]);

    const pods = (await runningPods('dist', 0, 2)) ?? [];
    expect(pods).toHaveLength(2);
    expect((await selected(svc as V1Service)).map((p) => p.metadata?.name).sort()).toEqual(
      pods.map((p) => p.metadata?.name),
    );
    const addr = `dist-0.dist.${w.ns}.svc`;
    const byRank = new Map<string, V1Pod>();
    for (const p of pods) {
      const replica = p.metadata?.labels?.['rigshift.io/replica'] ?? '';
      const env = envOf(p);
      expect(p.spec?.hostname).toBe(`dist-${replica}`);
      expect(p.spec?.subdomain).toBe('dist');
      expect(env).toMatchObject({
        MASTER_ADDR: addr,
        MASTER_PORT: '29500',
        WORLD_SIZE: '2',
        RANK: replica,
        PET_NNODES: '2',
        PET_NPROC_PER_NODE: '8',
        PET_NODE_RANK: replica,
        PET_RDZV_ENDPOINT: `${addr}:29500`,
        JAX_COORDINATOR_ADDRESS: `${addr}:29500`,
        JAX_NUM_PROCESSES: '2',
        JAX_PROCESS_ID: replica,
      });
      byRank.set(env.RANK ?? '', p);
    }
    expect([...byRank.keys()].sort()).toEqual(['0', '1']);
    // MASTER_ADDR names replica 0 under the Service: its EndpointSlice serves dist-0 for replica 0's pod.
    const hosts = await waitFor(
      'EndpointSlices naming both replicas',
      async () => {
        const h = await endpointHosts('dist');
        return Object.keys(h).length === 2 ? h : undefined;
      },
      30_000,
    );
    expect(hosts).toEqual({
      'dist-0': byRank.get('0')?.metadata?.name,
      'dist-1': byRank.get('1')?.metadata?.name,
    });

    // A replica lost: the gang restarts as run 1 with new pod names, under the same names.
    await w.c.kubectl(['delete', 'pod', pods[1]?.metadata?.name ?? '', '-n', w.ns, '--wait=false']);
    const again = await waitFor(
      'the gang Running again as run 1',
      async () => {
        const jj = await job('dist');
        if (jj?.status?.restarts !== 1 || conditionOf(jj, 'Running')?.status !== 'True') return undefined;
        return runningPods('dist', 1, 2);
      },
      120_000,
    );
    for (const p of again) {
      const replica = p.metadata?.labels?.['rigshift.io/replica'] ?? '';
      expect(p.metadata?.name).toBe(`dist-r1-${replica}`);
      expect(p.spec?.hostname).toBe(`dist-${replica}`);
      expect(p.spec?.subdomain).toBe('dist');
      expect(envOf(p)).toMatchObject({ MASTER_ADDR: addr, RANK: replica, RIGSHIFT_RESTART_COUNT: '1' });
    }
    const svcAfter = await service('dist');
    expect(svcAfter?.metadata?.uid).toBe(svc?.metadata?.uid);
    expect((await selected(svcAfter as V1Service)).map((p) => p.metadata?.name).sort()).toEqual(
      again.map((p) => p.metadata?.name),
    );
    await waitFor(
      'EndpointSlices naming the new run’s pods',
      async () => {
        const h = await endpointHosts('dist');
        return h['dist-0'] === 'dist-r1-0' && h['dist-1'] === 'dist-r1-1' && Object.keys(h).length === 2;
      },
      30_000,
    );

    // The Service goes with the job (garbage collector, owner reference).
    await w.c.kubectl(['delete', 'trainingjob', 'dist', '-n', w.ns, '--wait=true', '--timeout=60s']);
    await waitFor('the Service gone', async () => (await service('dist')) === undefined, 60_000);
    await waitAllMining(w);
  }, 360_000);
});

describe('a Service of the same name that is not the job’s', () => {
  it('is left alone: no pods, the job says why; once it is gone the gang starts', async () => {
    await w.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'taken' },
      spec: { clusterIP: 'None', selector: { app: 'mine' }, ports: [{ port: 80 }] },
    });
    // Two replicas: a one-replica job needs no Service (it is its own coordinator).
    await w.apply(jobManifest(w.ns, 'taken', { replicas: 2, gpusPerReplica: 4 }));
    const held = await waitFor(
      'Running=False RendezvousServiceConflict',
      async () => {
        const j = await job('taken');
        return conditionOf(j, 'Running')?.reason === 'RendezvousServiceConflict' ? j : undefined;
      },
      120_000,
    );
    expect(conditionOf(held, 'Running')?.message).toMatch(/Service taken already exists and is not this job/);
    expect(await w.pods('rigshift.io/trainingjob=taken')).toEqual([]);
    expect((await service('taken'))?.spec?.selector).toEqual({ app: 'mine' });
    expect((await w.events('taken')).map((e) => e.reason)).toContain('RendezvousServiceConflict');

    await w.c.kubectl(['delete', 'service', 'taken', '-n', w.ns, '--wait=true']);
    await waitFor(
      'the job Running under its own Service',
      async () => conditionOf(await job('taken'), 'Running')?.status === 'True',
      60_000,
    );
    const svc = await service('taken');
    expect(svc?.metadata?.ownerReferences?.[0]?.name).toBe('taken');
    await w.c.kubectl(['delete', 'trainingjob', 'taken', '-n', w.ns, '--wait=true', '--timeout=60s']);
    await waitAllMining(w);
  }, 240_000);
});

describe('the shipped 4×8 example', () => {
  it('runs as written: torchrun’s --nnodes and --nproc-per-node agree with the env every replica gets', async () => {
    const big = await w.c.addGpuNodes({
      count: 4,
      product: P4090,
      gpus: 8,
      memoryMiB: 24564,
      namePrefix: `${w.ns}-big`,
      labels: { 'rigshift.io/test': w.ns },
    });
    w.nodes.push(...big);
    await waitAllMining(w);
    const example = yaml.load(
      readFileSync(join(process.cwd(), 'deploy/examples/trainingjob-llm-pretrain-4x8.yaml'), 'utf8'),
    ) as { metadata: { name: string }; spec: { args: string[] } };
    const name = example.metadata.name;
    await w.apply(example);
    const pods = await waitFor(
      'the 4×8 example Running',
      async () => {
        if (conditionOf(await job(name), 'Running')?.status !== 'True') return undefined;
        return runningPods(name, 0, 4);
      },
      180_000,
    );
    const flag = (f: string) => example.spec.args.find((a) => a.startsWith(`--${f}=`))?.split('=')[1];
    const addr = `${name}-0.${name}.${w.ns}.svc`;
    const ranks = new Set<string>();
    for (const p of pods) {
      const env = envOf(p);
      expect(env.PET_NNODES).toBe(flag('nnodes'));
      expect(env.PET_NPROC_PER_NODE).toBe(flag('nproc-per-node'));
      expect(env.PET_RDZV_ENDPOINT).toBe(`${addr}:29500`);
      expect(env.MASTER_ADDR).toBe(addr);
      expect(p.spec?.hostname).toBe(`${name}-${env.PET_NODE_RANK}`);
      expect(big).toContain(p.spec?.nodeName);
      ranks.add(env.PET_NODE_RANK ?? '');
    }
    expect([...ranks].sort()).toEqual(['0', '1', '2', '3']);
    // For the record (issue 11's closing note): one replica's env as created.
    const one = pods.find((p) => envOf(p).PET_NODE_RANK === '1') as V1Pod;
    const dir = join(process.cwd(), '.rigshift', 'e2e');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'example-4x8-replica-1.env.json'),
      JSON.stringify({ pod: one.metadata?.name, env: one.spec?.containers[0]?.env }, null, 2),
    );
    await w.c.kubectl(['delete', 'trainingjob', name, '-n', w.ns, '--wait=true', '--timeout=60s']);
    await waitFor(
      'the Service gone',
      async () => (await service(name).catch((e) => (isNotFound(e) ? undefined : e))) === undefined,
      60_000,
    );
  }, 300_000);
});
