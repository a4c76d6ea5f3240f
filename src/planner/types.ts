/**
 * The planner's own plain types. The operator builds a Snapshot from the cluster, the backtest from a trace;
 * both call plan(snapshot) and act on the Plan. Times are epoch milliseconds, money USD, rates per GPU-hour.
 */

export type NodeMode = 'mining' | 'draining' | 'training' | 'idle';
/** What a node is asked to be: draining is a transition, never a goal. */
export type TargetMode = 'mining' | 'training' | 'idle';
export type Tier = 'OnDemand' | 'Interruptible';

export interface NodeSnapshot {
  name: string;
  /** GPU Feature Discovery product, e.g. NVIDIA-GeForce-RTX-3090. */
  product: string;
  gpus: number;
  gpuMemoryMiB: number;
  /** CUDA compute capability as major × 100 + minor (8.6 → 806), where the labeller publishes it. */
  computeCapability?: number;
  /** GPU driver major version, where the labeller publishes it. */
  driverMajor?: number;
  mode: NodeMode;
  /** When the node entered `mode`. */
  modeSinceMs: number;
  /** For a draining node: what the drain is for (default idle). */
  drainingTo?: 'training' | 'idle';
  /** GPUs held by mining pods right now (on a training node: the leftover GPUs that keep mining). */
  miningGpus: number;
  /** GPUs used by pods rigshift does not own: never given to jobs or miners. */
  reservedGpus?: number;
  /** Cordoned by someone: rigshift leaves it exactly as it is and places nothing new on it. */
  unschedulable: boolean;
  /** MiningPool whose yield applies to this node (the operator resolves the pools' node selectors). */
  pool?: string;
  /** The node's labels, for jobs' nodeSelectors (may be left out when no job has one). */
  labels?: Readonly<Record<string, string>>;
}

/** The economics of one GPU product on one pool, already computed from its price sources. */
export interface ProductEconomics {
  product: string;
  /** Mining yield net of power, USD per GPU-hour; null when a price is unknown or stale. */
  miningUsdPerGpuHour: number | null;
  /** Null when unknown; training and idle rates depend on it. */
  electricityUsdPerKwh: number | null;
  trainingWatts: number;
  idleWatts: number;
  /** Why the yield is unknown (shown in the reasons), e.g. "revenue price stale since 12:00". */
  unknownReason?: string;
}

export interface PoolSnapshot {
  name: string;
  products: readonly ProductEconomics[];
}

export interface JobShare {
  node: string;
  gpus: number;
}

export interface JobOnNode {
  job: string;
  gpus: number;
}

export interface JobSnapshot {
  /** namespace/name: unique, and the deterministic tie-break. */
  key: string;
  replicas: number;
  gpusPerReplica: number;
  /** Accepted GPU products; empty or absent means any. */
  products?: readonly string[];
  minGpuMemoryMiB?: number;
  /** Least compute capability (major × 100 + minor) and driver major: only nodes publishing them qualify. */
  minComputeCapability?: number;
  minDriverMajor?: number;
  /** Labels every node of the gang must carry. */
  nodeSelector?: Readonly<Record<string, string>>;
  bidUsdPerGpuHour: number;
  tier: Tier;
  /** pending: waiting for GPUs; admitted: placed, pods starting; running: pods running. */
  state: 'pending' | 'admitted' | 'running';
  /** Where an admitted or running job's GPUs are (each replica's GPUs on one node). */
  assigned: readonly JobShare[];
  runtimeSeconds: number;
  minRuntimeSeconds: number;
  /** A pending job is not placed before this time (backoff after its gang failed to start). */
  notBeforeMs?: number;
  /** Why it waits until notBeforeMs, shown in its waiting reason. */
  notBeforeReason?: string;
  /** What its whole gang takes from the ResourceQuotas of its namespace (pending jobs). */
  quotaNeeds?: readonly QuotaNeed[];
  /** Set when the operator cannot tell whether it fits (e.g. a quota not counted yet): it waits, saying why. */
  blockedCode?: 'QuotaExceeded' | 'PodsStopping';
  blockedReason?: string;
}

/** An amount of one resource of one ResourceQuota that a gang takes, in the resource's base unit. */
export interface QuotaNeed {
  /** namespace/name of the ResourceQuota. */
  quota: string;
  /** The quota's resource name, e.g. `requests.nvidia.com/gpu`, `count/pods`, `requests.memory` (bytes). */
  resource: string;
  amount: number;
}

