import { switchFactor } from '../../economics/accounting.js';
import { rentalNetPerGpuHour } from '../../economics/rates.js';
import { IDLE, MINING, type Market, type ProductMarket } from '../market.js';
import type { FleetNode, FleetShape } from '../replay.js';
import { fleetNodes, gpuMemoryOf } from '../replay.js';
import type { TraceJob } from './trace.js';

/**
 * The world a job-trace backtest runs in (data/README.md, "Accounting with a job trace"): steps of the market
 * trace, jobs that arrive, wait (at most their patience), run whole steps, or leave. Each GPU is mining, idle
 * or running one job during a step; a GPU whose mode or job changed since the step before loses the first S
 * seconds. A job submitted during a step can start at the next step start at the earliest. A preempted
 * interruptible job pays for the steps it ran and goes back to the queue with the rest of its run (it resumes
 * from its checkpoint, as interruptible rentals do), waiting at most its patience again.
 */

export type JobState = 'future' | 'pending' | 'running' | 'done' | 'expired' | 'refused' | 'preempted';

export interface SimJob {
  spec: TraceJob;
  state: JobState;
  /** Latest step start at which it may still start. */
  deadlineMs: number;
  startMs: number;
  /** Runs during every step that starts before this. */
  endMs: number;
  /** Run time still owed, ms (all of it until it first starts). */
  remainingMs: number;
  /** Has it ever started? */
  admitted: boolean;
  /** Node index → GPUs, while running. */
  nodes: Map<number, number>;
  /** Accepted product indexes. */
  products: number[];
}

/** What a node's GPUs do during one step. */
export interface Composition {
  mining: number;
  idle: number;
  /** Job index → GPUs. */
  jobs: Map<number, number>;
}

export interface JobCounts {
  admitted: number;
  refused: number;
  preempted: number;
  expired: number;
}

export interface WorldResult {
  revenue: number;
  /** GPUs whose mode or job changed, summed over steps. */
  switches: number;
  counts: JobCounts;
}

export interface StepView {
  t: number;
  nowMs: number;
  /** Per product: its step index starting now, or -1. */
  atStep: Int32Array;
  /** Per product: the last step index started (for prices between steps). */
  lastStep: Int32Array;
}

export interface Strategy {
  name: string;
  /** Decides this step: start, preempt or refuse jobs and set every node's composition. */
  decide(world: World, view: StepView): void;
}

export interface StepRecord {
  t: number;
  node: number;
  comp: Composition;
}

export class World {
  readonly fleet: FleetNode[];
  readonly jobs: SimJob[];
  readonly comps: Composition[];
  readonly counts: JobCounts = { admitted: 0, refused: 0, preempted: 0, expired: 0 };
  private prev: Composition[];
  private nextArrival = 0;
  revenue = 0;
  switches = 0;
  /** Pending job indexes in submit order. */
  pending: number[] = [];
  running = new Set<number>();

  constructor(
    readonly market: Market,
    readonly shape: FleetShape,
    trace: readonly TraceJob[],
    readonly switchingSeconds: number,
    private readonly record?: (r: StepRecord) => void,
  ) {
    this.fleet = fleetNodes(market, shape);
    this.jobs = trace.map((spec) => ({
      spec,
      state: 'future',
      deadlineMs: spec.submitMs + spec.patienceHours * 3_600_000,
      startMs: NaN,
      endMs: NaN,
      remainingMs: spec.durationHours * 3_600_000,
      admitted: false,
      nodes: new Map(),
      products: acceptedProducts(spec, market, shape),
    }));
    const G = shape.gpusPerNode;
    this.comps = this.fleet.map(() => ({ mining: G, idle: 0, jobs: new Map() }));
    this.prev = this.fleet.map(() => ({ mining: G, idle: 0, jobs: new Map() }));
  }

  product(node: number): ProductMarket {
    return this.market.products[(this.fleet[node] as FleetNode).product] as ProductMarket;
  }

  /** Net rate of job j on a node of product p at step k. */
  jobRate(j: number, p: number, k: number): number {
    const pm = this.market.products[p] as ProductMarket;
    return rentalNetPerGpuHour(
      (this.jobs[j] as SimJob).spec.bid,
      pm.profile.trainingWatts,
      pm.series.electricity[k] as number,
    );
  }

  freeGpus(node: number): number {
    let used = 0;
    for (const g of (this.comps[node] as Composition).jobs.values()) used += g;
    return this.shape.gpusPerNode - used;
  }

  /** Can the job ever fit this fleet (products and sizes only)? */
  everFits(j: number): boolean {
    const job = this.jobs[j] as SimJob;
    if (job.spec.gpusPerReplica > this.shape.gpusPerNode) return false;
    const perNode = Math.floor(this.shape.gpusPerNode / job.spec.gpusPerReplica);
    return job.products.length * this.shape.nodesPerProduct * perNode >= job.spec.replicas;
  }

  start(j: number, placement: Map<number, number>, nowMs: number): void {
    const job = this.jobs[j] as SimJob;
    job.state = 'running';
    job.startMs = nowMs;
    job.endMs = nowMs + job.remainingMs;
    job.nodes = placement;
    for (const [n, g] of placement) (this.comps[n] as Composition).jobs.set(j, g);
    this.running.add(j);
    if (!job.admitted) this.counts.admitted++;
    job.admitted = true;
    this.pending = this.pending.filter((x) => x !== j);
  }

