// Scenarios 1, 9, 8, 3 and 2 of issue 5, in order on one farm of six RTX 3090 nodes: a winning job takes two
// nodes (foreign pods untouched), deleting it gives them back, a job that completes gives them back, and a job
// bidding below yield waits until its bid is raised. A missing PriorityClass stops the operator at start.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Manager } from '../../../src/controller/manager.js';
import {
  completesAfter,
  conditionOf,
  createWorld,
  hasTaint,
  isRunning,
  jobManifest,
  modeCount,
  podNodeOf,
  startOperator,
  waitAllMining,
  waitFor,
  type Job,
  type World,
} from './harness.js';

let w: World;
let op: Manager | undefined;
/** Miners before any job, by node. */
let miners: Map<string, V1Pod>;

const foreign = (name: string, node: string, gpus: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'log-shipper' } },
  spec: {
    nodeName: node,
    containers: [
      {
        name: 'c',
        image: 'agent:1',
        ...(gpus ? { resources: { limits: { 'nvidia.com/gpu': String(gpus) } } } : {}),
      },
    ],
  },
});

async function job(name: string): Promise<Job | undefined> {
  return w.get<Job>('TrainingJob', name);
}

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-switch', nodes: 6 });
  // Scenario 9's foreign pods: an agent without GPUs where the job will land (the two first nodes by name,
  // the planner's tie-break), and one holding a GPU elsewhere.
  const [first, , , , , last] = w.nodes;
  await w.apply(foreign('agent', first ?? '', 0), foreign('gpu-user', last ?? '', 1));
  await waitFor(
    'foreign pods running',
    async () =>
      (await w.list<V1Pod>('Pod', { labelSelector: 'app=log-shipper' })).filter(isRunning).length === 2,
  );
  op = await startOperator(w);
  miners = await waitAllMining(w);
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

