// `kubectl rigshift` (bin/kubectl-rigshift.js) against a farm the operator runs: status, queue, quote (checked by
// submitting a job at the quoted bid), why node/tj, suspend and resume; table and -o json output.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Manager } from '../../../src/controller/manager.js';
import { projectRoot } from '../../../src/local/paths.js';
import { run } from '../../support/cluster.js';
import {
  conditionOf,
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

async function ctl(...args: string[]): Promise<string> {
  const r = await run(
    process.execPath,
    [
      join(projectRoot(), 'bin', 'kubectl-rigshift.js'),
      ...args,
      '--kubeconfig',
      w.c.kubeconfigPath,
      '-n',
      w.ns,
      '-l',
      `rigshift.io/test=${w.ns}`,
      '--pool-namespace',
      w.ns,
      '--watch-namespace',
      w.ns,
      '--policy-file',
      w.policyFile,
    ],
    { ...process.env },
  );
  if (r.code !== 0) throw new Error(`kubectl-rigshift ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
const json = async <T>(...args: string[]): Promise<T> => JSON.parse(await ctl(...args, '-o', 'json')) as T;
const job = (name: string) => w.get<Job>('TrainingJob', name);

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-ctl', nodes: 3 });
  op = await startOperator(w);
  await waitAllMining(w);
  await w.apply(
    jobManifest(w.ns, 'rich', { replicas: 1, bidUsdPerGpuHour: '5.00' }),
    jobManifest(w.ns, 'cheap', { replicas: 2, bidUsdPerGpuHour: '0.01' }),
  );
  await waitFor(
    'rich Running',
    async () => conditionOf(await job('rich'), 'Running')?.status === 'True',
    90_000,
  );
  await waitFor(
    'cheap waiting with a reason',
    async () => (await job('cheap'))?.status?.waitingReason,
    60_000,
  );
}, 240_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

describe('kubectl rigshift', () => {
  it('status: nodes by mode and product, yields, pending jobs with their reasons, the earning rate', async () => {
    const s = await json<{
      nodes: { mode: string; nodes: number }[];
      yields: { known: boolean; usdPerGpuHour: number }[];
      pending: { job: string; reason: string }[];
      rate: { trainingUsdPerHour: number; alwaysMineUsdPerHour: number };
    }>('status');
    expect(s.nodes.find((r) => r.mode === 'training')?.nodes).toBe(1);
    expect(s.nodes.find((r) => r.mode === 'mining')?.nodes).toBe(2);
    expect(s.yields[0]).toMatchObject({ known: true, usdPerGpuHour: 0.085 });
    expect(s.pending).toEqual([
      expect.objectContaining({
        job: `${w.ns}/cheap`,
        reason: expect.stringMatching(/does not beat mining yield/),
      }),
    ]);
    expect(s.rate.trainingUsdPerHour).toBeCloseTo(40, 6);
    expect(s.rate.alwaysMineUsdPerHour).toBeCloseTo(0.085 * 24, 6);
    const table = await ctl('status');
    expect(table).toMatch(/PRODUCT\s+MODE\s+NODES\s+GPUS/);
    expect(table).toMatch(/PENDING\s+GPUS\s+BID\s+REASON/);
  });

  it('queue: pending jobs in the planner’s order, each with why it waits', async () => {
    const q = await json<{ position: number; job: string; waiting: string }[]>('queue');
    expect(q).toEqual([
      expect.objectContaining({ position: 1, job: `${w.ns}/cheap`, waiting: 'BidBelowYield' }),
    ]);
  });

  it('why node/NAME and tj/NAME give the planner’s reason', async () => {
    const rich = await job('rich');
    const node = rich?.status?.assignedNodes?.[0] ?? '';
    const n = await json<{ lines: [string, string][] }>('why', `node/${node}`);
    expect(Object.fromEntries(n.lines)).toMatchObject({ mode: 'training', jobs: `${w.ns}/rich` });
    expect(Object.fromEntries(n.lines).reason).toMatch(new RegExp(`training: ${w.ns}/rich`));
    const t = await ctl('why', 'tj/cheap');
    expect(t).toMatch(/waiting\s+.*does not beat mining yield/);
  });

  it('quote: a job submitted at the quoted bid is placed; one a cent below is not', async () => {
    const q = await json<{ bidUsdPerGpuHour: number | null }>('quote', '--gpus', '8');
    expect(q.bidUsdPerGpuHour).not.toBeNull();
    const bid = q.bidUsdPerGpuHour ?? 0;
    expect(bid).toBeGreaterThan(0.085);
    await w.apply(
      jobManifest(w.ns, 'at-quote', { replicas: 1, bidUsdPerGpuHour: bid.toFixed(2) }),
      jobManifest(w.ns, 'below-quote', { replicas: 1, bidUsdPerGpuHour: (bid - 0.01).toFixed(2) }),
    );
    await waitFor(
      'at-quote admitted',
      async () => conditionOf(await job('at-quote'), 'Admitted')?.status === 'True',
      60_000,
    );
    const below = await waitFor('below-quote planned', async () => {
      const j = await job('below-quote');
      return conditionOf(j, 'Queued')?.status === 'True' ? j : undefined;
    });
    expect(conditionOf(below, 'Admitted')?.status).toBe('False');
    await w.c.kubectl(['delete', 'trainingjob', 'at-quote', 'below-quote', '-n', w.ns, '--wait=false']);
  });

  it('suspend and resume tj/NAME', async () => {
    expect(await ctl('suspend', 'tj/cheap')).toMatch(/suspended/);
    await waitFor('cheap Suspended', async () => (await job('cheap'))?.status?.state === 'Suspended', 30_000);
    expect(await ctl('resume', 'tj/cheap')).toMatch(/resumed/);
    await waitFor('cheap queued again', async () => (await job('cheap'))?.status?.state === 'Queued', 30_000);
  });
});
