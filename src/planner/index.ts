/**
 * The planner: a pure function from a Snapshot (nodes, pools' economics, jobs, policy, now) to a Plan
 * (desired mode of every node, placements, waits, preemptions, drains to start, a reason for each).
 * No I/O and no clock of its own: the operator and the backtest call the same plan().
 */
export { plan } from './plan.js';
export { HELD_FOR_UNKNOWN_YIELD } from './state.js';
export {
  drainLimit,
  rulesOf,
  switchGain,
  worthSwitching,
  DEFAULT_PAYBACK_SECONDS,
  type Rules,
} from './policy.js';
export type {
  DrainStart,
  JobOnNode,
  JobShare,
  JobSnapshot,
  JobWait,
  NodeMode,
  NodePlan,
  NodeSnapshot,
  Placement,
  Plan,
  PlannerPolicy,
  PoolSnapshot,
  QuotaNeed,
  QuotaRoom,
  QuotaSnapshot,
  Preemption,
  ProductEconomics,
  Snapshot,
  TargetMode,
  Tier,
  WaitCode,
} from './types.js';