describe('the farm', () => {
  it('a missing PriorityClass is a clear error at start', async () => {
    const file = w.writePolicy({});
    const bad = w.writePolicy({ priorityClasses: { mining: 'no-such-class', training: 'rigshift-nope' } });
    expect(file).not.toBe(bad);
    const { Manager: M } = await import('../../../src/controller/manager.js');
    // The policy file names its own classes: overwrite them to missing ones.
    const { writeFileSync, readFileSync } = await import('node:fs');
    writeFileSync(
      bad,
      readFileSync(bad, 'utf8')
        .replace(/mining: .*/, 'mining: no-such-class')
        .replace(/training: .*/, 'training: rigshift-nope'),
    );
    const m = new M(w.rbac.kc, {
      namespace: w.ns,
      nodeSelector: `rigshift.io/test=${w.ns}`,
      policyFile: bad,
    });
    await expect(m.start()).rejects.toThrow(
      /PriorityClass no-such-class \(for mining pods\) and rigshift-nope \(for training pods\) does not exist/,
    );
    await m.stop();
  });

  it('mines on every node, one miner each; the miner next to a foreign GPU pod gets the other 7 GPUs', () => {
    const last = w.nodes[5] ?? '';
    expect(miners.size).toBe(6);
    expect(miners.get(last)?.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('7');
    expect(miners.get(w.nodes[0] ?? '')?.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe(
      '8',
    );
    expect(miners.get(w.nodes[0] ?? '')?.spec?.priorityClassName).toBe(`${w.ns}-mining`);
    expect(miners.get(w.nodes[0] ?? '')?.spec?.containers[0]?.args).toEqual([
      '-o',
      'stratum+tcp://etc.example.org:1010',
      '-u',
      `0xabc.${w.nodes[0]}`,
      '--gpus',
      '8',
    ]);
  });
});

describe('scenario 1: a 2×8 job bidding above yield', () => {
  it('takes exactly two nodes: tainted, miners evicted gracefully, its pods running there, Running; four keep mining', async () => {
    await w.apply(jobManifest(w.ns, 'big', { checkpointGracePeriodSeconds: 2 }));
    const j = await waitFor(
      'job big Running',
      async () => {
        const got = await job('big');
        return got?.status?.state === 'Running' ? got : undefined;
      },
      60_000,
    );
    expect(conditionOf(j, 'Running')).toMatchObject({ status: 'True', reason: 'AllReplicasRunning' });
    expect(conditionOf(j, 'Admitted')).toMatchObject({ status: 'True', reason: 'Placed' });
    expect(conditionOf(j, 'Queued')?.status).toBe('False');
    const assigned = j.status?.assignedNodes ?? [];
    expect(assigned).toHaveLength(2);
    expect(new Set(assigned).size).toBe(2);

    const modes = await w.modes();
    expect(modeCount(modes, 'training')).toBe(2);
    expect(modeCount(modes, 'mining')).toBe(4);
    for (const n of await w.nodeObjects()) {
      const name = n.metadata?.name ?? '';
      const training = assigned.includes(name);
      expect([name, n.metadata?.labels?.['rigshift.io/mode']]).toEqual([
        name,
        training ? 'training' : 'mining',
      ]);
      expect([name, hasTaint(n)]).toEqual([name, training]);
    }

    const trainers = (await w.pods('rigshift.io/trainingjob=big')).filter(isRunning);
    expect(trainers.map((p) => podNodeOf(p)).sort()).toEqual([...assigned].sort());
    for (const p of trainers) {
      expect(p.spec?.priorityClassName).toBe(`${w.ns}-training`);
      expect(p.spec?.tolerations).toContainEqual({
        key: 'rigshift.io/reserved',
        operator: 'Equal',
        value: 'training',
        effect: 'NoSchedule',
      });
    }

    // The drained nodes' miners are gone (evicted, not replaced); the other four kept theirs.
    const now = await w.pods('rigshift.io/miningpool=etc');
    for (const n of assigned) {
      expect(now.filter((p) => podNodeOf(p) === n && isRunning(p))).toEqual([]);
      // One Event per switch: the drain's start names where it goes and why (Events are written in the background).
      const drain = await waitFor(`DrainStarted Event on ${n}`, async () => {
        const evs = await w.events(n, 'default');
        return evs.some((e) => e.reason === 'DrainStarted') ? evs : undefined;
      });
      expect(drain.find((e) => e.reason === 'DrainStarted')?.note).toMatch(
        /^mining → training: evicting 1 mining pod; training: /,
      );
      expect(drain.map((e) => e.reason)).not.toContain('ModeChanged');
    }
    for (const n of w.nodes.filter((x) => !assigned.includes(x))) {
      const live = now.filter((p) => podNodeOf(p) === n && isRunning(p));
      expect(live.map((p) => p.metadata?.uid)).toEqual([miners.get(n)?.metadata?.uid]);
    }
    const events = await waitFor('Admitted and Running Events on the job', async () => {
      const reasons = (await w.events('big')).map((e) => e.reason);
      return reasons.includes('Admitted') && reasons.includes('Running') ? reasons : undefined;
    });
    expect(events).toEqual(expect.arrayContaining(['Admitted', 'Running']));
  });
});

describe('scenario 9: foreign pods', () => {
  it('are never evicted by the operator, even on a node that was drained for training', async () => {
    const pods = await w.list<V1Pod>('Pod', { labelSelector: 'app=log-shipper' });
    expect(pods.map((p) => [p.metadata?.name, p.status?.phase, p.metadata?.deletionTimestamp])).toEqual([
      ['agent', 'Running', undefined],
      ['gpu-user', 'Running', undefined],
    ]);
    const j = await job('big');
    expect(j?.status?.assignedNodes).toContain(w.nodes[0]);
  });
});

describe('scenario 8: deleting a running TrainingJob', () => {
  it('removes its pods and gives its nodes back to mining', async () => {
    const assigned = (await job('big'))?.status?.assignedNodes ?? [];
    await w.c.kubectl(['delete', 'trainingjob', 'big', '-n', w.ns, '--wait=true', '--timeout=60s']);
    expect(await job('big')).toBeUndefined();
    await waitFor(
      'training pods gone',
      async () => (await w.pods('rigshift.io/trainingjob=big')).length === 0,
      90_000,
    );
    const back = await waitAllMining(w);
    for (const n of await w.nodeObjects()) expect(hasTaint(n)).toBe(false);
    for (const n of assigned) expect(back.get(n)?.metadata?.uid).not.toBe(miners.get(n)?.metadata?.uid);
  });
});

describe('scenario 3: a job that completes', () => {
  it('gives its nodes back to mining and the miners come back; it earned its bid for the time it ran', async () => {
    await w.apply(jobManifest(w.ns, 'short', { podAnnotations: completesAfter(4) }));
    const ran = await waitFor(
      'job short Running',
      async () => {
        const j = await job('short');
        return j?.status?.state === 'Running' || j?.status?.state === 'Succeeded' ? j : undefined;
      },
      60_000,
    );
    const assigned = ran.status?.assignedNodes ?? [];
    expect(assigned).toHaveLength(2);
    const done = await waitFor(
      'job short Succeeded and its admission ended',
      async () => {
        const j = await job('short');
        return j?.status?.state === 'Succeeded' && conditionOf(j, 'Admitted')?.status === 'False'
          ? j
          : undefined;
      },
      60_000,
    );
    expect(conditionOf(done, 'Succeeded')).toMatchObject({ status: 'True', reason: 'AllReplicasSucceeded' });
    expect(conditionOf(done, 'Running')).toMatchObject({ status: 'False', reason: 'Completed' });
    expect(conditionOf(done, 'Admitted')).toMatchObject({ status: 'False', reason: 'Ended' });
    expect(done.status?.assignedNodes).toBeUndefined();
    // 16 GPUs for at least the 4 s the pods ran, at 1.00 USD per GPU-hour.
    expect(Number(done.status?.gpuHours)).toBeGreaterThanOrEqual((16 * 3) / 3600);
    expect(Number(done.status?.earnedUsd)).toBeCloseTo(Number(done.status?.gpuHours) * 1.0, 5);
    const back = await waitAllMining(w);
    for (const n of assigned) expect(back.has(n)).toBe(true);
  });
});

describe('scenario 2: a job bidding below yield', () => {
  it('stays Queued with the reason; raising its bid admits it', async () => {
    await w.apply(jobManifest(w.ns, 'cheap', { replicas: 1, bidUsdPerGpuHour: '0.05' }));
    const queued = await waitFor('job cheap Queued', async () => {
      const j = await job('cheap');
      return conditionOf(j, 'Queued')?.status === 'True' && j?.status?.state === 'Queued' ? j : undefined;
    });
    expect(conditionOf(queued, 'Queued')).toMatchObject({ reason: 'BidBelowYield' });
    expect(conditionOf(queued, 'Queued')?.message).toMatch(
      /bid 0\.05 net of power 0\.0325 USD\/GPU-h does not beat mining yield 0\.085/,
    );
    expect(queued.status?.waitingReason).toBe(conditionOf(queued, 'Queued')?.message);
    expect(queued.status?.state).toBe('Queued');
    expect(modeCount(await w.modes(), 'mining')).toBe(6);
    expect((await w.events('cheap')).map((e) => e.reason)).toContain('Queued');

    await w.c.kubectl([
      'patch',
      'trainingjob',
      'cheap',
      '-n',
      w.ns,
      '--type=merge',
      '-p',
      '{"spec":{"bidUsdPerGpuHour":"0.50"}}',
    ]);
    const running = await waitFor(
      'job cheap Running',
      async () => {
        const j = await job('cheap');
        return j?.status?.state === 'Running' ? j : undefined;
      },
      60_000,
    );
    expect(running.status?.waitingReason).toBeUndefined();
    expect(modeCount(await w.modes(), 'training')).toBe(1);
  });
});
