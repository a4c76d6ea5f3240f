import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { FleetPolicySpec, MiningPool, NodeMode, TrainingJob } from '../api/v1alpha1/index.js';
import { apply } from '../kube/apply.js';
import { systemClock, type Clock } from '../kube/clock.js';
import type { KubeClient } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import { evictPod } from '../kube/eviction.js';
import type { OperatorMetrics } from '../kube/metrics.js';
import { Kinds, resourcePath } from '../kube/resources.js';
import { isConflict, isNotFound } from '../kube/rest.js';
import { rfc3339 } from '../kube/status.js';
import type { ReconcileFn, ReconcileResult } from '../kube/workqueue.js';
import type { Logger } from '../log.js';
import type { Caches, Parsed } from './caches.js';
import { atLeastVersion } from './expectations.js';
import {
  DRAIN_ABORTED,
  DRAIN_STALLED,
  DRAIN_STARTED,
  DRAINING_TO,
  FIELD_MANAGER,
  MODE_LABEL_KEY,
  MODE_SINCE,
  TAINT_KEY,
  TRAINING_JOB_LABEL,
} from './labels.js';
import { formatStalled, nextDrainLook, parseStalled, pastGrace, terminatingCause } from './stall.js';
import {
  isGpuNode,
  nodeGpuResource,
  nodeGpus,
  nodeState,
  poolForNode,
  taintsWith,
  type NodeState,
} from './nodes.js';
import { policyInForce } from './policy.js';
import { buildMinerPod, isMiner, isTerminal, isTerminating, podGpus, podNode } from './pods.js';
import { assignedNodes, jobPhase } from './snapshot.js';

export interface NodeDeps {
  client: Pick<KubeClient, 'rest' | 'mapper'>;
  caches: Caches;
  parsed: Parsed;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  dryRun?: boolean;
  /** Seconds a miner gets to stop when evicted. */
  minerGracePeriodSeconds: number;
  metrics?: OperatorMetrics | undefined;
  clock?: Clock;
  logger?: Logger | undefined;
}

/** What the node reconciler writes on a node (field manager rigshift): its mode, since when, drain state. */
export interface ModeWrite {
  mode: NodeMode;
  sinceMs: number;
  drainingTo?: 'training' | 'idle';
  drainStartedMs?: number;
  abortedMs?: number;
  /** The drain-stalled annotation: which pods keep the drain from finishing and why. */
  stalled?: string;
}

/** The node's labels, annotations and taints for a mode write (server-side apply body). */
export function modeBody(
  node: V1Node,
  w: ModeWrite,
  policy: Pick<FleetPolicySpec, 'modeLabelKey' | 'reservedTaintKey'>,
): V1Node {
  const annotations: Record<string, string> = {
    [MODE_SINCE]: rfc3339(new Date(w.sinceMs)),
    // The keys this write uses: when the policy changes them, the next write removes these (even after a restart).
    [MODE_LABEL_KEY]: policy.modeLabelKey,
    [TAINT_KEY]: policy.reservedTaintKey,
  };
  if (w.mode === 'draining') {
    annotations[DRAINING_TO] = w.drainingTo ?? 'idle';
    annotations[DRAIN_STARTED] = rfc3339(new Date(w.drainStartedMs ?? w.sinceMs));
  }
  if (w.abortedMs !== undefined) annotations[DRAIN_ABORTED] = rfc3339(new Date(w.abortedMs));
  if (w.stalled) annotations[DRAIN_STALLED] = w.stalled;
  const reserved = w.mode === 'draining' || w.mode === 'training';
  const old = nodeState(node, policy).oldTaintKey;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.metadata?.name ?? '',
      // Only over the node as we last saw it: a concurrent change (another taint, a new target) retries.
      resourceVersion: node.metadata?.resourceVersion,
      // A label under an old key, applied by this field manager before, is removed by leaving it out.
      labels: { [policy.modeLabelKey]: w.mode },
      annotations,
    },
    // Taints are an atomic list: always sent whole, others' taints kept as they are.
    spec: { taints: taintsWith(node, policy.reservedTaintKey, reserved, old ? [old] : []) },
  };
}

