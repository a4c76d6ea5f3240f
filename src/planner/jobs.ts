import {
  CLASSES,
  IDLE_NODE,
  MINING_NODE,
  PlacementIndex,
  TRAINING_IDLE_FREE,
  TRAINING_MINING_FREE,
  bucketOf,
  capsOf,
  cmp,
  labelSignature,
  needsDrain,
  selectedLabels,
  selectorHolds,
  type Group,
} from './buckets.js';
import { worthSwitching, type Rules } from './policy.js';
import { duration, list, plural, seconds, usd } from './reasons.js';
import { addShare, removeShare, rentalNet, type Econ, type WorkNode } from './state.js';
import { QuotaLedger } from './quota.js';
import type {
  DrainStart,
  JobSnapshot,
  JobWait,
  Placement,
  Preemption,
  QuotaSnapshot,
  WaitCode,
} from './types.js';

/** Jobs: keep what runs, let mining or idle take back underpaid interruptible GPUs, place pending gangs. */

export interface JobsContext {
  nowMs: number;
  rules: Rules;
  nodes: WorkNode[];
  byName: Map<string, WorkNode>;
  drainQuota: { left: number; limit: number };
  drains: DrainStart[];
  quotas?: readonly QuotaSnapshot[] | undefined;
}

export interface JobsOutcome {
  placements: Placement[];
  queued: JobWait[];
  refused: JobWait[];
  preemptions: Preemption[];
}

interface Pick {
  node: WorkNode;
  gpus: number;
  cls: number;
  drain: boolean;
}

interface Tier {
  cls: number;
  groups: Group[];
}

/** Nodes by product and GPU memory, all of them (held too): can a job ever fit as specified? */
interface CatalogEntry {
  product: string;
  memoryMiB: number;
  capability: number;
  driverMajor: number;
  labels: Readonly<Record<string, string>>;
  usables: number[];
  /** Replica slots by GPUs per replica. */
  slots: Map<number, number>;
  held: number;
  unknown: number;
}

const byBidThenKey = (a: JobSnapshot, b: JobSnapshot): number =>
  b.bidUsdPerGpuHour - a.bidUsdPerGpuHour || cmp(a.key, b.key);

/** Does a node of this product, memory and capabilities (-1: not published) meet what the job asks? */
function accepts(
  job: JobSnapshot,
  product: string,
  memoryMiB: number,
  caps: { capability: number; driverMajor: number },
): boolean {
  if (job.products && job.products.length > 0 && !job.products.includes(product)) return false;
  if (job.minComputeCapability !== undefined && caps.capability < job.minComputeCapability) return false;
  if (job.minDriverMajor !== undefined && caps.driverMajor < job.minDriverMajor) return false;
  return memoryMiB >= (job.minGpuMemoryMiB ?? 0);
}

function totalGpus(job: JobSnapshot): number {
  return job.replicas * job.gpusPerReplica;
}

export function planJobs(ctx: JobsContext, jobs: readonly JobSnapshot[]): JobsOutcome {
  const out: JobsOutcome = { placements: [], queued: [], refused: [], preemptions: [] };
  const kept: JobSnapshot[] = [];
  const pending: JobSnapshot[] = [];
  const lostNote = new Map<string, string>();

  const placedBefore: JobSnapshot[] = [];
  for (const job of jobs) {
    if (job.state === 'pending' || job.assigned.length === 0) pending.push(job);
    else placedBefore.push(job);
  }
  // Kept jobs in key order, so every node lists its jobs the same way whatever the input order.
  for (const job of placedBefore.sort((a, b) => cmp(a.key, b.key))) {
    let missing: string[] | null = null;
    for (const s of job.assigned) if (!ctx.byName.has(s.node)) (missing ??= []).push(s.node);
    if (missing !== null) {
      lostNote.set(job.key, `node ${list(missing)} is gone; `);
      pending.push(job);
      continue;
    }
    for (const s of job.assigned) addShare(ctx.byName.get(s.node) as WorkNode, job.key, s.gpus);
    kept.push(job);
  }

  drainInWaves(ctx, kept);
  const preempted = new Set<string>();
  reclaim(ctx, kept, preempted, out);

  const placedNew = new Map<string, Placement>();
  if (pending.length > 0) {
    const keys = new Set<string>();
    for (const j of pending) for (const k of Object.keys(j.nodeSelector ?? {})) keys.add(k);
    const placer = new Placer(ctx, kept, preempted, out, [...keys].sort(cmp));
    for (const job of pending.sort(byBidThenKey)) {
      const p = placer.place(job, lostNote.get(job.key) ?? '');
      if (p) placedNew.set(job.key, p);
    }
  }

  for (const job of kept) {
    if (preempted.has(job.key)) continue;
    const where = job.assigned.map((s) => `${s.node} (${plural(s.gpus, 'GPU')})`);
    out.placements.push({
      job: job.key,
      nodes: job.assigned,
      isNew: false,
      reason: `${job.state === 'running' ? 'running' : 'starting'} on ${list(where)}`,
    });
  }
  for (const p of placedNew.values()) out.placements.push(p);
  out.placements.sort((a, b) => cmp(a.job, b.job));
  out.preemptions.sort((a, b) => cmp(a.job, b.job));
  return out;
}

