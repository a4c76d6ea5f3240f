// Issue 9, item 2: a miner that never leaves must not hold a drain in silence. Each blocker (a finalizer, a
// PodDisruptionBudget, two budgets on one pod) on a one-node farm whose only job needs that node: under Wait
// the drain reports DrainStalled and names the pod and cause in the node's rigshift.io/drain-stalled
// annotation; under Abort the node goes back to mining, keeps the cause, and the job waits saying why. Under
// ForceEvict a miner held by a finalizer is deleted with grace 0, and when even that frees nothing the drain
// gives up as Abort does; once the finalizer goes, the job runs. kwok leaves a pod with a finalizer
// Terminating and Running, like a node that stopped answering: its GPUs are never counted free meanwhile.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Manager } from '../../../src/controller/manager.js';
import { Kinds, resourcePath } from '../../../src/kube/resources.js';
import {
  conditionOf,
  createWorld,
  hasTaint,
  jobManifest,
  startOperator,
  waitAllMining,
  waitFor,
  type Job,
  type World,
} from './harness.js';

const TIMEOUT = 4;
const HOLD = 'e2e.rigshift.io/hold';
const STALLED = 'rigshift.io/drain-stalled';

type Blocker = 'finalizer' | 'one PDB' | 'two PDBs';
/** What the annotation and the Events say for each blocker. */
const CAUSE: Record<Blocker, RegExp> = {
  finalizer: new RegExp(`: Terminating, held by finalizer ${HOLD}`),
  'one PDB':
    /: eviction refused by a PodDisruptionBudget: .*disruption budget keep-miners needs 1 healthy pods/,
  'two PDBs': /: more than one PodDisruptionBudget selects it, so the Eviction API refuses to evict it/,
};

interface Farm {
  w: World;
  op?: Manager | undefined;
  miner: V1Pod;
  node: string;
}

const policy = (w: World, drainTimeoutPolicy: string): string =>
  w.writePolicy({
    hysteresisPercent: 5,
    minDwellSeconds: 0,
    switchingSeconds: 10,
    drainTimeoutSeconds: TIMEOUT,
    drainTimeoutPolicy,
  });

async function restart(f: Farm, drainTimeoutPolicy: string): Promise<void> {
  await f.op?.stop();
  f.op = await startOperator(f.w, { policyFile: policy(f.w, drainTimeoutPolicy) });
}

const reasons = async (w: World, name: string, ns?: string) =>
  (await w.events(name, ns)).map((e) => e.reason);
const eventNote = async (w: World, name: string, reason: string, ns?: string) =>
  (await w.events(name, ns)).find((e) => e.reason === reason);
const nodeObject = (f: Farm) => f.w.get<V1Node>('Node', f.node);
const annotation = async (f: Farm, key: string) => (await nodeObject(f))?.metadata?.annotations?.[key];

async function patchFinalizers(w: World, pod: V1Pod, finalizers: string[] | null): Promise<void> {
  await w.client.rest.request({
    method: 'PATCH',
    path: resourcePath(Kinds.Pod, { namespace: w.ns, name: pod.metadata?.name }),
    contentType: 'application/merge-patch+json',
    body: { metadata: { finalizers } },
  });
}

const pdb = (name: string, minAvailable: number) => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name },
  spec: { minAvailable, selector: { matchLabels: { 'rigshift.io/miningpool': 'etc' } } },
});

/** A one-node farm mining, its miner blocked as asked, the operator under `drainTimeoutPolicy`. */
async function farm(prefix: string, blocker: Blocker, drainTimeoutPolicy: string): Promise<Farm> {
  const w = await createWorld({ prefix, nodes: 1 });
  const f: Farm = { w, miner: {}, node: w.nodes[0] ?? '' };
  await restart(f, drainTimeoutPolicy);
  const miners = await waitAllMining(w);
  f.miner = miners.get(f.node) ?? {};
  if (blocker === 'finalizer') await patchFinalizers(w, f.miner, [HOLD]);
  if (blocker === 'one PDB') await w.apply(pdb('keep-miners', 1));
  // Two budgets that would each allow the eviction: the Eviction API refuses any pod that two select.
  if (blocker === 'two PDBs') await w.apply(pdb('keep-a', 0), pdb('keep-b', 0));
  for (const name of blocker === 'one PDB'
    ? ['keep-miners']
    : blocker === 'two PDBs'
      ? ['keep-a', 'keep-b']
      : []) {
    await waitFor(`PDB ${name} observed`, async () => {
      const p = await w.get<{ status?: { expectedPods?: number } }>('PodDisruptionBudget', name);
      return p?.status?.expectedPods === 1;
    });
  }
  await w.apply(jobManifest(w.ns, 'gang', { replicas: 1, checkpointGracePeriodSeconds: 1 }));
  await waitFor('gang admitted on the node', async () => {
    const j = await w.get<Job>('TrainingJob', 'gang');
    return conditionOf(j, 'Admitted')?.status === 'True' && j?.status?.assignedNodes?.[0] === f.node;
  });
  return f;
}

async function teardown(f: Farm | undefined): Promise<void> {
  if (!f) return;
  await f.op?.stop();
  // The finalizer would keep the namespace from going.
  for (const p of await f.w.pods().catch(() => [])) {
    if (p.metadata?.finalizers?.length) await patchFinalizers(f.w, p, null).catch(() => undefined);
  }
  await f.w.cleanup();
}

