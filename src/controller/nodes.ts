import type { V1Node, V1Taint } from '@kubernetes/client-node';
import { selectorMatches, type FleetPolicySpec, type MiningPool } from '../api/v1alpha1/index.js';
import type { NodeMode, TargetMode } from '../planner/index.js';
import {
  DRAIN_ABORTED,
  DRAIN_STALLED,
  DRAIN_STARTED,
  DRAINING_TO,
  GPU_MEMORY_LABEL,
  GPU_RESOURCE,
  MODE_LABEL_KEY,
  MODE_SINCE,
  PRODUCT_LABEL,
  TAINT_KEY,
  TAINT_VALUE,
  TARGET_MINING_GPUS,
  TARGET_MODE,
  TARGET_REASON,
} from './labels.js';

const MODES: readonly string[] = ['mining', 'draining', 'training', 'idle'];
const TARGETS: readonly string[] = ['mining', 'training', 'idle'];

/** Whole GPUs the node offers (allocatable nvidia.com/gpu). */
export function nodeGpus(node: V1Node): number {
  const q = node.status?.allocatable?.[GPU_RESOURCE];
  const n = q === undefined ? 0 : Number.parseInt(String(q), 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function nodeProduct(node: V1Node): string | undefined {
  return node.metadata?.labels?.[PRODUCT_LABEL] || undefined;
}

/** Nodes rigshift manages: GPUs in allocatable and a GPU product label. */
export function isGpuNode(node: V1Node): boolean {
  return nodeGpus(node) > 0 && nodeProduct(node) !== undefined;
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

/** GPU memory per GPU in MiB from GPU Feature Discovery (0 when unknown). */
export function nodeGpuMemoryMiB(node: V1Node): number {
  const v = node.metadata?.labels?.[GPU_MEMORY_LABEL];
  const n = v === undefined ? NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
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