/**
 * Admitted gangs whose mining nodes still wait for a drain: they get the free drain slots first (highest bid
 * first), so a gang larger than maxConcurrentDrains is drained in waves; its drained nodes hold for it
 * (tainted, idle) until the last one trains, under the job's start deadline.
 */
function drainInWaves(ctx: JobsContext, kept: JobSnapshot[]): void {
  const waiting = kept.filter((j) => j.state === 'admitted').sort(byBidThenKey);
  for (const job of waiting) {
    for (const s of job.assigned) {
      const node = ctx.byName.get(s.node) as WorkNode;
      if (node.snap.mode !== 'mining' || node.held !== null || node.drainNow) continue;
      if (ctx.drainQuota.left <= 0) {
        node.awaitingDrain = true;
        continue;
      }
      ctx.drainQuota.left--;
      node.drainNow = true;
      ctx.drains.push({
        node: node.snap.name,
        to: 'training',
        reason: `next wave of ${job.key}'s gang: draining for its ${plural(s.gpus, 'GPU')}`,
      });
    }
  }
}

/** Interruptible jobs past their minimum runtime whose bid, net of power, no longer beats mining or idle. */
function reclaim(ctx: JobsContext, kept: JobSnapshot[], preempted: Set<string>, out: JobsOutcome): void {
  const { rules } = ctx;
  for (const job of kept) {
    if (job.tier !== 'Interruptible' || job.runtimeSeconds < job.minRuntimeSeconds) continue;
    let gpus = 0;
    let net = 0;
    let alt = 0;
    let mining = 0;
    let ok = true;
    let electricity = 0;
    for (const s of job.assigned) {
      const node = ctx.byName.get(s.node) as WorkNode;
      const econ = node.econ;
      if (node.held !== null || econ === null || econ.mining === null || !node.dwellOk) {
        ok = false;
        break;
      }
      const best = rules.allowIdle ? Math.max(econ.mining, econ.idle) : econ.mining;
      if (econ.mining >= best) mining += s.gpus;
      gpus += s.gpus;
      net += rentalNet(econ, job.bidUsdPerGpuHour) * s.gpus;
      alt += best * s.gpus;
      electricity = Math.max(electricity, econ.electricity ?? 0);
    }
    if (!ok || gpus === 0 || !worthSwitching(rules, net / gpus, alt / gpus)) continue;
    for (const s of job.assigned) removeShare(ctx.byName.get(s.node) as WorkNode, job.key);
    preempted.add(job.key);
    const toMining = mining * 2 >= gpus;
    out.preemptions.push({
      job: job.key,
      reason:
        `bid ${usd(job.bidUsdPerGpuHour)} net of power ${usd(net / gpus)} USD/GPU-h is below ` +
        `${toMining ? 'mining yield' : `idle (electricity ${usd(electricity)} USD/kWh)`} ${usd(alt / gpus)}; ` +
        `interruptible and past its minimum runtime (${duration(job.runtimeSeconds * 1000)} of ${seconds(job.minRuntimeSeconds)})`,
    });
  }
}

