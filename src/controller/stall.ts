import type { V1Node, V1Pod } from '@kubernetes/client-node';

/**
 * Stalled drains, pure: why a mining pod is still on a draining node, the `drain-stalled` annotation that
 * says so, and when to look again.
 *
 * Accounting (fail closed): a miner holds its GPUs until its node reports it finished (phase Succeeded or
 * Failed) or the pod is gone, however long it has been terminating. Only the kubelet can say the miner process
 * stopped; a finalizer or a node that stopped answering leaves the pod Terminating and Running, and its GPUs
 * are never counted free meanwhile (the scheduler does not count them free either). The drain's policy decides
 * what happens instead of waiting in silence.
 */

/** The annotation is read by people (`kubectl describe node`): bounded, like an Event note. */
const STALLED_LIMIT = 1024;
/** The longest pause between two looks at a stalled drain (pod and node changes wake it sooner). */
export const MAX_DRAIN_LOOK_MS = 30_000;
export const MIN_DRAIN_LOOK_MS = 1000;

/** Has a terminating pod outlived its grace period (deletionTimestamp is when it should be gone)? */
export function pastGrace(pod: V1Pod, nowMs: number): boolean {
  const at = pod.metadata?.deletionTimestamp;
  if (!at) return false;
  const ms = new Date(at).getTime();
  return Number.isFinite(ms) && nowMs > ms;
}

function nodeReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Why a terminating pod is still there, in kubectl-user words. */
export function terminatingCause(pod: V1Pod, node: V1Node, nowMs: number): string {
  const finalizers = pod.metadata?.finalizers ?? [];
  if (finalizers.length > 0) {
    return `Terminating, held by finalizer${finalizers.length === 1 ? '' : 's'} ${finalizers.join(', ')}`;
  }
  if (!nodeReady(node)) return 'Terminating on a node that is not Ready: nothing confirms the miner stopped';
  if (pastGrace(pod, nowMs))
    return 'Terminating past its grace period: the node has not confirmed it stopped';
  return 'Terminating, within its grace period';
}

/** `ns/name: cause; …` sorted by pod, cut to a bounded size. */
export function formatStalled(causes: ReadonlyMap<string, string>): string {
  const text = [...causes]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([pod, cause]) => `${pod}: ${cause.replace(/;/g, ',').replace(/\s+/g, ' ').trim()}`)
    .join('; ');
  return text.length <= STALLED_LIMIT ? text : `${text.slice(0, STALLED_LIMIT - 1)}…`;
}

/** The pod → cause entries of a `drain-stalled` annotation (what formatStalled wrote). */
export function parseStalled(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (text ?? '').split('; ')) {
    const i = part.indexOf(': ');
    if (i > 0) out.set(part.slice(0, i), part.slice(i + 2));
  }
  return out;
}

/**
 * When to look at a drain again: soon while it is young, backing off to MAX_DRAIN_LOOK_MS as it drags on,
 * but never past its next deadline (the timeout, and for ForceEvict twice the timeout).
 */
export function nextDrainLook(elapsedMs: number, timeoutMs: number, force: boolean): number {
  let ms = Math.min(MAX_DRAIN_LOOK_MS, Math.max(MIN_DRAIN_LOOK_MS, Math.floor(elapsedMs / 4)));
  for (const deadline of force ? [timeoutMs, 2 * timeoutMs] : [timeoutMs]) {
    if (deadline > elapsedMs) ms = Math.min(ms, deadline - elapsedMs);
  }
  return Math.max(1, ms);
}