  /** Stops a running job. Preempted, it has paid for the steps it ran and queues again for the rest. */
  stop(j: number, state: 'preempted' | 'done', nowMs = NaN): void {
    const job = this.jobs[j] as SimJob;
    for (const n of job.nodes.keys()) (this.comps[n] as Composition).jobs.delete(j);
    job.nodes = new Map();
    this.running.delete(j);
    if (state === 'done') {
      job.state = 'done';
      return;
    }
    this.counts.preempted++;
    job.state = 'pending';
    job.remainingMs = Math.max(0, job.endMs - nowMs);
    // Stopped at the step start it began at, it ran nothing: it keeps its deadline (else a start and a stop
    // at once would stretch its patience without end).
    if (job.startMs < nowMs) job.deadlineMs = nowMs + job.spec.patienceHours * 3_600_000;
    // Back in the queue at its place by submission.
    const at = this.pending.findIndex((x) => x > j);
    this.pending.splice(at < 0 ? this.pending.length : at, 0, j);
  }

  refuse(j: number): void {
    (this.jobs[j] as SimJob).state = 'refused';
    this.counts.refused++;
    this.pending = this.pending.filter((x) => x !== j);
  }

  /** Jobs end, arrive and expire at a step start, before the strategy decides. */
  private housekeeping(nowMs: number): void {
    for (const j of [...this.running]) if ((this.jobs[j] as SimJob).endMs <= nowMs) this.stop(j, 'done');
    while (
      this.nextArrival < this.jobs.length &&
      (this.jobs[this.nextArrival] as SimJob).spec.submitMs < nowMs
    ) {
      const job = this.jobs[this.nextArrival] as SimJob;
      job.state = 'pending';
      this.pending.push(this.nextArrival);
      this.nextArrival++;
    }
    this.pending = this.pending.filter((j) => {
      const job = this.jobs[j] as SimJob;
      if (job.deadlineMs < nowMs) {
        job.state = 'expired';
        this.counts.expired++;
        return false;
      }
      return true;
    });
  }

  run(strategy: Strategy, onStep?: (done: number, total: number) => void): WorldResult {
    const P = this.market.products.length;
    const cursor = new Int32Array(P);
    const lastStep = new Int32Array(P);
    const atStep = new Int32Array(P);
    const total = this.market.timeline.length;
    for (let t = 0; t < total; t++) {
      const nowMs = this.market.timeline[t] as number;
      for (let p = 0; p < P; p++) {
        const pm = this.market.products[p] as ProductMarket;
        const k = cursor[p] as number;
        if (k < pm.series.startMs.length && pm.series.startMs[k] === nowMs) {
          atStep[p] = k;
          lastStep[p] = k;
          cursor[p] = k + 1;
        } else atStep[p] = -1;
      }
      this.housekeeping(nowMs);
      strategy.decide(this, { t, nowMs, atStep, lastStep });
      this.account(t, atStep);
      if (onStep && (t % 32 === 0 || t === total - 1)) onStep(t + 1, total);
    }
    return { revenue: this.revenue, switches: this.switches, counts: { ...this.counts } };
  }

  /** Earnings of every node whose product has a step starting now. */
  private account(t: number, atStep: Int32Array): void {
    const S = this.switchingSeconds;
    for (let n = 0; n < this.fleet.length; n++) {
      const p = (this.fleet[n] as FleetNode).product;
      const k = atStep[p] as number;
      if (k < 0) continue;
      const pm = this.market.products[p] as ProductMarket;
      const h = pm.series.hours[k] as number;
      const f = switchFactor(S, h);
      const now = this.comps[n] as Composition;
      const before = this.prev[n] as Composition;
      const part = (gpus: number, kept: number, rate: number): number => {
        const same = Math.min(gpus, kept);
        this.switches += gpus - same;
        return h * rate * (same + (gpus - same) * f);
      };
      let earned = part(now.mining, before.mining, pm.rate[MINING][k] as number);
      earned += part(now.idle, before.idle, pm.rate[IDLE][k] as number);
      for (const [j, g] of now.jobs) earned += part(g, before.jobs.get(j) ?? 0, this.jobRate(j, p, k));
      this.revenue += earned;
      this.record?.({ t, node: n, comp: now });
      this.prev[n] = { mining: now.mining, idle: now.idle, jobs: new Map(now.jobs) };
    }
  }
}

/** Indexes of the products a job accepts: the one it names (or any), with enough GPU memory. */
export function acceptedProducts(spec: TraceJob, market: Market, shape: FleetShape): number[] {
  const out: number[] = [];
  market.products.forEach((pm, i) => {
    const product = pm.series.product;
    if (spec.product !== '' && spec.product !== product) return;
    if (gpuMemoryOf(shape, product) < (spec.minGpuMemoryMiB ?? 0)) return;
    out.push(i);
  });
  return out;
}

/**
 * First fit of a gang over candidate nodes in order: as many replicas per node as fit, all or nothing.
 * Returns node → GPUs, or null.
 */
export function firstFit(world: World, j: number, candidates: readonly number[]): Map<number, number> | null {
  const job = world.jobs[j] as SimJob;
  const g = job.spec.gpusPerReplica;
  let remaining = job.spec.replicas;
  const out = new Map<number, number>();
  for (const n of candidates) {
    const fit = Math.min(Math.floor(world.freeGpus(n) / g), remaining);
    if (fit <= 0) continue;
    out.set(n, fit * g);
    remaining -= fit;
    if (remaining === 0) return out;
  }
  return null;
}
