// Issue 9, item 3: when the policy's modeLabelKey and reservedTaintKey change, the nodes move to the new keys
// and the label and taint under the old ones are removed, by an operator that restarted in between (it reads
// the keys it wrote from the node's annotations). The training node stays training: no drain, its pod kept.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Manager } from '../../../src/controller/manager.js';
import {
  createWorld,
  jobManifest,
  startOperator,
  waitAllMining,
  waitFor,
  type Job,
  type World,
} from './harness.js';

let w: World;
let op: Manager | undefined;

const OLD = { modeLabelKey: 'rigshift.io/mode', reservedTaintKey: 'rigshift.io/reserved' };
const NEW = { modeLabelKey: 'e2e.rigshift.io/mode', reservedTaintKey: 'e2e.rigshift.io/reserved' };
type Keys = typeof OLD;

async function restart(keys: Keys): Promise<void> {
  await op?.stop();
  const policyFile = w.writePolicy({
    hysteresisPercent: 5,
    minDwellSeconds: 0,
    switchingSeconds: 10,
    drainTimeoutSeconds: 30,
    ...keys,
  });
  op = await startOperator(w, { policyFile });
}

/** Every node under `keys` only, in the mode `want` says, tainted exactly when training. */
async function onKeys(keys: Keys, other: Keys, want: Record<string, string>): Promise<string | undefined> {
  const nodes: V1Node[] = await w.nodeObjects();
  for (const n of nodes) {
    const name = n.metadata?.name ?? '';
    const labels = n.metadata?.labels ?? {};
    const ann = n.metadata?.annotations ?? {};
    const taints = (n.spec?.taints ?? []).map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`);
    if (labels[keys.modeLabelKey] !== want[name])
      return `${name}: ${keys.modeLabelKey}=${labels[keys.modeLabelKey]}`;
    if (other.modeLabelKey in labels) return `${name}: still labelled ${other.modeLabelKey}`;
    const wantTaints = want[name] === 'training' ? [`${keys.reservedTaintKey}=training:NoSchedule`] : [];
    if (taints.join() !== wantTaints.join()) return `${name}: taints ${taints.join()}`;
    if (ann['rigshift.io/mode-label-key'] !== keys.modeLabelKey) return `${name}: label key not recorded`;
    if (ann['rigshift.io/taint-key'] !== keys.reservedTaintKey) return `${name}: taint key not recorded`;
  }
  return undefined;
}

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-keys', nodes: 2 });
  await restart(OLD);
  await waitAllMining(w);
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

it('new keys: old label and taint removed, modes kept, the training pod untouched; and back again', async () => {
  await w.apply(jobManifest(w.ns, 'gang', { replicas: 1 }));
  const running = await waitFor(
    'gang Running',
    async () => {
      const j = await w.get<Job>('TrainingJob', 'gang');
      return j?.status?.state === 'Running' ? j : undefined;
    },
    60_000,
  );
  const trainingNode = running.status?.assignedNodes?.[0] ?? '';
  const want = Object.fromEntries(w.nodes.map((n) => [n, n === trainingNode ? 'training' : 'mining']));
  await waitFor('nodes on the old keys', async () => (await onKeys(OLD, NEW, want)) === undefined);
  const [trainer] = await w.pods('rigshift.io/trainingjob=gang');
  const drainsBefore = (await w.events(trainingNode, 'default')).filter(
    (e) => e.reason === 'DrainStarted',
  ).length;

  for (const [keys, other] of [
    [NEW, OLD],
    [OLD, NEW],
  ] as const) {
    await restart(keys);
    let last: string | undefined;
    await waitFor(
      `nodes moved to ${keys.modeLabelKey} / ${keys.reservedTaintKey}`,
      async () => (last = await onKeys(keys, other, want)) === undefined,
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (${last})`);
    });
    const pods: V1Pod[] = await w.pods('rigshift.io/trainingjob=gang');
    expect(pods.map((p) => p.metadata?.uid)).toEqual([trainer?.metadata?.uid]);
    expect((await w.get<Job>('TrainingJob', 'gang'))?.status?.state).toBe('Running');
  }
  // The training node was never drained again for it: only the key moved.
  const drainsAfter = (await w.events(trainingNode, 'default')).filter(
    (e) => e.reason === 'DrainStarted',
  ).length;
  expect(drainsAfter).toBe(drainsBefore);
}, 180_000);
