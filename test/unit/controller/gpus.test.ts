import { describe, expect, it } from '@jest/globals';
import type { V1Node } from '@kubernetes/client-node';
import { parseMiningPool } from '../../../src/api/v1alpha1/index.js';
import {
  isGpuNode,
  nodeComputeCapability,
  nodeDriverMajor,
  nodeGpuMemoryMiB,
  nodeGpuResource,
  nodeGpus,
  nodeProduct,
} from '../../../src/controller/nodes.js';
import { buildMinerPod, buildTrainingPod, podGpus } from '../../../src/controller/pods.js';
import { job, policy, pool } from './operator-fixtures.js';

/** GPU vendors: the node's labeller says its product and memory, its device plugin its resource. */

function node(labels: Record<string, string>, allocatable: Record<string, string>): V1Node {
  return { metadata: { name: 'n', labels: { farm: 'test', ...labels } }, status: { allocatable } };
}

const amd = node(
  { 'amd.com/gpu.product-name': 'AMD-Radeon-RX-6800', 'amd.com/gpu.vram': '16G' },
  { 'amd.com/gpu': '6', cpu: '32' },
);
const nvidia = node(
  {
    'nvidia.com/gpu.product': 'NVIDIA-GeForce-RTX-3090',
    'nvidia.com/gpu.memory': '24576',
    'nvidia.com/gpu.compute.major': '8',
    'nvidia.com/gpu.compute.minor': '6',
    'nvidia.com/cuda.driver.major': '535',
  },
  { 'nvidia.com/gpu': '8' },
);

describe('GPU vendors on nodes', () => {
  it('reads AMD node labeller labels as GFD labels are read', () => {
    expect(nodeProduct(amd)).toBe('AMD-Radeon-RX-6800');
    expect(nodeGpuResource(amd)).toBe('amd.com/gpu');
    expect(nodeGpus(amd)).toBe(6);
    expect(isGpuNode(amd)).toBe(true);
    // "16G" from the labeller is 16 GiB.
    expect(nodeGpuMemoryMiB(amd)).toBe(16384);
    expect(nodeComputeCapability(amd)).toBeUndefined();
    expect(nodeDriverMajor(amd)).toBeUndefined();
  });

  it('reads GFD labels, compute capability and driver major', () => {
    expect(nodeProduct(nvidia)).toBe('NVIDIA-GeForce-RTX-3090');
    expect(nodeGpuResource(nvidia)).toBe('nvidia.com/gpu');
    expect(nodeGpus(nvidia)).toBe(8);
    expect(nodeGpuMemoryMiB(nvidia)).toBe(24576);
    expect(nodeComputeCapability(nvidia)).toBe(806);
    expect(nodeDriverMajor(nvidia)).toBe(535);
  });

  it('a malformed memory label is unknown (0), never a guess', () => {
    const bad = node(
      { 'amd.com/gpu.product-name': 'X', 'amd.com/gpu.vram': '16 GB' },
      { 'amd.com/gpu': '1' },
    );
    expect(nodeGpuMemoryMiB(bad)).toBe(0);
    const gfd = node(
      { 'nvidia.com/gpu.product': 'X', 'nvidia.com/gpu.memory': '24G' },
      { 'nvidia.com/gpu': '1' },
    );
    expect(nodeGpuMemoryMiB(gfd)).toBe(0);
  });

  it('a node with the product label but none of its GPU resource is not a GPU node', () => {
    const noGpus = node({ 'amd.com/gpu.product-name': 'X' }, { 'nvidia.com/gpu': '8' });
    expect(isGpuNode(noGpus)).toBe(false);
  });

  it('a MiningPool profile names the resource of its product', () => {
    const p = pool('etc', {
      gpuProfiles: [
        {
          product: 'AMD-Radeon-RX-6800',
          resourceName: 'amd.com/gpu-shared',
          hashrate: '60M',
          miningWatts: 150,
          trainingWatts: 200,
          idleWatts: 15,
        },
      ],
    });
    const shared = node(
      { 'amd.com/gpu.product-name': 'AMD-Radeon-RX-6800', 'amd.com/gpu.vram': '16G' },
      { 'amd.com/gpu-shared': '4' },
    );
    expect(isGpuNode(shared)).toBe(false);
    const resource = nodeGpuResource(shared, [p]);
    expect(resource).toBe('amd.com/gpu-shared');
    expect(nodeGpus(shared, resource)).toBe(4);
    const miner = buildMinerPod(p, 'n', 4, policy(), { terminationGracePeriodSeconds: 5, resource });
    expect(miner.spec?.containers[0]?.resources?.limits).toEqual({ 'amd.com/gpu-shared': '4' });
    expect(podGpus(miner, resource)).toBe(4);
  });

  it('training pods on an AMD node request amd.com/gpu; pods count the GPUs of any vendor', () => {
    const pod = buildTrainingPod(job('llm'), 0, 0, 'n', policy(), nodeGpuResource(amd));
    const res = pod.spec?.containers[0]?.resources;
    expect(res?.limits?.['amd.com/gpu']).toBe('8');
    expect(res?.requests?.['amd.com/gpu']).toBe('8');
    expect(res?.limits?.['nvidia.com/gpu']).toBeUndefined();
    expect(podGpus(pod)).toBe(8);
  });

  it('a profile resourceName must be an extended resource name', () => {
    const r = parseMiningPool({
      ...pool(),
      spec: {
        ...pool().spec,
        gpuProfiles: [{ ...pool().spec.gpuProfiles[0], resourceName: 'gpu' }],
      },
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain('spec.gpuProfiles[].resourceName must be an extended resource name');
  });
});
