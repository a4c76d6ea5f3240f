// The planner's part of a TrainingJob's status: what each outcome of a plan writes, and which Event it is worth.
import { describe, expect, it } from '@jest/globals';
import {
  admissionEvent,
  admissionStatus,
  admissionUpToDate,
  type JobOutcome,
} from '../../../src/controller/admission.js';
import { jobOutcomes } from '../../../src/controller/fleet.js';
import { buildSnapshot } from '../../../src/controller/snapshot.js';
import { plan } from '../../../src/planner/index.js';
import { NOW, condition, job, modeNode, policy, pool } from './operator-fixtures.js';

const placed = (nodes: { node: string; gpus: number }[], isNew = true): JobOutcome => ({
  kind: 'placed',
  placement: { job: 'ml/j', nodes, isNew, reason: 'placed on a, b' },
});

describe('admissionStatus', () => {
  it('a new placement admits the job on one node per replica, in replica order', () => {
    const s = admissionStatus(
      job('j', { replicas: 3, gpusPerReplica: 4 }),
      'pending',
      placed([
        { node: 'a', gpus: 8 },
        { node: 'b', gpus: 4 },
      ]),
    );
    expect(s.assignedNodes).toEqual(['a', 'a', 'b']);
    expect(s.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Queued', 'False', 'Admitted'],
      ['Admitted', 'True', 'Placed'],
      ['Preempted', 'False', 'NotPreempted'],
    ]);
    expect(s.waitingReason).toBeUndefined();
  });

  it('a kept placement keeps the replica order and the message it was admitted with', () => {
    const admitted = {
      ...condition('Admitted', 'True'),
      reason: 'Placed',
      message: 'placed on b, a: bid beats yield',
    };
    const j = job(
      'j',
      {},
      { assignedNodes: ['b', 'a'], conditions: [admitted, condition('Running', 'True')] },
    );
    const s = admissionStatus(
      j,
      'running',
      placed(
        [
          { node: 'a', gpus: 8 },
          { node: 'b', gpus: 8 },
        ],
        false,
      ),
    );
    expect(s.assignedNodes).toEqual(['b', 'a']);
    expect(s.conditions.find((c) => c.type === 'Admitted')?.message).toBe('placed on b, a: bid beats yield');
    // Never preempted: its Preempted condition stays as it was (no status write when it starts).
    expect(s.conditions.find((c) => c.type === 'Preempted')).toMatchObject({
      status: 'False',
      reason: 'NotPreempted',
    });
    // Preempted before: cleared once it runs again, and kept cleared.
    const again = job(
      'j',
      {},
      {
        assignedNodes: ['b', 'a'],
        conditions: [admitted, condition('Running', 'True'), condition('Preempted', 'True')],
      },
    );
    const placedAgain = placed(
      [
        { node: 'a', gpus: 8 },
        { node: 'b', gpus: 8 },
      ],
      false,
    );
    const cleared = admissionStatus(again, 'running', placedAgain);
    expect(cleared.conditions.find((c) => c.type === 'Preempted')).toMatchObject({
      status: 'False',
      reason: 'Running',
    });
    const after = job(
      'j',
      {},
      {
        assignedNodes: ['b', 'a'],
        conditions: [admitted, condition('Running', 'True'), condition('Preempted', 'False', NOW, 'Running')],
      },
    );
    expect(
      admissionStatus(after, 'running', placedAgain).conditions.find((c) => c.type === 'Preempted'),
    ).toMatchObject({ status: 'False', reason: 'Running' });
  });

  it('a wait queues the job with the planner’s code and reason', () => {
    const s = admissionStatus(job('j'), 'pending', {
      kind: 'waiting',
      refused: false,
      wait: { job: 'ml/j', code: 'BidBelowYield', reason: 'bid 0.05 does not beat 0.085' },
    });
    expect(s.conditions[0]).toMatchObject({
      type: 'Queued',
      status: 'True',
      reason: 'BidBelowYield',
      message: 'bid 0.05 does not beat 0.085',
    });
    expect(s.waitingReason).toBe('bid 0.05 does not beat 0.085');
    expect(s.assignedNodes).toBeUndefined();
  });

  it('a preemption clears the nodes, counts it, and stays Preempted while the job waits and is admitted again', () => {
    const j = job(
      'j',
      { tier: 'Interruptible' },
      { assignedNodes: ['a', 'b'], preemptions: 1, conditions: [condition('Running', 'True')] },
    );
    const s = admissionStatus(j, 'running', {
      kind: 'preempted',
      preemption: { job: 'ml/j', by: 'ml/rich', reason: 'outbid' },
    });
    expect(s).toMatchObject({ preemptions: 2, waitingReason: 'preempted: outbid' });
    expect(s.assignedNodes).toBeUndefined();
    expect(s.conditions.find((c) => c.type === 'Preempted')).toMatchObject({
      status: 'True',
      reason: 'Outbid',
    });

    const waiting = job(
      'j',
      {},
      {
        preemptions: 2,
        conditions: [{ ...condition('Preempted', 'True'), reason: 'Outbid', message: 'outbid' }],
      },
    );
    const again = admissionStatus(
      waiting,
      'pending',
      placed([
        { node: 'c', gpus: 8 },
        { node: 'd', gpus: 8 },
      ]),
    );
    expect(again.conditions.find((c) => c.type === 'Preempted')).toMatchObject({
      status: 'True',
      reason: 'Outbid',
    });
    expect(again.preemptions).toBe(2);
  });

  it.each<['ended' | 'suspended', string]>([
    ['ended', 'Ended'],
    ['suspended', 'Suspended'],
  ])('%s jobs hold no nodes', (kind, reason) => {
    const j = job('j', {}, { assignedNodes: ['a', 'b'] });
    const s = admissionStatus(j, kind === 'ended' ? 'ended' : 'suspended', { kind });
    expect(s.assignedNodes).toBeUndefined();
    expect(s.conditions.find((c) => c.type === 'Admitted')).toMatchObject({ status: 'False', reason });
  });
});

