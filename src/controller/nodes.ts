import type { V1Node, V1Taint } from '@kubernetes/client-node';
import {
  NVIDIA,
  selectorMatches,
  vendorOf,
  type FleetPolicySpec,
  type GpuVendor,
  type MiningPool,
} from '../api/v1alpha1/index.js';
import { parseQuantity } from '../economics/quantity.js';
import type { NodeMode, TargetMode } from '../planner/index.js';
import {
  DRAIN_ABORTED,
  DRAIN_STALLED,
  DRAIN_STARTED,
  DRAINING_TO,
  MODE_LABEL_KEY,
  MODE_SINCE,
  TAINT_KEY,
  TAINT_VALUE,
  TARGET_MINING_GPUS,
  TARGET_MODE,
  TARGET_REASON,
} from './labels.js';

const MODES: readonly string[] = ['mining', 'draining', 'training', 'idle'];
const TARGETS: readonly string[] = ['mining', 'training', 'idle'];

/** The vendor whose labeller labelled the node (GFD's or AMD's product label), if any. */
export function nodeVendor(node: V1Node): GpuVendor | undefined {
  return vendorOf(node.metadata?.labels);
}

/**
 * The extended resource the node's GPUs are requested by: the one its MiningPool's profile for its product
 * names, else its vendor's (nvidia.com/gpu, amd.com/gpu).
 */
export function nodeGpuResource(node: V1Node, pools?: readonly MiningPool[]): string {
  const product = nodeProduct(node);
  const pool = pools && product ? poolForNode(node, pools) : undefined;
  const profile = pool?.spec.gpuProfiles.find((g) => g.product === product);
  return profile?.resourceName ?? nodeVendor(node)?.resource ?? NVIDIA.resource;
}