class Placer {
  private readonly index: PlacementIndex;
  private readonly catalog: CatalogEntry[] = [];
  private readonly victims: JobSnapshot[];
  /** Placement groups by rising mining yield (stable on the index order); memory first when the rules say. */
  private readonly byYield: Group[];
  /** Groups a job may use, by the nodes it asks for. */
  private readonly groupsByShape = new Map<string, Group[]>();
  /** Smallest gang that found no room, by the nodes it asks for. */
  private readonly failures = new Map<string, number>();
  /** What the namespaces' ResourceQuotas have left, less the gangs placed in this plan. */
  private readonly quotas: QuotaLedger;

  constructor(
    private readonly ctx: JobsContext,
    kept: JobSnapshot[],
    private readonly preempted: Set<string>,
    private readonly out: JobsOutcome,
    selectorKeys: readonly string[] = [],
  ) {
    this.index = new PlacementIndex(ctx.nodes, selectorKeys);
    this.quotas = new QuotaLedger(ctx.quotas ?? []);
    this.byYield = [...this.index.groups].sort(
      (a, b) =>
        (ctx.rules.memoryFirst ? a.memoryMiB - b.memoryMiB : 0) ||
        (a.econ.mining ?? 0) - (b.econ.mining ?? 0),
    );
    const cat = new Map<string, CatalogEntry>();
    for (const n of ctx.nodes) {
      const labels = selectedLabels(n.snap.labels, selectorKeys);
      const caps = capsOf(n);
      const key = `${n.snap.product}\u0000${n.snap.gpuMemoryMiB}\u0000${caps.capability}\u0000${caps.driverMajor}\u0000${labelSignature(labels)}`;
      let e = cat.get(key);
      if (!e) {
        e = {
          product: n.snap.product,
          memoryMiB: n.snap.gpuMemoryMiB,
          ...caps,
          labels,
          usables: [],
          slots: new Map(),
          held: 0,
          unknown: 0,
        };
        cat.set(key, e);
        this.catalog.push(e);
      }
      e.usables.push(n.usable);
      if (n.held !== null) {
        e.held++;
        if (n.econ === null || !n.econ.known) e.unknown++;
      }
    }
    this.victims = kept
      .filter((j) => j.tier === 'Interruptible' && j.runtimeSeconds >= j.minRuntimeSeconds)
      .sort((a, b) => a.bidUsdPerGpuHour - b.bidUsdPerGpuHour || cmp(a.key, b.key));
  }