describe('admissionUpToDate and admissionEvent', () => {
  it('an unchanged status is not written again, whatever the job reconciler added', () => {
    const j0 = job('j');
    const desired = admissionStatus(
      j0,
      'pending',
      placed([
        { node: 'a', gpus: 8 },
        { node: 'b', gpus: 8 },
      ]),
    );
    expect(admissionUpToDate(j0, desired)).toBe(false);
    const conditions = [
      ...desired.conditions.map((c) => ({ ...c, lastTransitionTime: '2025-03-01T12:00:00Z' })),
      condition('Running', 'True'),
    ];
    const j1 = job('j', {}, { ...desired, conditions, readyReplicas: 2, state: 'Running' });
    expect(admissionUpToDate(j1, desired)).toBe(true);
    expect(admissionUpToDate(j1, { ...desired, assignedNodes: ['b', 'a'] })).toBe(false);
  });

  it.each<[string, JobOutcome, string | undefined]>([
    ['admission', placed([{ node: 'a', gpus: 16 }]), 'Admitted'],
    [
      'queueing',
      { kind: 'waiting', refused: false, wait: { job: 'ml/j', code: 'NoCapacity', reason: 'full' } },
      'Queued',
    ],
    ['preemption', { kind: 'preempted', preemption: { job: 'ml/j', reason: 'yield' } }, 'Preempted'],
    ['the end', { kind: 'ended' }, undefined],
  ])('%s is worth the Event %s', (_n, outcome, reason) => {
    const j = job(
      'j',
      { replicas: 1, gpusPerReplica: 16 },
      { assignedNodes: ['a'], conditions: [condition('Admitted', 'True'), condition('Running', 'True')] },
    );
    const fresh =
      outcome.kind === 'placed' || outcome.kind === 'waiting'
        ? job('j', { replicas: 1, gpusPerReplica: 16 })
        : j;
    expect(admissionEvent(fresh, admissionStatus(fresh, 'pending', outcome))?.reason).toBe(reason);
  });

  it('the same wait twice is one Event', () => {
    const wait: JobOutcome = {
      kind: 'waiting',
      refused: false,
      wait: { job: 'ml/j', code: 'NoCapacity', reason: 'full' },
    };
    const s = admissionStatus(job('j'), 'pending', wait);
    const after = job(
      'j',
      {},
      { ...s, conditions: s.conditions.map((c) => ({ ...c, lastTransitionTime: '2025-03-01T12:00:00Z' })) },
    );
    expect(admissionEvent(after, admissionStatus(after, 'pending', wait))).toBeUndefined();
  });
});

describe('jobOutcomes', () => {
  it('maps every job of a plan: placed, waiting, ended', () => {
    const nodes = ['a', 'b'].map((n) => modeNode(n, 'mining'));
    const jobs = [
      job('big', { replicas: 1 }),
      job('cheap', { replicas: 1, bidUsdPerGpuHour: '0.01' }),
      job('done', {}, { conditions: [condition('Succeeded', 'True')] }),
    ];
    const view = buildSnapshot({
      nowMs: NOW,
      nodes,
      managedPods: [],
      foreignPods: [],
      jobs,
      pools: [pool()],
      policy: policy(),
    });
    const out = jobOutcomes(view, plan(view.snapshot));
    expect([...out].map(([k, o]) => [k, o.kind]).sort()).toEqual([
      ['ml/big', 'placed'],
      ['ml/cheap', 'waiting'],
      ['ml/done', 'ended'],
    ]);
  });
});