/** A ResourceQuota's figures (from its status) for the resources gangs take from it. */
export interface QuotaSnapshot {
  /** namespace/name */
  key: string;
  resources: readonly QuotaRoom[];
}

export interface QuotaRoom {
  resource: string;
  hard: number;
  used: number;
  /** Taken by admitted gangs whose pods are not all created yet (not in `used` yet). */
  held: number;
}

export interface PlannerPolicy {
  hysteresisPercent: number;
  minDwellSeconds: number;
  /** Seconds a switched GPU earns nothing (drain, image pull, data load). */
  switchingSeconds: number;
  /** A count, or a percentage of the GPU nodes as "25%" (at least one). */
  maxConcurrentDrains: number | string;
  allowIdle: boolean;
  /** Jobs bidding below this are refused; the rental market below it is ignored. */
  floorRentalUsdPerGpuHour: number;
  /**
   * How long a price gap is expected to last (default one day, the pace at which mining revenue and
   * rental quotes move). A switch must pay for its lost seconds within max(this, minDwellSeconds).
   */
  paybackSeconds?: number;
  /**
   * Which of the nodes a job may use it takes first, within each class (training, idle, mining):
   * `smallestMemory` (default) the least GPU memory that fits, keeping big cards for jobs that need them, then
   * the lowest mining yield; `yield` the lowest mining yield only (the placement before memory mattered; the
   * backtest compares the two).
   */
  placement?: 'smallestMemory' | 'yield';
}

export interface Snapshot {
  nowMs: number;
  nodes: readonly NodeSnapshot[];
  pools: readonly PoolSnapshot[];
  jobs: readonly JobSnapshot[];
  policy: PlannerPolicy;
  /**
   * Standing rental demand per GPU product in USD per GPU-hour: any whole node may be rented at this price
   * and handed back at will. The backtest uses it when it replays prices without a job trace.
   */
  rentalMarket?: Readonly<Record<string, number>>;
  /** ResourceQuotas of the jobs' namespaces: a gang is admitted only where they all hold it. */
  quotas?: readonly QuotaSnapshot[];
}

export interface NodePlan {
  node: string;
  mode: TargetMode;
  /** Jobs on this node once the plan is carried out. */
  jobs: readonly JobOnNode[];
  miningGpus: number;
  idleGpus: number;
  /** Training without a job: rented on the standing market. */
  market: boolean;
  /** A drain (eviction of this node's mining pods) starts now. */
  drain: boolean;
  /** Differs from what the node does now. */
  changed: boolean;
  reason: string;
}

export interface Placement {
  job: string;
  nodes: readonly JobShare[];
  /** Placed by this plan (false: kept where it already was). */
  isNew: boolean;
  reason: string;
}

export type WaitCode =
  | 'BelowFloor'
  | 'NoMatchingNodes'
  | 'TooLarge'
  | 'BidBelowYield'
  | 'NoCapacity'
  | 'DrainLimit'
  | 'Dwell'
  | 'YieldUnknown'
  | 'NodeLost'
  | 'StartBackoff'
  | 'QuotaExceeded'
  | 'PodsStopping';

export interface JobWait {
  job: string;
  code: WaitCode;
  reason: string;
}

export interface Preemption {
  job: string;
  /** The job that takes its GPUs; absent when mining or idle takes them back. */
  by?: string;
  reason: string;
}

export interface DrainStart {
  node: string;
  /** training: for a job or the market; idle: power costs more than anything pays. */
  to: 'training' | 'idle';
  reason: string;
}

export interface Plan {
  /** Every node, sorted by name. */
  nodes: NodePlan[];
  /** Every admitted job (kept or new), sorted by job key. */
  placements: Placement[];
  /** Pending jobs that wait (capacity, price, drain limit...), sorted by bid then key. */
  queued: JobWait[];
  /** Pending jobs that cannot run as specified (below floor, no node could ever hold them). */
  refused: JobWait[];
  preemptions: Preemption[];
  drains: DrainStart[];
  /** Drains allowed at once, drains in progress before this plan. */
  drainLimit: number;
  drainsInProgress: number;
}