  place(job: JobSnapshot, note: string): Placement | null {
    const { rules } = this.ctx;
    const g = job.gpusPerReplica;
    const R = job.replicas;
    if (!(job.bidUsdPerGpuHour >= rules.floor)) {
      return this.wait(
        job,
        'BelowFloor',
        `${note}bid ${usd(job.bidUsdPerGpuHour)} USD/GPU-h is below the floor ${usd(rules.floor)}`,
        true,
      );
    }
    if (!(R >= 1 && g >= 1))
      return this.wait(job, 'TooLarge', `${note}needs at least one replica of one GPU`, true);
    if (job.notBeforeMs !== undefined && job.notBeforeMs > this.ctx.nowMs) {
      const at = new Date(job.notBeforeMs).toISOString().replace(/\.\d+Z$/, 'Z');
      const why = job.notBeforeReason ? `${job.notBeforeReason}; ` : '';
      return this.wait(job, 'StartBackoff', `${note}${why}not placed again before ${at}`, false);
    }

    let everSlots = 0;
    let matching = 0;
    let heldUnknown = 0;
    let held = 0;
    for (const e of this.catalog) {
      if (!accepts(job, e.product, e.memoryMiB, e) || !selectorHolds(job.nodeSelector, e.labels)) continue;
      matching += e.usables.length;
      let slots = e.slots.get(g);
      if (slots === undefined) {
        slots = 0;
        for (const u of e.usables) slots += Math.floor(u / g);
        e.slots.set(g, slots);
      }
      everSlots += slots;
      held += e.held;
      heldUnknown += e.unknown;
    }
    const what = describeNeed(job);
    if (matching === 0)
      return this.wait(job, 'NoMatchingNodes', `${note}no node offers what it asks: ${what}`, true);
    if (everSlots < R) {
      return this.wait(
        job,
        'TooLarge',
        `${note}${what}: the matching nodes can hold at most ${plural(everSlots, 'replica')}`,
        true,
      );
    }
    // Renter limits: a gang its namespace's quotas cannot hold is never admitted, so no node drains for it.
    if (job.blockedCode) return this.wait(job, job.blockedCode, `${note}${job.blockedReason ?? ''}`, false);
    const short = this.quotas.shortfall(job.quotaNeeds);
    if (short) return this.wait(job, 'QuotaExceeded', `${note}${short}`, false);

    const shape = `${job.products?.join('|') ?? ''}#${job.minGpuMemoryMiB ?? 0}#${job.minComputeCapability ?? 0}#${job.minDriverMajor ?? 0}#${g}#${labelSignature(job.nodeSelector ?? {})}`;
    let groups = this.groupsByShape.get(shape);
    if (groups === undefined) {
      groups = this.index.groups.filter(
        (gr) =>
          accepts(job, gr.econ.product, gr.memoryMiB, gr) &&
          selectorHolds(job.nodeSelector, gr.labels) &&
          gr.maxUsable >= g,
      );
      this.groupsByShape.set(shape, groups);
    }
    const tiers = this.tiers(job, groups);
    // Jobs come by falling bid: one that asks for the same nodes and at least as many replicas as a job
    // that found no room finds none either (it may use fewer nodes and preempt less), until a preemption
    // frees GPUs.
    const failed = this.failures.get(shape);
    if (failed !== undefined && R >= failed) {
      const why = this.explain(job, groups, tiers, held, heldUnknown);
      return this.wait(job, why.code, `${note}${what}: ${why.text}`, false);
    }
    const attempt = this.pick(tiers, R, g);
    if (attempt.remaining > 0) {
      const viaPreemption = this.preemptFor(job, groups);
      if (viaPreemption) {
        this.failures.clear();
        return viaPreemption;
      }
      this.failures.set(shape, Math.min(R, failed ?? R));
      const why = this.explain(job, groups, tiers, held, heldUnknown);
      return this.wait(job, why.code, `${note}${what}: ${why.text}`, false);
    }
    return this.commit(job, attempt.picks, [], note);
  }

  /** Which classes of which groups this job may use: its bid, net of power, must be worth the switch. */
  private tiers(job: JobSnapshot, groups: Group[]): Tier[] {
    const { rules } = this.ctx;
    const allowed: Group[] = [];
    for (const gr of groups) {
      // Free GPUs would otherwise mine or idle, whichever pays: that is what the job must beat.
      const net = rentalNet(gr.econ, job.bidUsdPerGpuHour);
      if (worthSwitching(rules, freeRate(rules, gr.econ), net)) allowed.push(gr);
    }
    // Within a class, the smallest GPU memory first (the rules permitting): big cards stay for the jobs that
    // need them.
    const tiers: Tier[] = [TRAINING_IDLE_FREE, IDLE_NODE, TRAINING_MINING_FREE].flatMap((cls) =>
      (rules.memoryFirst ? byMemory(allowed) : [allowed]).map((groups) => ({ cls, groups })),
    );
    // Mining nodes: lowest yield first, each yield level its own tier (smallest memory first, the rules
    // permitting).
    for (const gr of this.byYield) if (allowed.includes(gr)) tiers.push({ cls: MINING_NODE, groups: [gr] });
    return tiers;
  }

  /** Gang placement over the tiers in order; takes nodes out of the index (undo with rollback). */
  private pick(tiers: Tier[], R: number, g: number): { picks: Pick[]; remaining: number } {
    const picks: Pick[] = [];
    let remaining = R;
    for (const tier of tiers) {
      while (remaining > 0) {
        const found = bestNode(tier, remaining, g);
        if (!found) break;
        const bucket = bucketOf(found.group, tier.cls, found.free);
        const node = this.ctx.nodes[bucket[bucket.length - 1] as number] as WorkNode;
        // Drains beyond the free slots are not refused: they wait for a slot, in waves (drainInWaves).
        const drain = needsDrain(tier.cls) && !node.drainNow;
        this.index.take(node);
        const k = Math.min(Math.floor(found.free / g), remaining);
        picks.push({ node, gpus: k * g, cls: tier.cls, drain });
        remaining -= k;
      }
      if (remaining === 0) break;
    }
    if (remaining > 0) this.rollback(picks);
    return { picks, remaining };
  }

