import * as k8s from '@kubernetes/client-node';

export interface GpuNodeSpec {
  count: number;
  /** Product name as the vendor's labeller writes it, e.g. NVIDIA-GeForce-RTX-3090 or AMD-Radeon-RX-6800. */
  product: string;
  /** Whose device plugin and labeller the node imitates (default nvidia: GFD labels, nvidia.com/gpu). */
  vendor?: 'nvidia' | 'amd';
  gpus: number;
  memoryMiB: number;
  /** Node names are `<prefix>-<n>`; default derived from the product. */
  namePrefix?: string;
  labels?: Record<string, string>;
  /** Wait until every node is Ready and untainted (default true). */
  wait?: boolean;
  timeoutMs?: number;
}

export function defaultPrefix(product: string): string {
  return `gpu-${product
    .toLowerCase()
    .replace(/^(nvidia-(geforce-)?|amd-(radeon-)?)/, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')}`;
}

/** The labels GPU Feature Discovery (NVIDIA) or AMD's node labeller would put on the node. */
function vendorLabels(spec: GpuNodeSpec): Record<string, string> {
  if (spec.vendor === 'amd') {
    // The labeller writes VRAM in whole GiB with a G (e.g. 16G).
    return {
      'amd.com/gpu.product-name': spec.product,
      'amd.com/gpu.vram': `${Math.floor(spec.memoryMiB / 1024)}G`,
      'amd.com/gpu.family': 'AI',
    };
  }
  return {
    'nvidia.com/gpu.present': 'true',
    'nvidia.com/gpu.product': spec.product,
    'nvidia.com/gpu.count': String(spec.gpus),
    'nvidia.com/gpu.memory': String(spec.memoryMiB),
  };
}

/** A node as its vendor's labeller and device plugin would describe it, managed by kwok. */
export function gpuNode(name: string, spec: GpuNodeSpec): k8s.V1Node {
  const resources = {
    cpu: '64',
    memory: '256Gi',
    pods: '110',
    'ephemeral-storage': '1Ti',
    [spec.vendor === 'amd' ? 'amd.com/gpu' : 'nvidia.com/gpu']: String(spec.gpus),
  };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
        ...vendorLabels(spec),
        ...spec.labels,
      },
    },
    spec: {},
    status: { capacity: resources, allocatable: resources, phase: 'Running' },
  };
}

/** Creates `count` simulated GPU nodes, numbered after any that already carry the prefix. */
export async function addGpuNodes(kc: k8s.KubeConfig, spec: GpuNodeSpec): Promise<string[]> {
  if (!Number.isInteger(spec.count) || spec.count < 1) throw new Error('--count must be a positive integer');
  if (!Number.isInteger(spec.gpus) || spec.gpus < 1) throw new Error('--gpus must be a positive integer');
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 1)
    throw new Error('--memory-mib must be a positive integer');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const prefix = spec.namePrefix ?? defaultPrefix(spec.product);
  const existing = await core.listNode();
  const taken = new Set(existing.items.map((n) => n.metadata?.name));
  const names: string[] = [];
  for (let i = 0; names.length < spec.count; i++) {
    const name = `${prefix}-${i}`;
    if (!taken.has(name)) names.push(name);
  }
  // Bounded parallelism: thousands of nodes should not open thousands of requests at once.
  for (let i = 0; i < names.length; i += 20) {
    await Promise.all(names.slice(i, i + 20).map((n) => core.createNode({ body: gpuNode(n, spec) })));
  }
  if (spec.wait !== false) await waitNodesReady(kc, names, spec.timeoutMs ?? 60_000);
  return names;
}

export function nodeIsReady(n: k8s.V1Node): boolean {
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  const blocked = (n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
  return ready && !blocked;
}

export async function waitNodesReady(kc: k8s.KubeConfig, names: string[], timeoutMs: number): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const want = new Set(names);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await core.listNode();
    const pending = list.items.filter((n) => want.has(n.metadata?.name ?? '') && !nodeIsReady(n));
    const seen = list.items.filter((n) => want.has(n.metadata?.name ?? '')).length;
    if (pending.length === 0 && seen === want.size) return;
    if (Date.now() > deadline) {
      throw new Error(
        `nodes not Ready and untainted after ${timeoutMs} ms: ${pending.map((n) => n.metadata?.name).join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