/** Does the node already carry exactly what `w` would write? */
function upToDate(st: NodeState, w: ModeWrite, node: V1Node, policy: FleetPolicySpec): boolean {
  const reserved = w.mode === 'draining' || w.mode === 'training';
  const ann = node.metadata?.annotations ?? {};
  return (
    st.mode === w.mode &&
    st.modeSinceMs !== undefined &&
    st.tainted === reserved &&
    (w.mode === 'draining') === (ann[DRAINING_TO] !== undefined) &&
    (w.mode !== 'draining' || st.drainingTo === w.drainingTo) &&
    (ann[DRAIN_STALLED] || undefined) === w.stalled &&
    !st.keysChanged &&
    node.metadata?.labels?.[policy.modeLabelKey] === w.mode &&
    hasNoOldKeys(node, st)
  );
}

function hasNoOldKeys(node: V1Node, st: NodeState): boolean {
  const labelGone = !st.oldLabelKey || node.metadata?.labels?.[st.oldLabelKey] === undefined;
  const taintGone = !st.oldTaintKey || !(node.spec?.taints ?? []).some((t) => t.key === st.oldTaintKey);
  return labelGone && taintGone;
}

const podId = (p: V1Pod): string => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;

/**
 * A pod this reconciler just evicted or created is taken as done for this long although the cache does not
 * show it yet: a node queued again before the echo arrives would otherwise evict or create it twice.
 */
export const POD_ECHO_MS = 5000;

const ECHO_FALLBACK_MS = 2000;

/** Pod writes whose echo may not have reached the cache yet (in memory: after a restart the cache is fresh). */
class RecentPodWrites {
  private readonly at = new Map<string, number>();
  constructor(private readonly clock: Clock) {}
  record(kind: 'evicted' | 'created', id: string): void {
    const now = this.clock.now();
    if (this.at.size > 10_000) for (const [k, t] of this.at) if (now - t >= POD_ECHO_MS) this.at.delete(k);
    this.at.set(`${kind}|${id}`, now);
  }
  /** Milliseconds until the write is no longer recent (0: not recent). */
  recent(kind: 'evicted' | 'created', id: string): number {
    const t = this.at.get(`${kind}|${id}`);
    return t === undefined ? 0 : Math.max(0, t + POD_ECHO_MS - this.clock.now());
  }
  forget(kind: 'evicted' | 'created', id: string): void {
    this.at.delete(`${kind}|${id}`);
  }
}

/**
 * The node reconciler, keyed by node name: moves a node towards the mode the planner asked for. Mining →
 * draining (taint, evict the miners through the Eviction API) → training or idle; back to mining by removing
 * the taint and starting a miner. Everything it needs to resume lives in the node's label and annotations.
 */
