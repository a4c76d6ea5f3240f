// The job reconciler's pure part: which pods to create and stop, Running/Succeeded/Failed, state, accrual.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import {
  accrualAtDeletion,
  jobProgress,
  progressUpToDate,
  stateOf,
} from '../../../src/controller/progress.js';
import { jobPhase } from '../../../src/controller/snapshot.js';
import { NOW, condition, iso, job, trainerPod } from './operator-fixtures.js';

const admitted = (nodes: string[], extra: Record<string, unknown> = {}) => ({
  assignedNodes: nodes,
  conditions: [condition('Admitted', 'True'), condition('Queued', 'False')],
  ...extra,
});
const running = (nodes: string[], sinceMs: number, extra: Record<string, unknown> = {}) => ({
  assignedNodes: nodes,
  conditions: [condition('Admitted', 'True'), condition('Running', 'True', sinceMs)],
  startTime: iso(sinceMs),
  lastAccrualTime: iso(sinceMs),
  ...extra,
});
/** Pod of replica i in run r, named as the operator names it. */
const pod = (job: string, run: number, i: number, node: string, phase = 'Running'): V1Pod => {
  const p = trainerPod(job, node, 8, phase);
  p.metadata = { ...p.metadata, name: `${job}-r${run}-${i}` };
  return p;
};

function progress(j: ReturnType<typeof job>, pods: V1Pod[], nodesReady = true, nowMs = NOW) {
  return jobProgress({ job: j, phase: jobPhase(j), pods, nodesReady, nowMs });
}

describe('pods', () => {
  it('creates the whole gang at once, only when every assigned node trains', () => {
    const j = job('g', {}, admitted(['a', 'b']));
    expect(progress(j, [], false).create).toEqual([]);
    expect(progress(j, []).create).toEqual([
      { replica: 0, node: 'a', name: 'g-r0-0' },
      { replica: 1, node: 'b', name: 'g-r0-1' },
    ]);
    expect(progress(j, [pod('g', 0, 0, 'a')]).create.map((c) => c.name)).toEqual(['g-r0-1']);
  });

  it('a new run (after a preemption) has new pod names; the old run’s pods are stopped', () => {
    const j = job('g', {}, admitted(['c', 'd'], { preemptions: 1 }));
    const old = [pod('g', 0, 0, 'a'), pod('g', 0, 1, 'b')];
    const p = progress(j, old);
    // The new run starts once the old run's pods are gone (their GPUs are still theirs until then).
    expect(p.create).toEqual([]);
    expect(p.stop.map((s) => s.metadata?.name)).toEqual(['g-r0-0', 'g-r0-1']);
    const stopping = old.map((o) => ({
      ...o,
      metadata: { ...o.metadata, deletionTimestamp: new Date(NOW) },
    }));
    expect(progress(j, stopping).create).toEqual([]);
    expect(progress(j, []).create.map((c) => c.name)).toEqual(['g-r1-0', 'g-r1-1']);
  });

  it.each([
    [
      'a queued job (preempted, reassigned)',
      job('g', {}, { preemptions: 1, conditions: [condition('Queued', 'True')] }),
    ],
    ['a suspended job', job('g', { suspend: true }, admitted(['a', 'b']))],
    [
      'a failed job',
      job(
        'g',
        {},
        { ...admitted(['a', 'b']), conditions: [condition('Admitted', 'True'), condition('Failed', 'True')] },
      ),
    ],
  ])('%s has its pods stopped and none created', (_n, j) => {
    const p = progress(j, [pod('g', 0, 0, 'a'), pod('g', 0, 1, 'b')]);
    expect(p.create).toEqual([]);
    expect(p.stop).toHaveLength(2);
  });

  it('a pod on the wrong node is replaced; terminating and finished pods are left alone', () => {
    const j = job('g', {}, admitted(['a', 'b']));
    const wrong = pod('g', 0, 1, 'z');
    const terminating = pod('g', 0, 0, 'a');
    terminating.metadata = { ...terminating.metadata, deletionTimestamp: new Date(NOW) };
    const p = progress(j, [terminating, wrong]);
    expect(p.stop.map((s) => s.metadata?.name)).toEqual(['g-r0-1']);
    expect(p.create).toEqual([]); // both names still exist: recreated once they are gone
  });
});

