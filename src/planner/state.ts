import { idlePerGpuHour, rentalNetPerGpuHour } from '../economics/rates.js';
import type { JobOnNode, NodeSnapshot, PoolSnapshot, ProductEconomics, Snapshot } from './types.js';

/** Internal working state of one plan() call. Nothing here outlives the call. */

/** Economics of one pool × product, with the rates the rules compare. */
export interface Econ {
  pool: string;
  product: string;
  /** Mining yield net of power; null when unknown. */
  mining: number | null;
  electricity: number | null;
  idle: number;
  trainingWatts: number;
  /** Net rate of the standing rental market, when there is one above the floor. */
  market: number | null;
  marketBid: number | null;
  /** Yield and electricity known: the node may change mode. */
  known: boolean;
  unknownReason: string;
  /** Reasons shared by every node of this entry within one plan: staying in a mode, and switches. */
  stay: { mining?: string; idle?: string; market?: string };
  heldReason?: string;
  reasons: Map<string, string>;
}

export interface WorkNode {
  index: number;
  snap: NodeSnapshot;
  econ: Econ | null;
  /** GPUs rigshift may use (total minus reserved). */
  usable: number;
  /** GPUs not used by any job (kept or new). */
  free: number;
  jobs: JobOnNode[] | null;
  /** Mining GPUs now. */
  miningNow: number;
  dwellOk: boolean;
  /** Why the node must stay as it is, or null. */
  held: string | null;
  /** Held only because its pool's yield is unknown: it may still mine (mining is the farm's default). */
  yieldUnknown: boolean;
  /** A drain starts on it in this plan. */
  drainNow: boolean;
  /** An admitted gang holds GPUs on this mining node, whose drain waits for a slot: it mines until then. */
  awaitingDrain: boolean;
  /** Jobs were added to or removed from it in this plan. */
  touched: boolean;
  /** Placement class and bucket it currently sits in (-1 when in none). */
  cls: number;
  bucketFree: number;
}

export function rentalNet(econ: Econ, bid: number): number {
  return rentalNetPerGpuHour(bid, econ.trainingWatts, econ.electricity ?? 0);
}

export function buildEcons(
  pools: readonly PoolSnapshot[],
  market: Readonly<Record<string, number>> | undefined,
  floor: number,
): Map<string, Map<string, Econ>> {
  const out = new Map<string, Map<string, Econ>>();
  for (const pool of pools) {
    const byProduct = new Map<string, Econ>();
    for (const p of pool.products) byProduct.set(p.product, econOf(pool.name, p, market?.[p.product], floor));
    out.set(pool.name, byProduct);
  }
  return out;
}

function econOf(pool: string, p: ProductEconomics, marketBid: number | undefined, floor: number): Econ {
  const e = p.electricityUsdPerKwh;
  const known =
    p.miningUsdPerGpuHour !== null &&
    e !== null &&
    Number.isFinite(p.miningUsdPerGpuHour) &&
    Number.isFinite(e);
  const bid = marketBid !== undefined && Number.isFinite(marketBid) && marketBid >= floor ? marketBid : null;
  return {
    pool,
    product: p.product,
    mining: known ? p.miningUsdPerGpuHour : null,
    electricity: known ? e : null,
    idle: known && e !== null ? idlePerGpuHour(p.idleWatts, e) : 0,
    trainingWatts: p.trainingWatts,
    market: known && bid !== null && e !== null ? rentalNetPerGpuHour(bid, p.trainingWatts, e) : null,
    marketBid: bid,
    known,
    unknownReason:
      p.unknownReason ??
      (p.miningUsdPerGpuHour === null ? 'mining yield unknown' : 'electricity price unknown'),
    stay: {},
    reasons: new Map(),
  };
}

/** Name lists of arrays already found sorted: a caller replaying the same nodes is checked by reference. */
const knownSorted = new WeakMap<Snapshot['nodes'], string[]>();

