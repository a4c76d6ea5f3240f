import { cmp } from './buckets.js';
import { planJobs, type JobsOutcome } from './jobs.js';
import { drainLimit, rulesOf, switchGain, worthSwitching, type Rules } from './policy.js';
import { duration, list, plural, seconds, usd } from './reasons.js';
import { buildEcons, buildWorkNodes, jobGpus, sortedNodes, type Econ, type WorkNode } from './state.js';
import type { DrainStart, JobOnNode, NodePlan, Plan, Snapshot, TargetMode } from './types.js';

/**
 * plan(snapshot): the whole decision, pure and deterministic. Jobs come first (keep, reclaim, place, preempt),
 * then every node without a job picks mining, idle or the rental market under the switching rules, and the
 * remaining drain slots go to the largest gains.
 */

type Option = 'mining' | 'idle' | 'market';

const NO_JOBS: readonly JobOnNode[] = Object.freeze([]);

interface DrainWish {
  node: WorkNode;
  /** Index into the node plans. */
  at: number;
  to: Option;
  /** For a training node: only its leftover GPUs go idle. */
  leftoverOnly: boolean;
  priority: number;
  reason: string;
}

export function plan(snapshot: Snapshot): Plan {
  const rules = rulesOf(snapshot.policy);
  const econs = buildEcons(snapshot.pools, snapshot.rentalMarket, rules.floor);
  const nodes = buildWorkNodes(sortedNodes(snapshot.nodes), econs, snapshot.nowMs, rules.minDwellMs);
  let inProgress = 0;
  for (const n of nodes) if (n.held !== null && n.snap.mode === 'draining') inProgress++;
  const limit = drainLimit(snapshot.policy.maxConcurrentDrains, nodes.length);
  const quota = { left: Math.max(0, limit - inProgress), limit };
  const drains: DrainStart[] = [];

  let jobs: JobsOutcome = { placements: [], queued: [], refused: [], preemptions: [] };
  if (snapshot.jobs.length > 0) {
    const byName = new Map<string, WorkNode>();
    for (const n of nodes) byName.set(n.snap.name, n);
    jobs = planJobs(
      { nowMs: snapshot.nowMs, rules, nodes, byName, drainQuota: quota, drains, quotas: snapshot.quotas },
      snapshot.jobs,
    );
  }

  const plans: NodePlan[] = new Array(nodes.length);
  const wishes: DrainWish[] = [];
  // Neighbours in the same state (same economics, mode, since, GPUs) get the same decision: decide once.
  let memo: WorkNode | null = null;
  let memoPlan: NodePlan | null = null;
  let memoWish: DrainWish | null = null;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i] as WorkNode;
    if (memo !== null && memoPlan !== null && sameState(memo, n)) {
      plans[i] = {
        node: n.snap.name,
        mode: memoPlan.mode,
        jobs: memoPlan.jobs,
        miningGpus: memoPlan.miningGpus,
        idleGpus: memoPlan.idleGpus,
        market: memoPlan.market,
        drain: false,
        changed: memoPlan.changed,
        reason: memoPlan.reason,
      };
      if (memoWish !== null) {
        const w = memoWish;
        wishes.push({
          node: n,
          at: i,
          to: w.to,
          leftoverOnly: w.leftoverOnly,
          priority: w.priority,
          reason: w.reason,
        });
      }
      continue;
    }
    const before = wishes.length;
    const p = decideNode(rules, n, snapshot.nowMs, i, wishes);
    plans[i] = p;
    const plain = n.jobs === null && n.held === null && !n.touched && !n.drainNow;
    memo = plain ? n : null;
    memoPlan = plain ? p : null;
    memoWish = plain && wishes.length > before ? (wishes[wishes.length - 1] as DrainWish) : null;
  }

  wishes.sort((a, b) => b.priority - a.priority || cmp(a.node.snap.name, b.node.snap.name));
  for (const w of wishes) {
    const p = plans[w.at] as NodePlan;
    if (quota.left <= 0) {
      p.reason = `${p.reason}; waiting for a drain slot (${quota.limit} at once, all in use)`;
      continue;
    }
    quota.left--;
    const usable = w.node.usable - jobGpus(w.node);
    if (w.leftoverOnly) {
      p.miningGpus = 0;
      p.idleGpus = usable;
    } else {
      p.mode = w.to === 'market' ? 'training' : 'idle';
      p.market = w.to === 'market';
      p.miningGpus = 0;
      p.idleGpus = w.to === 'idle' ? usable : 0;
    }
    p.drain = true;
    p.changed = true;
    p.reason = w.reason;
    drains.push({ node: p.node, to: w.to === 'market' ? 'training' : 'idle', reason: w.reason });
  }
  for (const n of nodes) {
    if (!n.drainNow) continue;
    const p = plans[n.index] as NodePlan;
    p.drain = true;
    p.changed = true;
  }
  drains.sort((a, b) => cmp(a.node, b.node));

  jobs.queued.sort((a, b) => cmp(a.job, b.job));
  jobs.refused.sort((a, b) => cmp(a.job, b.job));
  return {
    nodes: plans,
    placements: jobs.placements,
    queued: jobs.queued,
    refused: jobs.refused,
    preemptions: jobs.preemptions,
    drains,
    drainLimit: limit,
    drainsInProgress: inProgress,
  };
}