describe('conditions and state', () => {
  it('Running once every replica runs and is ready; Starting before', () => {
    const j = job('g', {}, admitted(['a', 'b']));
    const starting = progress(j, [pod('g', 0, 0, 'a'), pod('g', 0, 1, 'b', 'Pending')]);
    expect(starting.status.conditions[0]).toMatchObject({
      type: 'Running',
      status: 'False',
      reason: 'Starting',
    });
    expect(starting.status.readyReplicas).toBe(1);
    const up = progress(j, [pod('g', 0, 0, 'a'), pod('g', 0, 1, 'b')]);
    expect(up.status.conditions[0]).toMatchObject({
      type: 'Running',
      status: 'True',
      reason: 'AllReplicasRunning',
    });
    expect(up.status).toMatchObject({
      state: 'Running',
      readyReplicas: 2,
      startTime: iso(NOW),
      lastAccrualTime: iso(NOW),
    });
    expect(up.events.map((e) => e.reason)).toEqual(['Running']);
    expect(up.requeueAfterMs).toBe(60_000);
  });

  it('Succeeded when every replica of the run exits 0; Failed when one fails; both are final', () => {
    const j = job('g', { backoffLimit: 0 }, running(['a', 'b'], NOW - 60_000));
    const done = progress(j, [pod('g', 0, 0, 'a', 'Succeeded'), pod('g', 0, 1, 'b', 'Succeeded')]);
    expect(done.status.conditions[1]).toMatchObject({ type: 'Succeeded', status: 'True' });
    expect(done.status).toMatchObject({ state: 'Succeeded', endTime: iso(NOW) });
    expect(done.status.conditions[0]).toMatchObject({ status: 'False', reason: 'Completed' });

    const failed = progress(j, [pod('g', 0, 0, 'a', 'Failed'), pod('g', 0, 1, 'b')]);
    expect(failed.status.conditions[2]).toMatchObject({
      type: 'Failed',
      status: 'True',
      reason: 'PodFailed',
    });
    expect(failed.status.state).toBe('Failed');
    expect(failed.stop.map((p) => p.metadata?.name)).toEqual(['g-r0-1']);
  });

  it.each<[[string, 'True' | 'False'][], boolean, string]>([
    [[['Queued', 'True']], false, 'Queued'],
    [
      [
        ['Queued', 'False'],
        ['Admitted', 'True'],
      ],
      false,
      'Admitted',
    ],
    [
      [
        ['Admitted', 'True'],
        ['Running', 'True'],
      ],
      false,
      'Running',
    ],
    [
      [
        ['Queued', 'True'],
        ['Preempted', 'True'],
      ],
      false,
      'Preempted',
    ],
    [
      [
        ['Admitted', 'True'],
        ['Preempted', 'True'],
        ['Running', 'True'],
      ],
      false,
      'Running',
    ],
    [[['Succeeded', 'True']], true, 'Succeeded'],
    [[['Queued', 'True']], true, 'Suspended'],
  ])('state of %j (suspended %s) is %s', (conds, suspend, state) => {
    const cs = conds.map(([t, s]) => condition(t, s));
    expect(stateOf(job('g', { suspend }), cs)).toBe(state);
  });
});

