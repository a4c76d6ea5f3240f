import { describe, expect, it } from '@jest/globals';
import { prepareStatus } from '../../../src/kube/apply.js';
import {
  deepEqual,
  mergeConditions,
  rfc3339,
  statusEqual,
  type Condition,
} from '../../../src/kube/status.js';

const t0 = '2025-01-01T00:00:00Z';
const now = new Date('2025-01-01T01:00:00Z');

describe('mergeConditions', () => {
  const existing: Condition[] = [
    { type: 'Ready', status: 'True', reason: 'Running', lastTransitionTime: t0 },
    { type: 'Degraded', status: 'False', reason: 'Fine', lastTransitionTime: t0 },
  ];

  it.each([
    ['keeps the time when status is unchanged, even if reason changes', 'Ready', 'True', 'Other', t0],
    ['sets now when status flips', 'Ready', 'False', 'Stopped', '2025-01-01T01:00:00Z'],
    ['sets now for a new condition type', 'Admitted', 'True', 'Bid', '2025-01-01T01:00:00Z'],
  ])('%s', (_name, type, status, reason, expected) => {
    const [c] = mergeConditions(existing, [{ type, status, reason }], now);
    expect(c?.lastTransitionTime).toBe(expected);
  });

  it('drops conditions no longer desired and keeps the desired order', () => {
    const out = mergeConditions(existing, [{ type: 'Degraded', status: 'False' }], now);
    expect(out.map((c) => c.type)).toEqual(['Degraded']);
  });
});

describe('statusEqual', () => {
  const base = {
    phase: 'Running',
    nodes: ['n1', 'n2'],
    earnings: { usd: '1.25' },
    conditions: [
      { type: 'Ready', status: 'True', reason: 'Running', lastTransitionTime: t0 },
      { type: 'Admitted', status: 'True', reason: 'BidAboveYield', lastTransitionTime: t0 },
    ],
  };

  it.each<[string, unknown, boolean]>([
    ['identical', structuredClone(base), true],
    [
      'only lastTransitionTime differs',
      {
        ...base,
        conditions: base.conditions.map((c) => ({ ...c, lastTransitionTime: '2030-01-01T00:00:00Z' })),
      },
      true,
    ],
    ['conditions in another order', { ...base, conditions: [...base.conditions].reverse() }, true],
    ['an undefined property counts as absent', { ...base, message: undefined }, true],
    [
      'a condition status differs',
      { ...base, conditions: [{ ...base.conditions[0], status: 'False' }, base.conditions[1]] },
      false,
    ],
    [
      'a condition message differs',
      { ...base, conditions: [{ ...base.conditions[0], message: 'x' }, base.conditions[1]] },
      false,
    ],
    ['a nested value differs', { ...base, earnings: { usd: '1.26' } }, false],
    ['array order matters outside conditions', { ...base, nodes: ['n2', 'n1'] }, false],
    ['an extra field', { ...base, observedGeneration: 2 }, false],
    ['a missing condition', { ...base, conditions: [base.conditions[0]] }, false],
  ])('%s → %s', (_name, other, equal) => {
    expect(statusEqual(base, other)).toBe(equal);
    expect(statusEqual(other, base)).toBe(equal);
  });

  it('an unchanged reconcile produces an equal status after preparing it', () => {
    const desired: { conditions: Condition[] } = {
      ...base,
      conditions: base.conditions.map(({ lastTransitionTime: _t, ...c }) => c),
    };
    const prepared = prepareStatus(base, desired, now);
    expect(prepared.conditions?.every((c) => c.lastTransitionTime === t0)).toBe(true);
    expect(deepEqual(prepared, base)).toBe(true);
  });

  it('a changed condition gets the new transition time', () => {
    const desired: { conditions: Condition[] } = {
      ...base,
      conditions: [{ type: 'Ready', status: 'False', reason: 'Preempted' }],
    };
    const prepared = prepareStatus(base, desired, now);
    expect(prepared.conditions?.[0]?.lastTransitionTime).toBe(rfc3339(now));
    expect(statusEqual(base, prepared)).toBe(false);
  });
});

describe('deepEqual', () => {
  it.each<[unknown, unknown, boolean]>([
    [1, 1, true],
    ['1', 1, false],
    [null, null, true],
    [null, {}, false],
    [[], {}, false],
    [{ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }, true],
    [{ a: 1 }, { b: 1 }, false],
  ])('%j vs %j → %s', (a, b, eq) => expect(deepEqual(a, b)).toBe(eq));
});