function sameState(a: WorkNode, b: WorkNode): boolean {
  return (
    b.jobs === null &&
    b.held === null &&
    !b.touched &&
    !b.drainNow &&
    a.econ === b.econ &&
    a.snap.mode === b.snap.mode &&
    a.snap.modeSinceMs === b.snap.modeSinceMs &&
    a.miningNow === b.miningNow &&
    a.usable === b.usable
  );
}

function decideNode(rules: Rules, n: WorkNode, nowMs: number, at: number, wishes: DrainWish[]): NodePlan {
  const s = n.snap;
  const jobs: readonly JobOnNode[] = n.jobs ?? NO_JOBS;
  const inJobs = jobGpus(n);
  const rest = Math.max(0, n.usable - inJobs);
  const econ = n.econ;

  if (n.held !== null || econ === null || econ.mining === null) {
    // Hold: keep what it does. A drain in progress goes on to its target.
    if (s.mode === 'draining') {
      const to: TargetMode = s.drainingTo ?? 'idle';
      return nodePlan(s.name, to, jobs, 0, rest, false, false, n.held ?? '');
    }
    // Yield unknown (a feed outage, a new node): nothing switches away from mining, but mining itself goes
    // on, being the farm's default: a mining node mines on every free GPU, and one whose job is gone mines again.
    if (n.yieldUnknown && jobs.length === 0 && (s.mode === 'mining' || s.mode === 'training')) {
      const reason = `mining: ${n.held ?? ''}; mining goes on, the farm's default`;
      return nodePlan(s.name, 'mining', jobs, rest, 0, false, s.mode !== 'mining', reason);
    }
    const mining = s.mode === 'mining' || jobs.length > 0 ? Math.min(n.miningNow, rest) : 0;
    const market = s.mode === 'training' && jobs.length === 0;
    return nodePlan(s.name, s.mode, jobs, mining, rest - mining, market, false, n.held ?? 'holding');
  }

  if (jobs.length > 0 && n.awaitingDrain) {
    // Reserved for a gang whose drain waits for a slot: it mines on, as it is, until its wave comes.
    const what = jobs.map((j) => `${j.job} (${plural(j.gpus, 'GPU')})`);
    const reason = `mining until a drain slot frees (maxConcurrentDrains), then training: reserved for ${list(what)}`;
    return nodePlan(s.name, 'mining', jobs, n.usable, 0, false, false, reason);
  }
  if (jobs.length > 0) return trainingNode(rules, n, econ, jobs, rest, at, wishes);

  const m = econ.mining;
  const current: Option | null =
    s.mode === 'mining'
      ? 'mining'
      : s.mode === 'idle'
        ? rules.allowIdle
          ? 'idle'
          : null
        : econ.market !== null && !n.touched
          ? 'market'
          : null;
  const best = bestOption(rules, econ, current);

  if (current === null) {
    // Its mode is no longer on offer (the job ended, idle is not allowed, the market left): move now.
    const why =
      s.mode === 'idle' ? 'idle is not allowed' : n.touched ? 'its job was preempted' : 'no job left on it';
    const reason = `${modeLabel(best)}: ${why}; ${describe(econ, best)} is the best option`;
    return optionPlan(s.name, best, rest, true, reason);
  }
  if (best === current || !worthSwitching(rules, rateOf(econ, current), rateOf(econ, best))) {
    return optionPlan(s.name, current, rest, false, stayReason(rules, econ, current));
  }
  if (!n.dwellOk) {
    const left = rules.minDwellMs - (nowMs - s.modeSinceMs);
    const reason = `holding ${modeLabel(current)} for the minimum dwell of ${seconds(rules.minDwellMs / 1000)} (${duration(
      left,
    )} left); ${describe(econ, best)} would pay more than ${describe(econ, current)}`;
    return optionPlan(s.name, current, rest, false, reason);
  }
  const reason = switchReason(rules, econ, current, best);
  if (current === 'mining') {
    // Leaving mining evicts the miners: a drain, granted by gain when slots are scarce.
    const priority = switchGain(rules, m, rateOf(econ, best)) * rest;
    wishes.push({ node: n, at, to: best, leftoverOnly: false, priority, reason });
    return optionPlan(s.name, 'mining', rest, false, stayReason(rules, econ, 'mining'));
  }
  return optionPlan(s.name, best, rest, true, reason);
}

