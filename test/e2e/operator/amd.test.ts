// Issue 11, item 5: AMD nodes (amd.com/gpu from AMD's device plugin, amd.com/gpu.product-name and
// amd.com/gpu.vram from its node labeller) mine and train like NVIDIA ones, and placement reads their memory.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Manager } from '../../../src/controller/manager.js';
import {
  P3090,
  RX6800,
  createWorld,
  isRunning,
  jobManifest,
  podNodeOf,
  startOperator,
  waitAllMining,
  waitFor,
  type Job,
  type World,
} from './harness.js';

let w: World;
let op: Manager | undefined;
const profile = { hashrate: '60M', miningWatts: 150, trainingWatts: 200, idleWatts: 15 };

beforeAll(async () => {
  w = await createWorld({
    prefix: 'op-vendors',
    nodes: 1,
    amdNodes: 2,
    pool: {
      gpuProfiles: [
        { product: P3090, hashrate: '120M', miningWatts: 300, trainingWatts: 350, idleWatts: 20 },
        { product: RX6800, ...profile },
      ],
    },
  });
  op = await startOperator(w);
}, 150_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

const gpuLimits = (p: V1Pod) => p.spec?.containers[0]?.resources?.limits ?? {};
const amdNodes = () => w.nodes.filter((n) => n.includes('-amd-'));

it('AMD nodes mine with amd.com/gpu and train a gang; memory from amd.com/gpu.vram steers placement', async () => {
  const miners = await waitAllMining(w, 90_000);
  for (const n of amdNodes()) expect(gpuLimits(miners.get(n) as V1Pod)).toEqual({ 'amd.com/gpu': '8' });
  const nvidia = w.nodes.find((n) => !n.includes('-amd-')) as string;
  expect(gpuLimits(miners.get(nvidia) as V1Pod)).toEqual({ 'nvidia.com/gpu': '8' });

  const spec = { checkpointGracePeriodSeconds: 1 };
  await w.apply(
    jobManifest(w.ns, 'on-amd', { ...spec, replicas: 2, gpuProducts: [RX6800] }),
    // 20 GiB per GPU: more than the AMD cards' 16G, so only the NVIDIA node (24576 MiB) can take it.
    jobManifest(w.ns, 'big', { ...spec, replicas: 1, minGpuMemoryMiB: 20480, bidUsdPerGpuHour: '0.90' }),
  );
  const running = (name: string) => async () => {
    const j = await w.get<Job>('TrainingJob', name);
    return j?.status?.state === 'Running' ? j : undefined;
  };
  const onAmd = await waitFor('on-amd Running', running('on-amd'), 90_000);
  expect([...(onAmd.status?.assignedNodes ?? [])].sort()).toEqual(amdNodes().sort());
  const big = await waitFor('big Running', running('big'), 90_000);
  expect(big.status?.assignedNodes).toEqual([nvidia]);

  const trainers = (await w.pods('rigshift.io/trainingjob=on-amd')).filter(isRunning);
  expect(trainers.map((p) => podNodeOf(p)).sort()).toEqual(amdNodes().sort());
  for (const p of trainers) expect(gpuLimits(p)['amd.com/gpu']).toBe('8');
  const modes = await w.modes();
  for (const n of w.nodes) expect(modes[n]).toBe('training');
}, 240_000);