  private rollback(picks: Pick[]): void {
    for (let i = picks.length - 1; i >= 0; i--) this.index.putBack((picks[i] as Pick).node);
  }

  private commit(job: JobSnapshot, picks: Pick[], victims: JobSnapshot[], note: string): Placement {
    const { rules } = this.ctx;
    const nodes = picks
      .map((p) => ({ node: p.node.snap.name, gpus: p.gpus }))
      .sort((a, b) => cmp(a.node, b.node));
    let fromMining = false;
    let worstFrom = -Infinity;
    let net = 0;
    for (const p of picks) {
      const econ = p.node.econ;
      if (econ === null) continue;
      net = Math.max(net, rentalNet(econ, job.bidUsdPerGpuHour));
      const from = freeRate(rules, econ);
      if (econ.mining !== null && econ.mining >= from) fromMining = true;
      worstFrom = Math.max(worstFrom, from);
    }
    this.quotas.take(job.quotaNeeds);
    const drained: string[] = [];
    const later: string[] = [];
    for (const p of picks) {
      addShare(p.node, job.key, p.gpus);
      p.node.touched = true;
      if (p.drain && this.ctx.drainQuota.left <= 0) {
        p.node.awaitingDrain = true;
        later.push(p.node.snap.name);
      } else if (p.drain) {
        p.node.drainNow = true;
        this.ctx.drainQuota.left--;
        drained.push(p.node.snap.name);
        this.ctx.drains.push({
          node: p.node.snap.name,
          to: 'training',
          reason: `making room for ${job.key}: bid ${usd(job.bidUsdPerGpuHour)} net of power ${usd(
            rentalNet(p.node.econ!, job.bidUsdPerGpuHour),
          )} beats mining yield ${usd(p.node.econ!.mining ?? 0)} USD/GPU-h`,
        });
      }
      this.index.place(p.node);
    }
    const where = nodes.map((n) => `${n.node} (${plural(n.gpus, 'GPU')})`);
    let reason =
      `${note}placed on ${list(where)}: bid ${usd(job.bidUsdPerGpuHour)} net of power ${usd(net)} USD/GPU-h ` +
      `beats ${fromMining ? 'mining yield' : 'idle'} ${usd(worstFrom)}`;
    if (rules.hysteresis > 0)
      reason += ` by more than the ${usd(rules.hysteresis * 100).replace(/\.?0+$/, '')}% hysteresis`;
    if (drained.length > 0) reason += `; draining ${list(drained)}`;
    if (later.length > 0) {
      reason += `; ${list(later)} ${later.length === 1 ? 'waits' : 'wait'} for a drain slot (${plural(
        this.ctx.drainQuota.limit,
        'drain',
      )} at once)`;
    }
    if (victims.length > 0) reason += `; preempting ${list(victims.map((v) => v.key))}`;
    return { job: job.key, nodes, isNew: true, reason };
  }