describe('accrual', () => {
  it('GPU-hours and earnings for the time run at the bid in force, every minute and at the end', () => {
    const j = job('g', { bidUsdPerGpuHour: '1.50' }, running(['a', 'b'], NOW - 90_000));
    const pods = [pod('g', 0, 0, 'a'), pod('g', 0, 1, 'b')];
    const p = progress(j, pods);
    // 16 GPUs × 90 s = 0.4 GPU-hours, × 1.50 = 0.60 USD.
    expect(p.status).toMatchObject({ gpuHours: '0.4', earnedUsd: '0.6', lastAccrualTime: iso(NOW) });
    // Within the minute: nothing to write.
    const later = job(
      'g',
      { bidUsdPerGpuHour: '1.50' },
      running(['a', 'b'], NOW - 90_000, { gpuHours: '0.4', earnedUsd: '0.6', lastAccrualTime: iso(NOW) }),
    );
    const soon = progress(later, pods, true, NOW + 30_000);
    expect(soon.status).toMatchObject({ gpuHours: '0.4', earnedUsd: '0.6', lastAccrualTime: iso(NOW) });
    // A run ending accrues up to its end, whatever the minute.
    const ended = progress(
      later,
      [pod('g', 0, 0, 'a', 'Succeeded'), pod('g', 0, 1, 'b', 'Succeeded')],
      true,
      NOW + 9_000,
    );
    expect(ended.status).toMatchObject({
      gpuHours: '0.44',
      earnedUsd: '0.66',
      lastAccrualTime: iso(NOW + 9_000),
    });
  });

  it('maxRuntimeSeconds fails the job with DeadlineExceeded and stops its pods', () => {
    const j = job('g', { maxRuntimeSeconds: 60 }, running(['a', 'b'], NOW - 61_000));
    const p = progress(j, [pod('g', 0, 0, 'a'), pod('g', 0, 1, 'b')]);
    expect(p.status.conditions[2]).toMatchObject({
      type: 'Failed',
      status: 'True',
      reason: 'DeadlineExceeded',
    });
    expect(p.stop).toHaveLength(2);
  });

  it('an unchanged status is not written again', () => {
    const j = job('g', {}, admitted(['a', 'b']));
    const first = progress(j, []).status;
    expect(progressUpToDate(j, first)).toBe(false);
    const withStatus = job(
      'g',
      {},
      {
        ...admitted(['a', 'b']),
        ...first,
        conditions: [
          ...admitted(['a', 'b']).conditions,
          ...first.conditions.map((c) => ({ ...c, lastTransitionTime: iso(NOW) })),
        ],
      },
    );
    expect(progressUpToDate(withStatus, progress(withStatus, []).status)).toBe(true);
  });
});

describe('a gang that does not start', () => {
  it('a new run after a rolled-back start: new pod names', () => {
    const j = job('g', {}, admitted(['a', 'b'], { preemptions: 1, startFailures: 2 }));
    expect(progress(j, []).create.map((c) => c.name)).toEqual(['g-r3-0', 'g-r3-1']);
  });

  it('says at once why a replica does not start, in the scheduler’s or the kubelet’s words, with one Warning', () => {
    const j = job('g', {}, admitted(['a', 'b']));
    const stuck = pod('g', 0, 1, 'b', 'Pending');
    stuck.status = {
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message: '0/3 nodes are available: 1 node(s) were unschedulable.',
        },
      ],
    };
    const p = progress(j, [pod('g', 0, 0, 'a'), stuck]);
    const running = p.status.conditions.find((c) => c.type === 'Running');
    expect(running).toMatchObject({
      status: 'False',
      reason: 'Unschedulable',
      message: 'replica 1 (pod g-r0-1 on b): 0/3 nodes are available: 1 node(s) were unschedulable.',
    });
    expect(p.events).toContainEqual({
      type: 'Warning',
      reason: 'ReplicaNotStarting',
      note: running?.message,
    });
    // Said once: the same problem again is no new Event.
    const again = job(
      'g',
      {},
      { ...admitted(['a', 'b']), conditions: [condition('Admitted', 'True'), running] },
    );
    expect(
      progress(again, [pod('g', 0, 0, 'a'), stuck]).events.filter((e) => e.reason === 'ReplicaNotStarting'),
    ).toEqual([]);

    const pull = pod('g', 0, 1, 'b', 'Pending');
    pull.status = {
      phase: 'Pending',
      containerStatuses: [
        {
          name: 'train',
          image: 'x',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' } },
        },
      ],
    };
    expect(progress(j, [pull]).status.conditions.find((c) => c.type === 'Running')).toMatchObject({
      reason: 'ImagePullBackOff',
      message: 'replica 1 (pod g-r0-1 on b): container train: Back-off pulling image "x"',
    });
  });
});