describe.each<[Blocker, string]>([
  ['finalizer', 'op-stall-fin'],
  ['one PDB', 'op-stall-pdb'],
  ['two PDBs', 'op-stall-2pdb'],
])('a miner blocked by %s', (blocker, prefix) => {
  let f: Farm | undefined;
  beforeAll(async () => {
    f = await farm(prefix, blocker, 'Wait');
  }, 180_000);
  afterAll(() => teardown(f), 60_000);

  it('Wait: DrainStalled and the annotation name the pod and the cause; the node stays draining', async () => {
    const { w, node, miner } = f as Farm;
    const podRef = `${w.ns}/${miner.metadata?.name ?? ''}`;
    const stalled = await waitFor(
      'DrainStalled on the node',
      () => eventNote(w, node, 'DrainStalled', 'default'),
      30_000,
    );
    expect(stalled.type).toBe('Warning');
    expect(stalled.note).toContain(`past its timeout of ${TIMEOUT} s; policy Wait: still evicting politely`);
    expect(stalled.note).toContain(podRef);
    expect(stalled.note).toMatch(CAUSE[blocker]);
    expect((await eventNote(w, 'gang', 'DrainStalled'))?.note).toMatch(CAUSE[blocker]);
    const text = await annotation(f as Farm, STALLED);
    expect(text?.startsWith(`${podRef}: `)).toBe(true);
    expect(text).toMatch(CAUSE[blocker]);
    const n = await nodeObject(f as Farm);
    expect(n?.metadata?.labels?.['rigshift.io/mode']).toBe('draining');
    expect(hasTaint(n as V1Node)).toBe(true);
    expect(await w.pods('rigshift.io/trainingjob=gang')).toHaveLength(0);
    expect((await w.get<V1Pod>('Pod', miner.metadata?.name ?? ''))?.metadata?.uid).toBe(miner.metadata?.uid);
  }, 60_000);

  it('Abort: back to mining, the cause kept on the node and given as the job’s reason to wait', async () => {
    const ff = f as Farm;
    await restart(ff, 'Abort');
    const aborted = await waitFor(
      'DrainAborted on the node',
      () => eventNote(ff.w, ff.node, 'DrainAborted', 'default'),
      30_000,
    );
    expect(aborted.note).toMatch(/policy Abort: back to mining/);
    expect(aborted.note).toMatch(CAUSE[blocker]);
    // Mining, untainted, with the abort and its cause, for the cool-down (then the plan may try again).
    const n = await waitFor('node mining after the abort, cause recorded', async () => {
      const x = await nodeObject(ff);
      const a = x?.metadata?.annotations ?? {};
      const ok =
        x?.metadata?.labels?.['rigshift.io/mode'] === 'mining' &&
        !hasTaint(x) &&
        a['rigshift.io/drain-aborted'] !== undefined &&
        CAUSE[blocker].test(a[STALLED] ?? '');
      return ok ? x : undefined;
    });
    expect(n.metadata?.annotations?.[STALLED]).toContain(ff.miner.metadata?.name ?? '?');
    const reasonsSeen = new Set<string>();
    await waitFor(
      'the job waiting with the cause',
      async () => {
        const j = await ff.w.get<Job>('TrainingJob', 'gang');
        const r = j?.status?.waitingReason ?? '';
        reasonsSeen.add(r);
        return r.includes(`the drain of ${ff.node} was aborted`) && CAUSE[blocker].test(r);
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; reasons seen: ${[...reasonsSeen].join(' | ')}`);
    });
    expect(await reasons(ff.w, 'gang')).toContain('DrainAborted');
  }, 60_000);
});

describe('a miner held by a finalizer under ForceEvict', () => {
  let f: Farm | undefined;
  beforeAll(async () => {
    f = await farm('op-stall-force', 'finalizer', 'ForceEvict');
  }, 180_000);
  afterAll(() => teardown(f), 60_000);

  it('is deleted with grace 0; still there, the drain gives up and says why; once freed the job runs', async () => {
    const { w, node, miner } = f as Farm;
    const forced = await waitFor('DrainForced', () => eventNote(w, node, 'DrainForced', 'default'), 30_000);
    expect(forced.note).toMatch(/policy ForceEvict: deleted 1 mining pod with grace 0/);
    const pod = await w.get<V1Pod>('Pod', miner.metadata?.name ?? '');
    expect(pod?.metadata?.deletionGracePeriodSeconds).toBe(0);
    expect(pod?.metadata?.finalizers).toEqual([HOLD]);
    const stalled = await waitFor(
      'DrainStalled',
      () => eventNote(w, node, 'DrainStalled', 'default'),
      30_000,
    );
    expect(stalled.note).toMatch(CAUSE.finalizer);
    const aborted = await waitFor(
      'DrainAborted',
      () => eventNote(w, node, 'DrainAborted', 'default'),
      30_000,
    );
    expect(aborted.note).toMatch(
      new RegExp(`could not free the GPUs within ${2 * TIMEOUT} s although policy ForceEvict deleted`),
    );
    expect(aborted.note).toMatch(CAUSE.finalizer);
    await waitFor('node mining with the cause', async () => {
      const x = await nodeObject(f as Farm);
      return (
        x?.metadata?.labels?.['rigshift.io/mode'] === 'mining' &&
        !hasTaint(x) &&
        CAUSE.finalizer.test(x.metadata?.annotations?.[STALLED] ?? '')
      );
    });
    // No trainer was ever started beside the miner that may still run.
    expect(await w.pods('rigshift.io/trainingjob=gang')).toHaveLength(0);

    await patchFinalizers(w, miner, null);
    const running = await waitFor(
      'gang Running once the miner is gone',
      async () => {
        const j = await w.get<Job>('TrainingJob', 'gang');
        return j?.status?.state === 'Running' ? j : undefined;
      },
      60_000,
    );
    expect(running.status?.assignedNodes).toEqual([node]);
    const n = await nodeObject(f as Farm);
    expect(n?.metadata?.labels?.['rigshift.io/mode']).toBe('training');
    expect(n?.metadata?.annotations?.[STALLED]).toBeUndefined();
  }, 120_000);
});