/** Nodes sorted by name (a copy only when the caller's order is not already sorted). */
export function sortedNodes(nodes: Snapshot['nodes']): readonly NodeSnapshot[] {
  const names = knownSorted.get(nodes);
  if (names && names.length === nodes.length) {
    let same = true;
    for (let i = 0; i < nodes.length && same; i++) same = names[i] === (nodes[i] as NodeSnapshot).name;
    if (same) return nodes;
  }
  for (let i = 1; i < nodes.length; i++) {
    if ((nodes[i - 1] as NodeSnapshot).name >= (nodes[i] as NodeSnapshot).name) {
      return [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
  }
  knownSorted.set(
    nodes,
    nodes.map((n) => n.name),
  );
  return nodes;
}

/**
 * Working nodes are recycled between calls on the same nodes array (the backtest replays one fleet for
 * thousands of steps): nothing of them reaches the output, so this only saves allocation.
 */
/** How every plan reason of a node held because its pool's yield is unknown ends (the operator looks for it). */
export const HELD_FOR_UNKNOWN_YIELD = 'no switch until it is known';

const recycled = new WeakMap<readonly NodeSnapshot[], WorkNode[]>();

export function buildWorkNodes(
  nodes: readonly NodeSnapshot[],
  econs: Map<string, Map<string, Econ>>,
  nowMs: number,
  minDwellMs: number,
): WorkNode[] {
  let out = recycled.get(nodes);
  if (!out || out.length !== nodes.length) {
    out = new Array<WorkNode>(nodes.length);
    recycled.set(nodes, out);
  }
  // Neighbours usually share pool and product: remember the last lookup.
  let lastPool: string | undefined;
  let lastProduct = '';
  let lastEcon: Econ | null = null;
  for (let i = 0; i < nodes.length; i++) {
    const s = nodes[i] as NodeSnapshot;
    if (i === 0 || s.pool !== lastPool || s.product !== lastProduct) {
      lastPool = s.pool;
      lastProduct = s.product;
      lastEcon = s.pool === undefined ? null : (econs.get(s.pool)?.get(s.product) ?? null);
    }
    const econ = lastEcon;
    const usable = Math.max(0, s.gpus - (s.reservedGpus ?? 0));
    let held: string | null = null;
    if (s.unschedulable) held = 'cordoned: rigshift leaves it as it is';
    else if (s.mode === 'draining')
      held = s.drainingTo === 'training' ? 'drain to training in progress' : 'drain to idle in progress';
    else if (s.pool === undefined) held = 'no MiningPool selects this node, so its economics are unknown';
    else if (econ === null) held = `MiningPool ${s.pool} has no GPU profile for ${s.product}`;
    else if (!econ.known)
      held = econ.heldReason ??= `${econ.unknownReason} (pool ${econ.pool}): ${HELD_FOR_UNKNOWN_YIELD}`;
    const yieldUnknown = held !== null && econ !== null && !econ.known && held === econ.heldReason;
    const w = out[i];
    const miningNow = Math.min(usable, Math.max(0, s.miningGpus));
    const dwellOk = nowMs - s.modeSinceMs >= minDwellMs;
    if (w === undefined) {
      out[i] = {
        index: i,
        snap: s,
        econ,
        usable,
        free: usable,
        jobs: null,
        miningNow,
        dwellOk,
        held,
        yieldUnknown,
        drainNow: false,
        awaitingDrain: false,
        touched: false,
        cls: -1,
        bucketFree: -1,
      };
    } else {
      w.index = i;
      w.snap = s;
      w.econ = econ;
      w.usable = usable;
      w.free = usable;
      w.jobs = null;
      w.miningNow = miningNow;
      w.dwellOk = dwellOk;
      w.held = held;
      w.yieldUnknown = yieldUnknown;
      w.drainNow = false;
      w.awaitingDrain = false;
      w.touched = false;
      w.cls = -1;
      w.bucketFree = -1;
    }
  }
  return out;
}

export function addShare(node: WorkNode, job: string, gpus: number): void {
  (node.jobs ??= []).push({ job, gpus });
  node.free = Math.max(0, node.free - gpus);
}

export function removeShare(node: WorkNode, job: string): number {
  if (!node.jobs) return 0;
  let freed = 0;
  node.jobs = node.jobs.filter((s) => {
    if (s.job !== job) return true;
    freed += s.gpus;
    return false;
  });
  if (node.jobs.length === 0) node.jobs = null;
  node.free = Math.min(node.usable, node.free + freed);
  node.touched = true;
  return freed;
}

export function jobGpus(node: WorkNode): number {
  let n = 0;
  if (node.jobs) for (const s of node.jobs) n += s.gpus;
  return n;
}