/** Whole GPUs the node offers (allocatable of its GPU resource, by default its vendor's). */
export function nodeGpus(node: V1Node, resource: string = nodeGpuResource(node)): number {
  const q = node.status?.allocatable?.[resource];
  const n = q === undefined ? 0 : Number.parseInt(String(q), 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function nodeProduct(node: V1Node): string | undefined {
  const vendor = nodeVendor(node);
  return vendor ? node.metadata?.labels?.[vendor.productLabel] || undefined : undefined;
}

/** Nodes rigshift manages: GPUs in allocatable and a GPU product label. */
export function isGpuNode(node: V1Node, resource: string = nodeGpuResource(node)): boolean {
  return nodeGpus(node, resource) > 0 && nodeProduct(node) !== undefined;
}

function parseTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** What the node's labels and annotations say about its mode (everything needed to resume a switch). */
export interface NodeState {
  /** The mode label, when it holds a valid mode. */
  mode: NodeMode | undefined;
  modeSinceMs: number | undefined;
  target: TargetMode | undefined;
  targetReason: string | undefined;
  targetMiningGpus: number | undefined;
  drainingTo: 'training' | 'idle' | undefined;
  drainStartedMs: number | undefined;
  drainAbortedMs: number | undefined;
  /** Pods keeping the drain from finishing and why (the `drain-stalled` annotation). */
  drainStalled: string | undefined;
  tainted: boolean;
  /** Label and taint keys the mode was written under that the policy no longer uses (to be removed). */
  oldLabelKey: string | undefined;
  oldTaintKey: string | undefined;
  /** The keys recorded on the node are not the policy's: the next write records (and moves to) them. */
  keysChanged: boolean;
}

export function nodeState(
  node: V1Node,
  policy: Pick<FleetPolicySpec, 'modeLabelKey' | 'reservedTaintKey'>,
): NodeState {
  const labels = node.metadata?.labels ?? {};
  const ann = node.metadata?.annotations ?? {};
  // After a policy change of the keys the mode is still read under the keys it was written with.
  const wroteLabel = ann[MODE_LABEL_KEY];
  const wroteTaint = ann[TAINT_KEY];
  const oldLabelKey = wroteLabel && wroteLabel !== policy.modeLabelKey ? wroteLabel : undefined;
  const oldTaintKey = wroteTaint && wroteTaint !== policy.reservedTaintKey ? wroteTaint : undefined;
  const mode = labels[policy.modeLabelKey] ?? (oldLabelKey ? labels[oldLabelKey] : undefined);
  const target = ann[TARGET_MODE];
  const drainingTo = ann[DRAINING_TO];
  const gpus = ann[TARGET_MINING_GPUS];
  const parsedGpus = gpus !== undefined && /^\d+$/.test(gpus) ? Number(gpus) : undefined;
  return {
    mode: mode !== undefined && MODES.includes(mode) ? (mode as NodeMode) : undefined,
    modeSinceMs: parseTime(ann[MODE_SINCE]),
    target: target !== undefined && TARGETS.includes(target) ? (target as TargetMode) : undefined,
    targetReason: ann[TARGET_REASON],
    targetMiningGpus: parsedGpus,
    drainingTo: drainingTo === 'training' || drainingTo === 'idle' ? drainingTo : undefined,
    drainStartedMs: parseTime(ann[DRAIN_STARTED]),
    drainAbortedMs: parseTime(ann[DRAIN_ABORTED]),
    drainStalled: ann[DRAIN_STALLED] || undefined,
    tainted:
      hasReservedTaint(node, policy.reservedTaintKey) ||
      (oldTaintKey !== undefined && hasReservedTaint(node, oldTaintKey)),
    oldLabelKey,
    oldTaintKey,
    keysChanged: wroteLabel !== policy.modeLabelKey || wroteTaint !== policy.reservedTaintKey,
  };
}

export function hasReservedTaint(node: V1Node, key: string): boolean {
  return (node.spec?.taints ?? []).some((t) => t.key === key && t.effect === 'NoSchedule');
}

/**
 * The node's taints with the reserved taint added or removed (others untouched, in their order); the reserved
 * taint under keys the policy no longer uses (`dropKeys`) is removed too.
 */
export function taintsWith(
  node: V1Node,
  key: string,
  reserved: boolean,
  dropKeys: readonly string[] = [],
): V1Taint[] {
  const ours = (t: V1Taint): boolean =>
    t.effect === 'NoSchedule' && (t.key === key || (dropKeys.includes(t.key) && t.value === TAINT_VALUE));
  const others = (node.spec?.taints ?? []).filter((t) => !ours(t));
  const out: V1Taint[] = others.map((t) => {
    const copy: V1Taint = { key: t.key, effect: t.effect };
    if (t.value !== undefined) copy.value = t.value;
    if (t.timeAdded !== undefined) copy.timeAdded = t.timeAdded;
    return copy;
  });
  if (reserved) out.push({ key, value: TAINT_VALUE, effect: 'NoSchedule' });
  return out;
}

const MiB = 2 ** 20;

/**
 * GPU memory per GPU in MiB from the vendor's labeller (0 when unknown): GFD's nvidia.com/gpu.memory is MiB;
 * AMD's amd.com/gpu.vram is like "24G", which the labeller means as GiB (bytes ÷ 1024³), so its unit letter
 * is read as the binary one.
 */
export function nodeGpuMemoryMiB(node: V1Node): number {
  const vendor = nodeVendor(node);
  const v = vendor ? node.metadata?.labels?.[vendor.memoryLabel]?.trim() : undefined;
  if (!vendor || !v) return 0;
  let n = NaN;
  if (vendor.memoryUnit === 'MiB') n = /^\d+$/.test(v) ? Number(v) : NaN;
  else if (/^\d+(\.\d+)?[KMGT]$/.test(v)) {
    try {
      n = Math.floor(parseQuantity(`${v}i`).toNumber() / MiB);
    } catch {
      n = NaN;
    }
  }
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function labelInt(node: V1Node, key: string | undefined): number | undefined {
  const v = key ? node.metadata?.labels?.[key] : undefined;
  return v !== undefined && /^\d{1,6}$/.test(v) ? Number(v) : undefined;
}

/** CUDA compute capability (GFD's gpu.compute.major/minor) as major × 100 + minor, when published. */
export function nodeComputeCapability(node: V1Node): number | undefined {
  const vendor = nodeVendor(node);
  const major = labelInt(node, vendor?.computeMajorLabel);
  const minor = labelInt(node, vendor?.computeMinorLabel);
  return major === undefined ? undefined : major * 100 + Math.min(99, minor ?? 0);
}

/** Major version of the GPU driver (GFD's cuda.driver-version.major), when published. */
export function nodeDriverMajor(node: V1Node): number | undefined {
  for (const key of nodeVendor(node)?.driverMajorLabels ?? []) {
    const v = labelInt(node, key);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * The MiningPool a node mines for: the first pool (by namespace/name) whose node selector matches the node and
 * that has a GPU profile for its product. Pools should select disjoint nodes; the order makes overlaps stable.
 */
export function poolForNode(node: V1Node, pools: readonly MiningPool[]): MiningPool | undefined {
  const product = nodeProduct(node);
  if (!product) return undefined;
  const labels = node.metadata?.labels ?? {};
  let best: MiningPool | undefined;
  let bestKey = '';
  for (const p of pools) {
    if (p.metadata.deletionTimestamp) continue;
    if (!p.spec.gpuProfiles.some((g) => g.product === product)) continue;
    if (!selectorMatches(p.spec.nodeSelector, labels)) continue;
    const key = `${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}`;
    if (!best || key < bestKey) {
      best = p;
      bestKey = key;
    }
  }
  return best;
}
