import type { Econ, WorkNode } from './state.js';

/**
 * Placement index: nodes that can take a job, grouped by pool × product × GPU memory and by placement class,
 * bucketed by free GPUs. Each bucket is sorted by node index descending so pop() yields the smallest name.
 * This keeps placing thousands of jobs on thousands of nodes fast and deterministic.
 */

/** Placement classes in the order the rules prefer them. */
export const TRAINING_IDLE_FREE = 0; // training node, its free GPUs idle: no switch, no drain
export const IDLE_NODE = 1; // idle node: switches to training, nothing to drain
export const TRAINING_MINING_FREE = 2; // training node whose free GPUs mine: the miner shrinks (a drain)
export const MINING_NODE = 3; // mining node: drained, lowest yield first
export const CLASSES = 4;

export function needsDrain(cls: number): boolean {
  return cls === TRAINING_MINING_FREE || cls === MINING_NODE;
}

export interface Group {
  econ: Econ;
  memoryMiB: number;
  /** Compute capability (major × 100 + minor) and driver major of its nodes, -1 when not published. */
  capability: number;
  driverMajor: number;
  /** The nodes' values of the labels some job's nodeSelector names (empty when no job has one). */
  labels: Readonly<Record<string, string>>;
  maxUsable: number;
  /** Usable GPUs of every node in the group, whatever its state: for "could this ever fit". */
  usables: number[];
  buckets: number[][][];
  /** Nodes kept out because of the minimum dwell. */
  dwellBlocked: number;
  slotsCache: Map<number, number>;
}

/** A node's compute capability and driver major for grouping (-1: not published). */
export function capsOf(n: WorkNode): { capability: number; driverMajor: number } {
  return { capability: n.snap.computeCapability ?? -1, driverMajor: n.snap.driverMajor ?? -1 };
}

/** A node's values of the given label keys (keys it lacks are left out). */
export function selectedLabels(
  labels: Readonly<Record<string, string>> | undefined,
  keys: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = labels?.[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** A stable text for a set of labels, for grouping and sorting. */
export function labelSignature(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => cmp(a, b)));
}

/** Do these labels carry every label of the selector? */
export function selectorHolds(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [k, v] of Object.entries(selector ?? {})) if (labels[k] !== v) return false;
  return true;
}

function insertDesc(bucket: number[], index: number): void {
  let lo = 0;
  let hi = bucket.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((bucket[mid] as number) > index) lo = mid + 1;
    else hi = mid;
  }
  bucket.splice(lo, 0, index);
}

function removeDesc(bucket: number[], index: number): void {
  let lo = 0;
  let hi = bucket.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((bucket[mid] as number) > index) lo = mid + 1;
    else hi = mid;
  }
  if (bucket[lo] === index) bucket.splice(lo, 1);
}

export class PlacementIndex {
  readonly groups: Group[] = [];
  readonly groupOf: (Group | null)[];

  /** `selectorKeys`: the label keys jobs' nodeSelectors name; nodes differing in them go to different groups. */
  constructor(
    readonly nodes: WorkNode[],
    selectorKeys: readonly string[] = [],
  ) {
    this.groupOf = new Array<Group | null>(nodes.length).fill(null);
    const byEcon = new Map<Econ, Map<string, Group>>();
    for (const n of nodes) {
      if (n.econ === null || n.held !== null) continue;
      let byMem = byEcon.get(n.econ);
      if (!byMem) byEcon.set(n.econ, (byMem = new Map()));
      const labels = selectedLabels(n.snap.labels, selectorKeys);
      const caps = capsOf(n);
      const key = `${n.snap.gpuMemoryMiB}\u0000${caps.capability}\u0000${caps.driverMajor}\u0000${labelSignature(labels)}`;
      let g = byMem.get(key);
      if (!g) {
        g = {
          econ: n.econ,
          memoryMiB: n.snap.gpuMemoryMiB,
          ...caps,
          labels,
          maxUsable: 0,
          usables: [],
          buckets: [],
          dwellBlocked: 0,
          slotsCache: new Map(),
        };
        for (let c = 0; c < CLASSES; c++) g.buckets.push([]);
        byMem.set(key, g);
        this.groups.push(g);
      }
      g.maxUsable = Math.max(g.maxUsable, n.usable);
      g.usables.push(n.usable);
      this.groupOf[n.index] = g;
    }
    this.groups.sort(
      (a, b) =>
        cmp(a.econ.product, b.econ.product) ||
        cmp(a.econ.pool, b.econ.pool) ||
        a.memoryMiB - b.memoryMiB ||
        a.capability - b.capability ||
        a.driverMajor - b.driverMajor ||
        cmp(labelSignature(a.labels), labelSignature(b.labels)),
    );
    // Reverse name order so each bucket ends up sorted descending.
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i] as WorkNode;
      this.place(n, false);
      const g = this.groupOf[i];
      if (g && n.cls < 0 && !n.dwellOk && n.free > 0 && n.jobs === null && n.snap.mode !== 'training') {
        g.dwellBlocked++;
      }
    }
  }

  /** Where a node belongs right now, or -1 when it cannot take work. */
  classOf(n: WorkNode): number {
    if (n.held !== null || this.groupOf[n.index] === null || n.free <= 0) return -1;
    const mode = n.snap.mode;
    if (mode === 'training' || n.jobs !== null || n.drainNow) {
      return n.miningNow > 0 ? TRAINING_MINING_FREE : TRAINING_IDLE_FREE;
    }
    if (!n.dwellOk) return -1;
    if (mode === 'idle') return IDLE_NODE;
    if (mode === 'mining') return MINING_NODE;
    return -1;
  }

  /** (Re)files a node after its free GPUs or class changed. */
  place(n: WorkNode, sorted = true): void {
    const g = this.groupOf[n.index];
    if (!g) return;
    if (n.cls >= 0) removeDesc(bucketOf(g, n.cls, n.bucketFree), n.index);
    const cls = this.classOf(n);
    n.cls = cls;
    n.bucketFree = n.free;
    if (cls < 0) return;
    const bucket = bucketOf(g, cls, n.free);
    if (sorted) insertDesc(bucket, n.index);
    else bucket.push(n.index);
  }

  /** Takes a node out of its bucket (it is being used by a tentative placement). */
  take(n: WorkNode): void {
    const g = this.groupOf[n.index];
    if (!g || n.cls < 0) return;
    removeDesc(bucketOf(g, n.cls, n.bucketFree), n.index);
    n.cls = -1;
  }

  /** Puts back a node taken by a placement that was rolled back (its state unchanged). */
  putBack(n: WorkNode): void {
    this.place(n);
  }

  /** Replica slots for `gpusPerReplica` over every node of a group, whatever its state. */
  static everSlots(g: Group, gpusPerReplica: number): number {
    let s = g.slotsCache.get(gpusPerReplica);
    if (s === undefined) {
      s = 0;
      for (const u of g.usables) s += Math.floor(u / gpusPerReplica);
      g.slotsCache.set(gpusPerReplica, s);
    }
    return s;
  }

  /** Replica slots available now in the given class of a group. */
  static slotsNow(g: Group, cls: number, gpusPerReplica: number): number {
    const buckets = g.buckets[cls] as number[][];
    let s = 0;
    for (let f = gpusPerReplica; f < buckets.length; f++)
      s += (buckets[f] as number[]).length * Math.floor(f / gpusPerReplica);
    return s;
  }
}

export function bucketOf(g: Group, cls: number, free: number): number[] {
  const buckets = g.buckets[cls] as number[][];
  while (buckets.length <= free) buckets.push([]);
  return buckets[free] as number[];
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