/** A node with jobs trains; its leftover GPUs mine or idle, whichever the rules prefer. */
function trainingNode(
  rules: Rules,
  n: WorkNode,
  econ: Econ,
  jobs: readonly JobOnNode[],
  rest: number,
  at: number,
  wishes: DrainWish[],
): NodePlan {
  const m = econ.mining as number;
  const i = econ.idle;
  const changed = n.snap.mode !== 'training' || n.touched;
  const what = jobs.map((j) => `${j.job} (${plural(j.gpus, 'GPU')})`);
  let reason = `training: ${list(what)}`;
  let mine: boolean;
  if (rest === 0) mine = false;
  else if (!rules.allowIdle) mine = true;
  else if (n.drainNow) mine = m >= i;
  else if (n.miningNow > 0) {
    mine = true;
    if (worthSwitching(rules, m, i)) {
      const priority = switchGain(rules, m, i) * rest;
      const why = `${reason}; ${plural(rest, 'leftover GPU')} go idle: mining yield ${usd(m)} loses more than idle ${usd(i)} USD/GPU-h`;
      wishes.push({ node: n, at, to: 'idle', leftoverOnly: true, priority, reason: why });
    }
  } else mine = worthSwitching(rules, i, m);
  if (rest > 0)
    reason += `; ${plural(rest, 'leftover GPU')} ${mine ? `mining (yield ${usd(m)} USD/GPU-h)` : 'idle'}`;
  return nodePlan(n.snap.name, 'training', jobs, mine ? rest : 0, mine ? 0 : rest, false, changed, reason);
}

function nodePlan(
  node: string,
  mode: TargetMode | 'draining',
  jobs: readonly JobOnNode[],
  miningGpus: number,
  idleGpus: number,
  market: boolean,
  changed: boolean,
  reason: string,
): NodePlan {
  return {
    node,
    mode: mode === 'draining' ? 'idle' : mode,
    jobs,
    miningGpus,
    idleGpus,
    market,
    drain: false,
    changed,
    reason,
  };
}

function optionPlan(node: string, o: Option, rest: number, changed: boolean, reason: string): NodePlan {
  if (o === 'mining') return nodePlan(node, 'mining', NO_JOBS, rest, 0, false, changed, reason);
  if (o === 'idle') return nodePlan(node, 'idle', NO_JOBS, 0, rest, false, changed, reason);
  return nodePlan(node, 'training', NO_JOBS, 0, 0, true, changed, reason);
}

function rateOf(econ: Econ, o: Option): number {
  if (o === 'mining') return econ.mining as number;
  if (o === 'idle') return econ.idle;
  return econ.market as number;
}

/** The option with the largest gain from `current` (ties: mining, then market, then idle). */
function bestOption(rules: Rules, econ: Econ, current: Option | null): Option {
  const from = current === null ? 0 : rateOf(econ, current);
  let best: Option = current ?? 'mining';
  let bestGain = current === null ? -Infinity : 0;
  for (let i = 0; i < 3; i++) {
    const o: Option = i === 0 ? 'mining' : i === 1 ? 'market' : 'idle';
    if (o === current || (o === 'market' && econ.market === null) || (o === 'idle' && !rules.allowIdle))
      continue;
    const gain = current === null ? rateOf(econ, o) : switchGain(rules, from, rateOf(econ, o));
    if (gain > bestGain) {
      best = o;
      bestGain = gain;
    }
  }
  return best;
}

function modeLabel(o: Option): string {
  return o === 'market' ? 'training' : o;
}

function describe(econ: Econ, o: Option): string {
  if (o === 'mining') return `mining yield ${usd(econ.mining as number)}`;
  if (o === 'idle') return `idle ${usd(econ.idle)}`;
  return `rental ${usd(econ.marketBid as number)} net of power ${usd(econ.market as number)}`;
}

function hysteresisText(rules: Rules): string {
  const pct = usd(rules.hysteresis * 100).replace(/\.?0+$/, '');
  return `the ${pct}% hysteresis net of ${seconds(rules.switchingSeconds)} switching`;
}

function stayReason(rules: Rules, econ: Econ, current: Option): string {
  const cached = econ.stay[current];
  if (cached !== undefined) return cached;
  const others: Option[] = (['mining', 'market', 'idle'] as Option[]).filter(
    (o) => o !== current && (o !== 'market' || econ.market !== null) && (o !== 'idle' || rules.allowIdle),
  );
  const rate = rateOf(econ, current);
  const better = others.filter((o) => rateOf(econ, o) > rate);
  let text = `${modeLabel(current)}: ${describe(econ, current)} USD/GPU-h`;
  if (better.length === 0) {
    if (others.length > 0) text += ` beats ${others.map((o) => describe(econ, o)).join(' and ')}`;
  } else {
    text += `; ${better.map((o) => describe(econ, o)).join(' and ')} not enough to beat ${hysteresisText(rules)}`;
  }
  if (current === 'idle') text += ` (electricity ${usd(econ.electricity ?? 0)} USD/kWh)`;
  econ.stay[current] = text;
  return text;
}

function switchReason(rules: Rules, econ: Econ, from: Option, to: Option): string {
  const key = `switch:${from}:${to}`;
  const cached = econ.reasons.get(key);
  if (cached !== undefined) return cached;
  let text = `${modeLabel(to)}: ${describe(econ, to)} USD/GPU-h beats ${describe(econ, from)} by more than ${hysteresisText(rules)}`;
  if (to === 'idle') text += ` (electricity ${usd(econ.electricity ?? 0)} USD/kWh)`;
  econ.reasons.set(key, text);
  return text;
}