describe('failure policy and billing from the pods’ own times', () => {
  const finished = (p: V1Pod, atMs: number): V1Pod => ({
    ...p,
    status: {
      ...p.status,
      containerStatuses: [
        {
          name: 'trainer',
          image: 'train:1',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, finishedAt: new Date(atMs) } },
        },
      ],
    },
  });

  it('a failed replica restarts the whole gang (new run, counted) until backoffLimit, then Failed', () => {
    const j = job('g', { backoffLimit: 2 }, running(['a', 'b'], NOW - 60_000));
    const p = progress(j, [pod('g', 0, 0, 'a', 'Failed'), pod('g', 0, 1, 'b')]);
    expect(p.status.restarts).toBe(1);
    expect(p.status.conditions.find((c) => c.type === 'Failed')?.status).toBe('False');
    expect(p.stop.map((s) => s.metadata?.name)).toEqual(['g-r0-1']);
    expect(p.create).toEqual([]);
    expect(p.events).toContainEqual(
      expect.objectContaining({
        type: 'Warning',
        reason: 'GangRestarted',
        note: expect.stringMatching(/restart 1 of at most 2/),
      }),
    );
    // Once the status says restart 1 and the old pods are gone: run 1, with the count in the pods' env.
    const next = job('g', { backoffLimit: 2 }, { ...admitted(['a', 'b']), restarts: 1 });
    expect(progress(next, []).create.map((c) => c.name)).toEqual(['g-r1-0', 'g-r1-1']);
    // At the limit: Failed, naming the pod and the restarts.
    const last = job('g', { backoffLimit: 2 }, running(['a', 'b'], NOW - 60_000, { restarts: 2 }));
    const f = progress(last, [pod('g', 2, 0, 'a'), pod('g', 2, 1, 'b', 'Failed')]);
    expect(f.status.conditions.find((c) => c.type === 'Failed')).toMatchObject({
      status: 'True',
      reason: 'BackoffLimitExceeded',
      message: expect.stringMatching(
        /pod g-r2-1 on b failed: .*already restarted 2 times \(backoffLimit 2\)/,
      ),
    });
  });

  it('a replica deleted under a running gang restarts the gang instead of being recreated under its name', () => {
    const j = job('g', {}, running(['a', 'b'], NOW - 60_000));
    const p = progress(j, [pod('g', 0, 0, 'a')]);
    expect(p.create).toEqual([]);
    expect(p.status.restarts).toBe(1);
    expect(p.events.find((e) => e.reason === 'GangRestarted')?.note).toMatch(
      /replica 1 \(pod g-r0-1\) was lost/,
    );
  });

  it('bills a gang that ended while the operator was away until its pods finished, not until now', () => {
    const start = NOW - 3 * 3_600_000;
    const j = job('g', { replicas: 1, gpusPerReplica: 8, bidUsdPerGpuHour: '1.00' }, running(['a'], start));
    // It finished one hour after it started; the operator sees it two hours later.
    const done = progress(j, [finished(pod('g', 0, 0, 'a', 'Succeeded'), start + 3_600_000)]);
    expect(done.status).toMatchObject({ gpuHours: '8', earnedUsd: '8', endTime: iso(start + 3_600_000) });
  });
});

describe('billing a running job that is deleted', () => {
  const deleted = (status: Record<string, unknown>, deletedMs: number) =>
    job('g', {}, status, { deletionTimestamp: iso(deletedMs) });
  const runPod = (phase: string, finishedMs?: number): V1Pod => {
    const p = pod('g', 0, 0, 'a', phase);
    p.metadata = { ...p.metadata, labels: { ...p.metadata?.labels, 'rigshift.io/run': '0' } };
    if (finishedMs !== undefined)
      p.status = {
        ...p.status,
        containerStatuses: [
          {
            name: 'trainer',
            image: 'train:1',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 0, finishedAt: new Date(finishedMs) } },
          },
        ],
      };
    return p;
  };

  it('accrues from the last accrual to the deletion, once', () => {
    // 2 × 8 GPUs, accrued until 30 s ago, deleted 15 s ago: 16 GPUs × 15 s at 1.00.
    const j = deleted(running(['a', 'b'], NOW - 30_000, { gpuHours: '1', earnedUsd: '1' }), NOW - 15_000);
    const last = accrualAtDeletion(j, [runPod('Running')], NOW);
    expect(last).toEqual({
      gpuHours: '1.066666667',
      earnedUsd: '1.066667',
      lastAccrualTime: iso(NOW - 15_000),
    });
    const again = deleted({ ...j.status, ...last }, NOW - 15_000);
    expect(accrualAtDeletion(again, [runPod('Running')], NOW + 60_000)).toBeUndefined();
  });

  it("stops at the pods' own end when they had all finished, and bills nothing for a job not running", () => {
    const j = deleted(running(['a'], NOW - 60_000), NOW);
    expect(accrualAtDeletion(j, [runPod('Succeeded', NOW - 51_000)], NOW)?.gpuHours).toBe('0.04'); // 16 GPUs × 9 s
    expect(accrualAtDeletion(deleted(admitted(['a']), NOW), [], NOW)).toBeUndefined();
  });
});