  /**
   * Frees GPUs of running interruptible jobs that bid less (past their minimum runtime), lowest bid first,
   * until the gang fits; then drops any victim the placement does not need. All or nothing.
   */
  private preemptFor(job: JobSnapshot, groups: Group[]): Placement | null {
    const { rules } = this.ctx;
    const g = job.gpusPerReplica;
    const tiers = this.tiers(job, groups);
    if (tiers.every((t) => t.groups.length === 0)) return null;
    // Count replica slots as victims are added (cheap), and only try placing once they could suffice.
    let slots = 0;
    for (const t of tiers) for (const gr of t.groups) slots += PlacementIndex.slotsNow(gr, t.cls, g);
    const eligible = new Set(tiers.flatMap((t) => t.groups));
    const freeAfter = new Map<WorkNode, number>();
    const chosen: JobSnapshot[] = [];
    for (const v of this.victims) {
      if (slots >= job.replicas) break;
      // Victims are sorted by bid: past this one, nobody bids less than the job.
      if (v.bidUsdPerGpuHour >= job.bidUsdPerGpuHour) break;
      if (this.preempted.has(v.key) || v.assigned.length === 0) continue;
      let ok = true;
      let vNet = 0;
      let jNet = 0;
      let gpus = 0;
      for (const s of v.assigned) {
        const node = this.ctx.byName.get(s.node);
        const gr = node ? this.index.groupOf[node.index] : null;
        if (!node || !gr || node.held !== null || !eligible.has(gr)) {
          ok = false;
          break;
        }
        vNet += rentalNet(gr.econ, v.bidUsdPerGpuHour) * s.gpus;
        jNet += rentalNet(gr.econ, job.bidUsdPerGpuHour) * s.gpus;
        gpus += s.gpus;
      }
      if (!ok || !worthSwitching(rules, vNet / gpus, jNet / gpus)) continue;
      chosen.push(v);
      for (const s of v.assigned) {
        const node = this.ctx.byName.get(s.node) as WorkNode;
        const before = freeAfter.get(node) ?? node.free;
        const after = Math.min(node.usable, before + s.gpus);
        slots += Math.floor(after / g) - Math.floor(before / g);
        freeAfter.set(node, after);
      }
    }
    if (chosen.length === 0 || slots < job.replicas) return null;
    // Free them, place; then give back, highest bid first, any victim the placement does not need.
    for (const v of chosen) this.free(v);
    let attempt = this.pick(this.tiers(job, groups), job.replicas, g);
    if (attempt.remaining > 0) {
      for (const v of chosen) this.restore(v);
      return null;
    }
    this.rollback(attempt.picks);
    for (let i = chosen.length - 1; i >= 0; i--) {
      const v = chosen[i] as JobSnapshot;
      this.restore(v);
      const retry = this.pick(this.tiers(job, groups), job.replicas, g);
      if (retry.remaining > 0) {
        this.free(v);
      } else {
        this.rollback(retry.picks);
        chosen.splice(i, 1);
      }
    }
    attempt = this.pick(this.tiers(job, groups), job.replicas, g);
    if (attempt.remaining > 0) {
      for (const v of chosen) this.restore(v);
      return null;
    }
    for (const v of chosen) {
      this.preempted.add(v.key);
      this.out.preemptions.push({
        job: v.key,
        by: job.key,
        reason:
          `preempted for ${job.key}, which bids ${usd(job.bidUsdPerGpuHour)} against its ${usd(v.bidUsdPerGpuHour)} USD/GPU-h; ` +
          `interruptible and past its minimum runtime (${duration(v.runtimeSeconds * 1000)} of ${seconds(v.minRuntimeSeconds)})`,
      });
    }
    return this.commit(job, attempt.picks, chosen, '');
  }

  private free(v: JobSnapshot): void {
    for (const s of v.assigned) {
      const node = this.ctx.byName.get(s.node) as WorkNode;
      removeShare(node, v.key);
      this.index.place(node);
    }
  }

  private restore(v: JobSnapshot): void {
    for (const s of v.assigned) {
      const node = this.ctx.byName.get(s.node) as WorkNode;
      addShare(node, v.key, s.gpus);
      this.index.place(node);
    }
  }

