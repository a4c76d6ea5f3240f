/** Seconds as the table and JSON show them: 3 decimals, null when not measured. */
export const secs = (ms: number | undefined | null): number | null =>
  ms === undefined || ms === null || !Number.isFinite(ms) ? null : Math.round(ms) / 1000;

/** The q-quantile (nearest rank) of a sample; undefined for none. */
export function quantile(xs: readonly number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export interface Latency {
  /** Nodes that reached the milestone, of those expected. */
  nodes: number;
  expected: number;
  p50Seconds: number | null;
  p99Seconds: number | null;
}

export function latency(startMs: number, at: Map<string, number>, expected: number): Latency {
  const xs = [...at.values()].map((t) => t - startMs);
  return {
    nodes: xs.length,
    expected,
    p50Seconds: secs(quantile(xs, 0.5)),
    p99Seconds: secs(quantile(xs, 0.99)),
  };
}

export interface SwitchFigures {
  /** Price (or job) change until the node carries its new mode label (and the taint, for training). */
  labelled: Latency;
  /** ... until no mining pod is left on it (or, back to mining, its miner Running). */
  done: Latency;
  /** For training: until the job's pods on it are Running. */
  running?: Latency;
  writes: number;
  requests: number;
  writesPerSwitch: number | null;
  /** The operator's requests during the switch, by `METHOD resource`, per node switch. */
  perSwitch: Record<string, number>;
}

/** Pods Running over time after a burst's first create: [seconds, count] steps. */
export type Series = [number, number][];

export interface RunFigures {
  /** Every pod of the burst Running, from the first create; null when not all were by the deadline. */
  seconds: number | null;
  pods: number;
  running: number;
  /** Seconds to create the burst's objects (the client side). */
  submitSeconds: number | null;
  podsPerSecond: number | null;
  series: Series;
}

export interface ScaleResult {
  nodes: number;
  gpusPerNode: number;
  products: string[];
  flipNodes: number;
  jobs: number;
  pods: number;
  gpus: number;
  minerGraceSeconds: number;
  /** The operator's node workers (nodes switched in parallel). */
  nodeWorkers: number;
  /** The operator's job workers (TrainingJobs reconciled in parallel). */
  jobWorkers: number;
  wallSeconds: number;
  flip: {
    p50Seconds: number | null;
    p99Seconds: number | null;
    writesPerSwitch: number | null;
    toIdle: SwitchFigures;
    toMining: SwitchFigures;
    toTraining: SwitchFigures;
  };
  gangs: RunFigures & { bareSeconds: number | null; ratioToBare: number | null; bare: RunFigures };
  kueue: (Partial<RunFigures> & { seconds: number | null; ratio: number | null; blocked?: string }) & {
    version?: string;
    /** Jobs whose Workload Kueue admitted (all of them, or the run does not count). */
    admitted?: number;
  };
  operator: {
    cpuSeconds: number | null;
    peakRssMiB: number | null;
    steadyRequestsPerSecond: number | null;
    steadyWindowSeconds: number;
  };
  planner: { p99Ms: number | null; p50Ms: number | null; cycles: number };
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string };
  /** What failed, when a part of the run could not be measured. */
  errors?: string[];
}

export const ratio = (a: number | null, b: number | null): number | null =>
  a === null || b === null || b <= 0 ? null : Math.round((a / b) * 100) / 100;