export function createNodeReconciler(deps: NodeDeps): ReconcileFn {
  const clock = deps.clock ?? systemClock;
  const log = deps.logger;
  const recentPods = new RecentPodWrites(clock);
  /** resourceVersion of our last write of each node, until the cache shows it. */
  const ownWrites = new Map<string, string>();

  return async (name, signal): Promise<ReconcileResult | void> => {
    const node = deps.caches.nodes.get(undefined, name);
    const pools = deps.parsed.poolsOf(deps.caches.pools);
    if (!node || !isGpuNode(node, nodeGpuResource(node, pools))) return;
    // Queued again before our own last write reached the cache: acting now would only be refused (409) or
    // repeat it. Its echo queues the node again; the fallback covers an echo that never comes.
    const mine = ownWrites.get(name);
    if (mine !== undefined) {
      if (!atLeastVersion(node.metadata?.resourceVersion, mine)) return { requeueAfterMs: ECHO_FALLBACK_MS };
      ownWrites.delete(name);
    }
    // No valid policy: the node is left exactly as it is (the fleet reconciler says why).
    const inForce = policyInForce(deps.caches.policy());
    if (!inForce || deps.dryRun || inForce.dryRun) return;
    const policy: FleetPolicySpec = inForce;
    // Cordoned by someone: left exactly as it is.
    if (node.spec?.unschedulable) return;
    const st = nodeState(node, policy);
    if (!st.target) return; // not planned yet
    const now = clock.now();
    // After an aborted drain the node mines on for a drain timeout, whatever target the plan still shows:
    // the planner holds it meanwhile and rewrites the target.
    const cooling =
      st.mode === 'mining' &&
      st.drainAbortedMs !== undefined &&
      now - st.drainAbortedMs < policy.drainTimeoutSeconds * 1000;
    const target = cooling ? 'mining' : st.target;
    const pool = poolForNode(node, pools);
    const byNode = deps.caches.byNode;
    const onNode = byNode
      ? [...byNode.managedPods.get(name)]
      : deps.caches.managedPods.list().filter((p) => podNode(p) === name);
    /** The TrainingJobs assigned to this node (parsed). */
    const nodeJobs = (): TrainingJob[] =>
      byNode
        ? byNode.jobs.get(name).flatMap((o) => deps.parsed.job(o) ?? [])
        : deps.parsed.jobsOf(deps.caches.jobs).filter((j) => assignedNodes(j)?.includes(name));
    const miners = onNode.filter((p) => isMiner(p) && !isTerminal(p));
    const mode: NodeMode = st.mode ?? (pool ? 'mining' : 'idle');
    const ref = { apiVersion: 'v1', kind: 'Node', name, uid: node.metadata?.uid };
    /** Set when a pod write of ours has not echoed yet: look again when it should have. */
    let echoWaitMs: number | undefined;

    const write = async (w: ModeWrite, from: V1Node = node): Promise<V1Node> => {
      try {
        const written = await apply(deps.client, modeBody(from, w, policy), {
          fieldManager: FIELD_MANAGER,
          force: true,
          signal,
        });
        if (written.metadata.resourceVersion) ownWrites.set(name, written.metadata.resourceVersion);
        return written;
      } catch (err) {
        if (isConflict(err)) log?.debug({ node: name }, 'node changed under us; retrying');
        throw err;
      }
    };
    const switched = async (from: NodeMode, to: NodeMode, why: string, note: string): Promise<void> => {
      deps.metrics?.switches.inc({ from, to, reason: why });
      log?.info({ node: name, from, to, why }, 'node mode changed');
      await deps.events.normal(ref, 'ModeChanged', 'Switch', note);
    };

    // Modes that need no drain: write the new mode, then look after the miners.
    const settle = async (to: NodeMode, why: string): Promise<V1Node> => {
      const w: ModeWrite = {
        mode: to,
        sinceMs: mode === to && st.modeSinceMs !== undefined ? st.modeSinceMs : now,
      };
      // The abort and its cause stay on the node for the cool-down (kubectl describe node says why).
      if (st.drainAbortedMs !== undefined && now - st.drainAbortedMs < policy.drainTimeoutSeconds * 1000) {
        w.abortedMs = st.drainAbortedMs;
        if (st.drainStalled) w.stalled = st.drainStalled;
      }
      if (upToDate(st, w, node, policy)) return node;
      const written = await write(w);
      // A node's first mode is no switch: logged, not counted nor an Event.
      if (st.mode === undefined) log?.debug({ node: name, mode: to }, 'node mode set');
      else if (st.mode !== to)
        await switched(st.mode, to, why, `${st.mode} → ${to}: ${st.targetReason ?? ''}`);
      return written;
    };

    if (mode === 'draining') return drain(node, st.drainingTo ?? (target === 'mining' ? 'idle' : target));
    if (
      mode === target ||
      (mode === 'idle' && target === 'training' && miners.length === 0) ||
      target === 'mining'
    ) {
      const current = await settle(target, 'planned');
      await ensureMiner(current, target);
      // The end of an abort's cool-down changes the node (the abort is cleared): the planner may use it again.
      const coolingMs = (st.drainAbortedMs ?? 0) + policy.drainTimeoutSeconds * 1000 - now;
      const cool = st.drainAbortedMs !== undefined && coolingMs > 0 ? coolingMs : undefined;
      const wait =
        cool === undefined || echoWaitMs === undefined ? (cool ?? echoWaitMs) : Math.min(cool, echoWaitMs);
      return wait === undefined ? undefined : { requeueAfterMs: wait };
    }
    if (target === 'idle' && mode === 'training') {
      await settle('idle', 'planned');
      await ensureMiner(node, 'idle');
      return echoWaitMs === undefined ? undefined : { requeueAfterMs: echoWaitMs };
    }
    // mining (or idle with stray miners) → training or idle: start a drain.
    const w: ModeWrite = { mode: 'draining', sinceMs: now, drainingTo: target, drainStartedMs: now };
    const written = await write(w);
    const count = miners.length;
    await deps.events.normal(
      ref,
      'DrainStarted',
      'Drain',
      `${mode} → ${target}: evicting ${count} mining pod${count === 1 ? '' : 's'}; ${st.targetReason ?? ''}`,
    );
    return drain(written, target);

    async function drain(current: V1Node, drainingTo: 'training' | 'idle'): Promise<ReconcileResult | void> {
      const cst = nodeState(current, policy);
      const startedMs = cst.drainStartedMs ?? now;
      if (target === 'mining') {
        await write({ mode: 'mining', sinceMs: now }, current);
        await switched(
          'draining',
          'mining',
          'drain-cancelled',
          `drain cancelled, back to mining: ${st.targetReason ?? ''}`,
        );
        deps.metrics?.drainDuration.observe({ outcome: 'cancelled' }, (now - startedMs) / 1000);
        return;
      }
      const draining = (stalled: string | undefined): ModeWrite => {
        const w: ModeWrite = {
          mode: 'draining',
          sinceMs: cst.modeSinceMs ?? now,
          drainingTo,
          drainStartedMs: startedMs,
        };
        if (stalled) w.stalled = stalled;
        return w;
      };
      if (target !== drainingTo) {
        drainingTo = target === 'training' ? 'training' : 'idle';
        current = await write(draining(cst.drainStalled), current);
      }
      if (miners.length === 0) {
        await write({ mode: drainingTo, sinceMs: now }, current);
        deps.metrics?.drainDuration.observe({ outcome: 'completed' }, (now - startedMs) / 1000);
        // Counted and logged; no Event: DrainStarted said where it goes and why, the label says it got there
        // (one Event per switch: at a thousand nodes each is a write).
        deps.metrics?.switches.inc({ from: 'draining', to: drainingTo, reason: 'planned' });
        log?.info(
          { node: name, from: 'draining', to: drainingTo, seconds: Math.round((now - startedMs) / 1000) },
          'node drained',
        );
        return;
      }
      const timeoutS = policy.drainTimeoutSeconds;
      const elapsedMs = now - startedMs;
      const timedOut = elapsedMs >= timeoutS * 1000;
      const onTimeout = policy.drainTimeoutPolicy;
      const jobs = jobsOnNode();
      const left = `${miners.length} mining pod${miners.length === 1 ? '' : 's'} left`;

      // Abort gives up at the timeout; ForceEvict when even deleting with grace 0 freed nothing by twice the
      // timeout (a finalizer, a node that does not answer): both put the node back to mining.
      const forceFailed = onTimeout === 'ForceEvict' && elapsedMs >= 2 * timeoutS * 1000;
      if (timedOut && (onTimeout === 'Abort' || forceFailed)) {
        const recorded = parseStalled(cst.drainStalled);
        const causes = new Map<string, string>();
        for (const pod of miners) {
          const id = podId(pod);
          causes.set(
            id,
            isTerminating(pod)
              ? terminatingCause(pod, current, now)
              : (recorded.get(id) ?? 'not evicted yet'),
          );
        }
        const stalled = formatStalled(causes);
        await write({ mode: 'mining', sinceMs: now, abortedMs: now, stalled }, current);
        deps.metrics?.drainDuration.observe({ outcome: 'aborted' }, (now - startedMs) / 1000);
        deps.metrics?.switches.inc({ from: 'draining', to: 'mining', reason: 'drain-aborted' });
        const note = forceFailed
          ? `drain to ${drainingTo} could not free the GPUs within ${2 * timeoutS} s although policy ` +
            `ForceEvict deleted its mining pods with grace 0 (${left}); back to mining as policy Abort does`
          : `drain to ${drainingTo} did not finish within ${timeoutS} s (${left}); policy Abort: back to mining`;
        log?.warn({ node: name, drainingTo, stalled }, note);
        await warnAll('DrainStalled', `drain to ${drainingTo} stalled: ${stalled}`, jobs);
        await warnAll('DrainAborted', `${note}. Stuck: ${stalled}`, jobs);
        return;
      }

      const causes = new Map<string, string>();
      const justForced = new Map<string, string>();
      const failed: string[] = [];
      let forced = 0;
      for (const pod of miners) {
        const id = podId(pod);
        if (timedOut && onTimeout === 'ForceEvict') {
          // Grace 0 once: a pod still here after that is held by something the operator must not override.
          if (pod.metadata?.deletionGracePeriodSeconds !== 0) {
            await deletePod(pod, 0);
            forced++;
            justForced.set(id, 'deleted with grace 0 by policy ForceEvict, waiting for it to go');
          } else causes.set(id, `${terminatingCause(pod, current, now)}; deleted with grace 0`);
          continue;
        }
        if (isTerminating(pod)) {
          // A pod on its way out is waited for; said once the timeout passes, or at once when a finalizer
          // holds it past its grace period.
          if (timedOut || (pod.metadata?.finalizers?.length && pastGrace(pod, now)))
            causes.set(id, terminatingCause(pod, current, now));
          continue;
        }
        if (recentPods.recent('evicted', pod.metadata?.uid ?? id) > 0) continue;
        const r = await evictPod(deps.client, {
          namespace: pod.metadata?.namespace ?? '',
          name: pod.metadata?.name ?? '',
          uid: pod.metadata?.uid,
          signal,
        });
        if (r.outcome === 'blockedByPdb')
          causes.set(id, `eviction refused by a PodDisruptionBudget: ${r.message}`);
        else if (r.outcome === 'severalPdbs')
          causes.set(
            id,
            'more than one PodDisruptionBudget selects it, so the Eviction API refuses to evict it',
          );
        else if (r.outcome === 'error') failed.push(`${id}: ${r.message}`);
        else {
          if (r.outcome === 'evicted') recentPods.record('evicted', pod.metadata?.uid ?? id);
          log?.info({ node: name, pod: id, outcome: r.outcome }, 'mining pod evicted');
        }
      }
      const stalled = causes.size > 0 ? formatStalled(causes) : undefined;
      const recorded =
        causes.size + justForced.size > 0 ? formatStalled(new Map([...causes, ...justForced])) : undefined;
      if (recorded !== cst.drainStalled) current = await write(draining(recorded), current);
      if (forced > 0) {
        await warnAll(
          'DrainForced',
          `drain to ${drainingTo} ran past its timeout of ${timeoutS} s; policy ForceEvict: deleted ${forced} ` +
            `mining pod${forced === 1 ? '' : 's'} with grace 0, ignoring disruption budgets`,
          jobs,
        );
      }
      if (stalled && timedOut) {
        const next =
          onTimeout === 'ForceEvict'
            ? `policy ForceEvict: deleted with grace 0 yet still there; back to mining at ${2 * timeoutS} s`
            : 'policy Wait: still evicting politely';
        await warnAll(
          'DrainStalled',
          `drain to ${drainingTo} is past its timeout of ${timeoutS} s; ${next}. Stuck: ${stalled}`,
          jobs,
        );
      } else if (stalled) {
        await deps.events.warning(
          ref,
          'DrainBlocked',
          'Drain',
          `drain to ${drainingTo} cannot finish yet, retrying until its timeout of ${timeoutS} s (then ` +
            `${onTimeout}): ${stalled}`,
        );
      }
      if (failed.length > 0) throw new Error(`evictions failed on ${name}: ${failed.join('; ')}`);
      return { requeueAfterMs: nextDrainLook(elapsedMs, timeoutS * 1000, onTimeout === 'ForceEvict') };
    }

    async function warnAll(
      reason: string,
      note: string,
      jobs: { name: string; namespace: string; uid?: string }[],
    ): Promise<void> {
      await deps.events.warning(ref, reason, 'Drain', note);
      for (const j of jobs) {
        await deps.events.warning(
          { apiVersion: 'rigshift.io/v1alpha1', kind: 'TrainingJob', ...j },
          reason,
          'Drain',
          `node ${name}: ${note}`,
        );
      }
    }

    async function deletePod(pod: V1Pod, gracePeriodSeconds?: number): Promise<void> {
      const path = resourcePath(Kinds.Pod, { namespace: pod.metadata?.namespace, name: pod.metadata?.name });
      const body: Record<string, unknown> = {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid: pod.metadata?.uid },
      };
      if (gracePeriodSeconds !== undefined) body.gracePeriodSeconds = gracePeriodSeconds;
      try {
        await deps.client.rest.request({ method: 'DELETE', path, body, signal });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }

    /** Jobs (namespace, name) whose replicas are assigned to this node. */
    function jobsOnNode(): { name: string; namespace: string; uid?: string }[] {
      const out: { name: string; namespace: string; uid?: string }[] = [];
      for (const j of nodeJobs()) {
        const ref: { name: string; namespace: string; uid?: string } = {
          name: j.metadata.name ?? '',
          namespace: j.metadata.namespace ?? '',
        };
        if (j.metadata.uid) ref.uid = j.metadata.uid;
        out.push(ref);
      }
      return out;
    }

    /** Exactly one miner of the right size on a node that mines (a training node's leftover GPUs too). */
    async function ensureMiner(current: V1Node, as: NodeMode): Promise<void> {
      const want = desiredMiner(current, as, pool, onNode);
      if (want === 'wait') return;
      for (const m of miners) {
        if (isTerminating(m) || (want && m.metadata?.name === want.metadata?.name)) continue;
        if (recentPods.recent('evicted', m.metadata?.uid ?? podId(m)) > 0) continue;
        const r = await evictPod(deps.client, {
          namespace: m.metadata?.namespace ?? '',
          name: m.metadata?.name ?? '',
          uid: m.metadata?.uid,
          signal,
        });
        if (r.outcome === 'evicted') recentPods.record('evicted', m.metadata?.uid ?? podId(m));
        log?.info({ node: name, pod: m.metadata?.name, outcome: r.outcome }, 'replacing mining pod');
      }
      if (!want) return;
      const existing = onNode.find(
        (p) => p.metadata?.name === want.metadata?.name && p.metadata?.namespace === want.metadata?.namespace,
      );
      if (existing && !isTerminal(existing)) return;
      const wantId = podId(want);
      if (existing) {
        await deletePod(existing);
        recentPods.forget('created', wantId);
        return;
      }
      const echo = recentPods.recent('created', wantId);
      if (echo > 0) {
        echoWaitMs = echo; // looked at again once the echo is overdue, in case the create did not take
        return;
      }
      await apply(deps.client, want, { fieldManager: FIELD_MANAGER, force: true, signal });
      recentPods.record('created', wantId);
      log?.info({ node: name, pod: want.metadata?.name, pool: pool?.metadata.name }, 'mining pod created');
    }

    /** The miner the node should run, none, or 'wait' while trainers still hold its GPUs. */
    function desiredMiner(
      current: V1Node,
      as: NodeMode,
      p: MiningPool | undefined,
      pods: V1Pod[],
    ): V1Pod | 'wait' | undefined {
      if (!p || (as !== 'mining' && as !== 'training')) return undefined;
      const cst = nodeState(current, policy);
      const resource = nodeGpuResource(current, pools);
      const total = nodeGpus(current, resource);
      const foreign = (byNode ? byNode.foreignPods.get(name) : deps.caches.foreignPods.list())
        .filter((f) => f.spec?.nodeName === name && !isTerminal(f))
        .reduce((n, f) => n + podGpus(f, resource), 0);
      let training = 0;
      for (const j of nodeJobs()) {
        const phase = jobPhase(j);
        if (phase !== 'admitted' && phase !== 'running') continue;
        training += (assignedNodes(j) ?? []).filter((n) => n === name).length * j.spec.gpusPerReplica;
      }
      // Trainers still on a node going back to mining keep their GPUs until they are gone: start the miner
      // after them (their deletion wakes this node up), rather than a small one to be replaced soon after.
      if (as === 'mining' && pods.some((t) => t.metadata?.labels?.[TRAINING_JOB_LABEL] && !isTerminal(t)))
        return 'wait';
      const free = Math.max(0, total - foreign - training);
      const planned = cst.targetMiningGpus ?? (as === 'mining' ? total : 0);
      const gpus = Math.min(planned, free);
      if (gpus <= 0) return undefined;
      return buildMinerPod(p, name, gpus, policy, {
        terminationGracePeriodSeconds: deps.minerGracePeriodSeconds,
        resource,
      });
    }
  };
}
