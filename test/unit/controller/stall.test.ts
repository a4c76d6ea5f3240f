// Stalled drains, pure parts: the causes in kubectl-user words, the annotation's round trip and bound, backoff.
import { describe, expect, it } from '@jest/globals';
import type { V1Node } from '@kubernetes/client-node';
import {
  formatStalled,
  nextDrainLook,
  parseStalled,
  terminatingCause,
} from '../../../src/controller/stall.js';
import { NOW, minerPod } from './operator-fixtures.js';

const node = (ready: boolean): V1Node => ({
  status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'Unknown' }] },
});

describe('stalled drains', () => {
  it('names why a Terminating miner is still there', () => {
    const held = minerPod('m', 'a', 8, {
      deletionTimestamp: new Date(NOW - 1000),
      finalizers: ['a/x', 'b/y'],
    });
    expect(terminatingCause(held, node(true), NOW)).toBe('Terminating, held by finalizers a/x, b/y');
    const silent = minerPod('m', 'a', 8, { deletionTimestamp: new Date(NOW - 1000) });
    expect(terminatingCause(silent, node(false), NOW)).toBe(
      'Terminating on a node that is not Ready: nothing confirms the miner stopped',
    );
    expect(terminatingCause(silent, node(true), NOW)).toBe(
      'Terminating past its grace period: the node has not confirmed it stopped',
    );
    expect(terminatingCause(silent, node(true), NOW - 2000)).toBe('Terminating, within its grace period');
  });

  it('the annotation: sorted by pod, read back as written, bounded', () => {
    const text = formatStalled(
      new Map([
        ['farm/b', 'two; causes'],
        ['farm/a', 'one'],
      ]),
    );
    expect(text).toBe('farm/a: one; farm/b: two, causes');
    expect([...parseStalled(text)]).toEqual([
      ['farm/a', 'one'],
      ['farm/b', 'two, causes'],
    ]);
    expect(formatStalled(new Map([['farm/a', 'x'.repeat(5000)]])).length).toBe(1024);
    expect(parseStalled(undefined).size).toBe(0);
  });

  it('looks again with backoff, never past a deadline', () => {
    expect(nextDrainLook(0, 60_000, false)).toBe(1000);
    expect(nextDrainLook(40_000, 60_000, false)).toBe(10_000);
    expect(nextDrainLook(58_000, 60_000, false)).toBe(2000);
    expect(nextDrainLook(100_000, 60_000, true)).toBe(20_000);
    expect(nextDrainLook(115_000, 60_000, true)).toBe(5000);
    expect(nextDrainLook(3_600_000, 60_000, true)).toBe(30_000);
  });
});
