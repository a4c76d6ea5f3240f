// The chaos run's invariants: each rule fires on a farm that breaks it, and none on a farm at rest.
import { describe, expect, it } from '@jest/globals';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { checkInvariants, UsageTracker, type ChaosJob } from '../../../src/chaos/invariants.js';
import { planFaults, rng, nextJob } from '../../../src/chaos/schedule.js';

const MODE = 'rigshift.io/mode';
const TAINT = 'rigshift.io/reserved';

function node(name: string, mode: string, tainted = mode === 'training' || mode === 'draining'): V1Node {
  return {
    metadata: {
      name,
      labels: { [MODE]: mode },
      annotations: mode === 'draining' ? { 'rigshift.io/draining-to': 'training' } : {},
    },
    spec: tainted ? { taints: [{ key: TAINT, value: 'training', effect: 'NoSchedule' }] } : {},
    status: { allocatable: { 'nvidia.com/gpu': '8' } },
  };
}

function pod(name: string, nodeName: string, gpus: number, role: 'miner' | 'trainer'): V1Pod {
  const labels: Record<string, string> = { 'app.kubernetes.io/managed-by': 'rigshift' };
  if (role === 'miner') labels['rigshift.io/miningpool'] = 'etc';
  else labels['rigshift.io/trainingjob'] = 'j';
  return {
    metadata: { name, namespace: 'ns', labels },
    spec: {
      nodeName,
      containers: [{ name: 'c', resources: { requests: { 'nvidia.com/gpu': String(gpus) } } }],
    },
    status: { phase: 'Running' },
  };
}

function job(name: string, assigned: string[], conditions: [string, string, string?][], gpus = 8): ChaosJob {
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}` },
    spec: { replicas: assigned.length || 1, gpusPerReplica: gpus },
    status: {
      assignedNodes: assigned,
      conditions: conditions.map(([type, status, message]) => ({ type, status, message: message ?? '' })),
    },
  };
}

const NOW = Date.parse('2026-01-01T12:00:00Z');
const check = (nodes: V1Node[], pods: V1Pod[], jobs: ChaosJob[], atRest = true) =>
  checkInvariants({
    nodes,
    pods,
    jobs,
    modeLabelKey: MODE,
    taintKey: TAINT,
    nowMs: NOW,
    startTimeoutSeconds: 30,
    atRest,
  }).map((v) => v.rule);

describe('chaos invariants', () => {
  it('a farm at rest breaks none', () => {
    const nodes = [node('a', 'mining'), node('b', 'training'), node('c', 'idle')];
    const pods = [pod('m', 'a', 8, 'miner'), pod('t', 'b', 8, 'trainer')];
    const jobs = [
      job('run', ['b'], [['Running', 'True']]),
      job('wait', [], [['Queued', 'True', 'bid below yield']]),
      job('done', [], [['Succeeded', 'True']]),
    ];
    expect(check(nodes, pods, jobs)).toEqual([]);
  });

  it.each([
    ['mode-label', [node('a', 'weird')], [], []],
    ['taint', [node('a', 'mining', true)], [], []],
    ['taint', [node('a', 'training', false)], [], [job('j', ['a'], [['Running', 'True']])]],
    ['training-pod-placement', [node('a', 'mining')], [pod('t', 'a', 4, 'trainer')], []],
    ['gpu-overbooked', [node('a', 'mining')], [pod('m', 'a', 8, 'miner'), pod('m2', 'a', 2, 'miner')], []],
    [
      'double-booked',
      [node('a', 'training')],
      [],
      [job('x', ['a'], [['Running', 'True']]), job('y', ['a'], [['Admitted', 'True']], 4)],
    ],
    [
      'miner-on-job-gpus',
      [node('a', 'training')],
      [pod('m', 'a', 4, 'miner')],
      [job('x', ['a'], [['Running', 'True']], 6)],
    ],
    ['tainted-without-job', [node('a', 'training')], [], []],
    ['job-state', [], [], [job('j', [], [['Queued', 'True', '']])]],
    ['job-state', [], [], [job('j', [], [['Failed', 'True', '']])]],
    ['job-state', [], [], [job('j', [], [])]],
  ] as [string, V1Node[], V1Pod[], ChaosJob[]][])('%s fires', (rule, nodes, pods, jobs) => {
    expect(check(nodes, pods, jobs)).toContain(rule);
  });

  it('an admitted gang is starting within its start timeout, stuck past it; only at rest', () => {
    const admitted = (agoMs: number): ChaosJob => {
      const j = job('g', ['a'], [['Admitted', 'True']]);
      (j.status?.conditions ?? [])[0]!.lastTransitionTime = new Date(NOW - agoMs).toISOString();
      return j;
    };
    const nodes = [node('a', 'training')];
    expect(check(nodes, [], [admitted(20_000)])).toEqual([]);
    expect(check(nodes, [], [admitted(60_000)])).toEqual(['job-state']);
    // While jobs come and go, a starting gang and a node whose job just ended are not violations.
    expect(check(nodes, [], [admitted(60_000)], false)).toEqual([]);
    expect(check([node('b', 'training')], [], [], false)).toEqual([]);
    expect(check([node('b', 'mining', true)], [], [], false)).toEqual(['taint']);
  });

  it('usage that goes backwards is a violation that stays; a job created again under its name is not', () => {
    const t = new UsageTracker();
    const at = (gpuHours: string, uid = 'u1'): ChaosJob => ({
      ...job('j', [], [['Running', 'True']]),
      metadata: { name: 'j', namespace: 'ns', uid },
      status: { gpuHours, earnedUsd: gpuHours },
    });
    t.observe([at('2')]);
    t.observe([at('3')]);
    expect(t.violations).toEqual([]);
    t.observe([at('1', 'u2')]);
    expect(t.violations).toEqual([]);
    t.observe([at('0.5', 'u2')]);
    expect(t.violations.map((v) => v.rule)).toEqual(['usage-backwards']);
  });
});

describe('chaos schedule', () => {
  it('the same seed gives the same plan and jobs; the plan has every fault asked for', () => {
    const a = planFaults(rng(7), 600, 50);
    expect(planFaults(rng(7), 600, 50)).toEqual(a);
    expect(a.filter((f) => f.kind === 'kill')).toHaveLength(50);
    expect(a.filter((f) => f.kind === 'apiserver-restart')).toHaveLength(2);
    expect(a.filter((f) => f.kind === 'freeze')).toHaveLength(1);
    expect(a.every((f, i) => i === 0 || (a[i - 1]?.at ?? 0) <= f.at)).toBe(true);
    expect(a.every((f) => f.at >= 0 && f.at <= 600)).toBe(true);
    const r1 = rng(3);
    const r2 = rng(3);
    expect(nextJob(r1, 0, { farm: 'a', limited: 'q' })).toEqual(nextJob(r2, 0, { farm: 'a', limited: 'q' }));
  });
});