  private explain(
    job: JobSnapshot,
    groups: Group[],
    tiers: Tier[],
    held: number,
    heldUnknown: number,
  ): { code: WaitCode; text: string } {
    const { rules } = this.ctx;
    const g = job.gpusPerReplica;
    let usableSlots = 0;
    for (const t of tiers) for (const gr of t.groups) usableSlots += PlacementIndex.slotsNow(gr, t.cls, g);
    let allSlots = 0;
    let dwell = 0;
    let bestYield = -Infinity;
    let bestNet = -Infinity;
    for (const gr of groups) {
      for (let c = 0; c < CLASSES; c++) allSlots += PlacementIndex.slotsNow(gr, c, g);
      dwell += gr.dwellBlocked;
      if (gr.econ.mining !== null && PlacementIndex.slotsNow(gr, MINING_NODE, g) > 0) {
        bestYield = Math.max(bestYield, gr.econ.mining);
      }
      bestNet = Math.max(bestNet, rentalNet(gr.econ, job.bidUsdPerGpuHour));
    }
    if (allSlots >= job.replicas && usableSlots < job.replicas) {
      const hyst =
        rules.hysteresis > 0
          ? ` by the ${usd(rules.hysteresis * 100).replace(/\.?0+$/, '')}% hysteresis`
          : '';
      return {
        code: 'BidBelowYield',
        text:
          `bid ${usd(job.bidUsdPerGpuHour)} net of power ${usd(bestNet)} USD/GPU-h does not beat ` +
          `mining yield ${usd(bestYield === -Infinity ? 0 : bestYield)}${hyst}, net of ${seconds(rules.switchingSeconds)} switching`,
      };
    }
    if (heldUnknown > 0 && allSlots < job.replicas) {
      return {
        code: 'YieldUnknown',
        text: `${plural(heldUnknown, 'matching node')} held while the yield is unknown`,
      };
    }
    if (dwell > 0) {
      return {
        code: 'Dwell',
        text: `${plural(dwell, 'matching node')} within the minimum dwell of ${seconds(rules.minDwellMs / 1000)}`,
      };
    }
    const heldText = held > 0 ? ` (${plural(held, 'node')} held)` : '';
    return { code: 'NoCapacity', text: `${plural(usableSlots, 'replica slot')} free now${heldText}` };
  }

  private wait(job: JobSnapshot, code: WaitCode, reason: string, refused: boolean): null {
    (refused ? this.out.refused : this.out.queued).push({ job: job.key, code, reason });
    return null;
  }
}

/** What a free GPU of this economics earns: mining or idle, whichever pays more (idle only if allowed). */
export function freeRate(rules: Rules, econ: Econ): number {
  if (econ.mining === null) return econ.idle;
  return rules.allowIdle ? Math.max(econ.mining, econ.idle) : econ.mining;
}

function describeNeed(job: JobSnapshot): string {
  const parts = [`${job.replicas} × ${plural(job.gpusPerReplica, 'GPU')} (${totalGpus(job)} in all)`];
  if (job.products && job.products.length > 0) parts.push(`on ${list(job.products)}`);
  if (job.minGpuMemoryMiB) parts.push(`with ≥ ${job.minGpuMemoryMiB} MiB`);
  if (job.minComputeCapability !== undefined) {
    const cc = job.minComputeCapability;
    parts.push(`of compute capability ≥ ${Math.floor(cc / 100)}.${cc % 100}`);
  }
  if (job.minDriverMajor !== undefined) parts.push(`with driver ≥ ${job.minDriverMajor}`);
  const sel = Object.entries(job.nodeSelector ?? {});
  if (sel.length > 0) parts.push(`on nodes labelled ${sel.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  return `needs ${parts.join(' ')}`;
}

/** Groups split by GPU memory, smallest first (each keeps the groups' order). */
function byMemory(groups: Group[]): Group[][] {
  const mems = [...new Set(groups.map((g) => g.memoryMiB))].sort((a, b) => a - b);
  if (mems.length <= 1) return [groups];
  return mems.map((m) => groups.filter((g) => g.memoryMiB === m));
}

/** Best fit: the smallest node that takes every remaining replica, else the largest. Ties: group order, name. */
function bestNode(tier: Tier, remaining: number, g: number): { group: Group; free: number } | null {
  const need = remaining * g;
  let best: Group | null = null;
  let bestFree = Infinity;
  for (const gr of tier.groups) {
    const buckets = gr.buckets[tier.cls] as number[][];
    for (let f = need; f < buckets.length && f < bestFree; f++) {
      if ((buckets[f] as number[]).length > 0) {
        best = gr;
        bestFree = f;
        break;
      }
    }
  }
  if (best) return { group: best, free: bestFree };
  let largest = -1;
  for (const gr of tier.groups) {
    const buckets = gr.buckets[tier.cls] as number[][];
    for (let f = buckets.length - 1; f >= g && f > largest; f--) {
      if ((buckets[f] as number[]).length > 0) {
        best = gr;
        largest = f;
        break;
      }
    }
  }
  return best ? { group: best, free: largest } : null;
}
