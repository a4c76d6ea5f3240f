// Issue 13, item 2: usage that survives and can be billed. A job runs and is deleted: its GPU-hours and USD stay
// in its namespace's UsageRecord of the month, and in the usage metrics. The operator is SIGKILLed while a job
// runs and restarted: nothing is counted twice. A renter (edit in the namespace, impersonated) reads the
// record and cannot write or delete it.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { freePorts } from '../../../src/local/ports.js';
import { Decimal } from '../../../src/economics/decimal.js';
import { renderChart } from '../../support/chart-rbac.js';
import {
  completesAfter,
  conditionOf,
  createWorld,
  jobManifest,
  spawnOperator,
  waitAllMining,
  waitFor,
  type Job,
  type OperatorProcess,
  type World,
} from './harness.js';

interface Line {
  uid: string;
  name: string;
  gpuHours: string;
  earnedUsd: string;
  jobGpuHours: string;
  jobEarnedUsd: string;
}
interface Rec {
  metadata: { name: string; resourceVersion: string };
  spec: { month: string };
  status?: { gpuHours?: string; earnedUsd?: string; jobs?: Line[] };
}

let w: World;
let op: OperatorProcess | undefined;
let port: number;
let roles = '';
const finals = new Map<string, { uid: string; gpuHours: string; earnedUsd: string }>();

const job = (name: string) => w.get<Job>('TrainingJob', name);
const records = () => w.list<Rec>('UsageRecord');
async function lineOf(uid: string): Promise<{ rec: Rec; line: Line } | undefined> {
  for (const rec of await records()) {
    const line = rec.status?.jobs?.find((l) => l.uid === uid);
    if (line) return { rec, line };
  }
  return undefined;
}
const sum = (xs: string[]): string => xs.reduce((a, x) => a.plus(Decimal.parse(x)), Decimal.ZERO).toString();

function start(): OperatorProcess {
  op = spawnOperator(w, ['--metrics-address', `127.0.0.1:${port}`, '--metrics-auth', 'none']);
  return op;
}
async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}
const metric = (text: string, name: string, labels: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

/** Runs a one-replica job until kwok completes it, keeps its final status in `finals`, then deletes it. */
async function runAndDelete(name: string, seconds: number, killWhileRunning: boolean): Promise<void> {
  await w.apply(
    jobManifest(w.ns, name, {
      replicas: 1,
      checkpointGracePeriodSeconds: 1,
      podAnnotations: completesAfter(seconds),
    }),
  );
  await waitFor(`${name} running`, async () => (await job(name))?.status?.state === 'Running', 60_000);
  if (killWhileRunning) {
    op?.child.kill('SIGKILL');
    await op?.exited;
    // The gang finishes while no operator runs; the restarted one bills it until its pods' own end.
    await waitFor(
      `${name}'s pod to finish`,
      async () =>
        (await w.pods(`rigshift.io/trainingjob=${name}`)).some((p) => p.status?.phase === 'Succeeded'),
      30_000,
    );
    start();
  }
  await waitFor(
    `${name} succeeded with its usage`,
    async () => {
      const j = await job(name);
      return conditionOf(j, 'Succeeded')?.status === 'True' && Number(j?.status?.gpuHours ?? 0) > 0;
    },
    60_000,
  );
  const j = (await job(name))!;
  finals.set(name, {
    uid: j.metadata!.uid!,
    gpuHours: j.status!.gpuHours!,
    earnedUsd: j.status!.earnedUsd!,
  });
  await w.c.kubectl(['delete', 'trainingjob', name, '-n', w.ns, '--wait=false']);
  await waitFor(`${name} gone (its finalizer released)`, async () => (await job(name)) === undefined, 60_000);
}

beforeAll(async () => {
  [port] = (await freePorts(1)) as [number];
  w = await createWorld({ prefix: 'op-usage', nodes: 2 });
  start();
  await waitAllMining(w, 90_000);
}, 180_000);

afterAll(async () => {
  if (op) {
    op.child.kill('SIGKILL');
    await op.exited;
  }
  if (roles) await w.c.kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], { input: roles });
  await w?.cleanup();
}, 60_000);

it("a deleted job's usage stays in its namespace's UsageRecord and in the usage metrics", async () => {
  await runAndDelete('first', 3, false);
  const f = finals.get('first')!;
  const found = await lineOf(f.uid);
  expect(found?.line).toMatchObject({
    name: 'first',
    gpuHours: f.gpuHours,
    earnedUsd: f.earnedUsd,
    jobGpuHours: f.gpuHours,
    jobEarnedUsd: f.earnedUsd,
  });
  const rec = found!.rec;
  expect(rec.metadata.name).toBe(rec.spec.month);
  expect(rec.spec.month).toBe(new Date().toISOString().slice(0, 7));
  expect(rec.status).toMatchObject({ gpuHours: f.gpuHours, earnedUsd: f.earnedUsd });
  // 8 GPUs for a few seconds at the bid of 1.00 USD per GPU-hour.
  expect(Number(f.gpuHours)).toBeGreaterThan(0);
  expect(Number(f.earnedUsd)).toBeCloseTo(Number(f.gpuHours), 5);

  const labels = `job_namespace="${w.ns}"`;
  const text = await scrape();
  expect(metric(text, 'rigshift_usage_usd_total', labels)).toBeCloseTo(Number(f.earnedUsd), 9);
  expect(metric(text, 'rigshift_usage_gpu_seconds_total', labels)).toBeCloseTo(Number(f.gpuHours) * 3600, 6);
  expect(metric(text, 'rigshift_usage_month_usd', `${labels},month="${rec.spec.month}"`)).toBeCloseTo(
    Number(f.earnedUsd),
    9,
  );
}, 120_000);

it('a SIGKILL while a job runs, and restarts: nothing is counted twice, the metrics resume where they were', async () => {
  await runAndDelete('second', 6, true);
  const [first, second] = [finals.get('first')!, finals.get('second')!];
  const recs = await records();
  expect(recs).toHaveLength(1);
  const rec = recs[0]!;
  // Each line holds exactly its job's own totals: one month, counted once.
  for (const l of rec.status?.jobs ?? []) {
    expect(l.gpuHours).toBe(l.jobGpuHours);
    expect(l.earnedUsd).toBe(l.jobEarnedUsd);
  }
  expect(rec.status?.jobs?.map((l) => [l.name, l.gpuHours])).toEqual([
    ['first', first.gpuHours],
    ['second', second.gpuHours],
  ]);
  expect(rec.status?.gpuHours).toBe(sum([first.gpuHours, second.gpuHours]));
  expect(rec.status?.earnedUsd).toBe(sum([first.earnedUsd, second.earnedUsd]));

  // Another restart (SIGTERM, as a rollout): the new process exports the same totals from the record, at once.
  op?.child.kill('SIGTERM');
  await op?.exited;
  start();
  const labels = `job_namespace="${w.ns}"`;
  let usd: number | undefined;
  await waitFor(
    'the restarted operator to export the usage',
    async () =>
      (usd = metric(await scrape().catch(() => ''), 'rigshift_usage_usd_total', labels)) !== undefined,
    60_000,
  );
  expect(usd).toBeCloseTo(Number(rec.status?.earnedUsd), 9);
  // A third job's deletion passes through the usage reconciler again: the first two lines do not move.
  await runAndDelete('third', 2, false);
  const after = (await records())[0]!;
  const third = finals.get('third')!;
  expect(after.status?.jobs?.slice(0, 2)).toEqual(rec.status?.jobs);
  expect(after.status?.earnedUsd).toBe(sum([first.earnedUsd, second.earnedUsd, third.earnedUsd]));
}, 180_000);

it('a renter (edit in the namespace) reads the UsageRecord and cannot write or delete it', async () => {
  const release = w.rbac.release;
  roles = await renderChart(w.c, release, w.ns, ['--show-only', 'templates/aggregate-roles.yaml']);
  await w.c.kubectl(['apply', '--server-side', '--field-manager=rigshift-usage-test', '-f', '-'], {
    input: roles,
  });
  const user = `renter-${w.ns}`;
  await w.c.kubectl([
    'create',
    'rolebinding',
    `${user}-edit`,
    '--clusterrole=edit',
    `--user=${user}`,
    '-n',
    w.ns,
  ]);
  const as = (args: string[], input?: string) =>
    w.c.kubectl([`--as=${user}`, '-n', w.ns, ...args], { allowFail: true, ...(input ? { input } : {}) });
  await waitFor(
    'edit to include reading UsageRecords',
    async () => (await as(['auth', 'can-i', 'list', 'usagerecords.rigshift.io'])).stdout.trim() === 'yes',
    30_000,
  );
  const month = (await records())[0]!.metadata.name;
  const read = await as(['get', 'usagerecords', '-o', 'json']);
  expect(read.code).toBe(0);
  const items = (JSON.parse(read.stdout) as { items: Rec[] }).items;
  expect(items[0]?.status?.jobs?.map((l) => l.name)).toEqual(['first', 'second', 'third']);

  const refused = [
    await as([
      'patch',
      'usagerecord',
      month,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"earnedUsd":"0"}}',
    ]),
    await as(['patch', 'usagerecord', month, '--type=merge', '-p', '{"metadata":{"labels":{"x":"y"}}}']),
    await as(['delete', 'usagerecord', month]),
    await as(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'rigshift.io/v1alpha1',
        kind: 'UsageRecord',
        metadata: { name: '2099-01', namespace: w.ns },
        spec: { month: '2099-01' },
      }),
    ),
  ];
  for (const r of refused) {
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/forbidden/i);
  }
  // Still there, unchanged.
  expect((await records())[0]?.status?.jobs).toHaveLength(3);
}, 60_000);

it('a running job deleted before its first accrual is billed up to its deletion', async () => {
  await w.apply(jobManifest(w.ns, 'cut', { replicas: 1, checkpointGracePeriodSeconds: 1 }));
  await waitFor('cut running', async () => (await job('cut'))?.status?.state === 'Running', 60_000);
  const j = (await job('cut'))!;
  // Accrued at least every minute while running: nothing yet.
  expect(j.status?.gpuHours).toBeUndefined();
  const startedMs = Date.parse(conditionOf(j, 'Running')!.lastTransitionTime);
  // Usage is billed in whole seconds: let it run two of them (time passing, not a synchronisation).
  await waitFor('two seconds of running', async () => Date.now() - startedMs >= 2000, 10_000);
  await w.c.kubectl(['delete', 'trainingjob', 'cut', '-n', w.ns, '--wait=false']);
  await waitFor('cut gone (its finalizer released)', async () => (await job('cut')) === undefined, 60_000);
  const found = await lineOf(j.metadata!.uid!);
  const hours = Number(found?.line.gpuHours);
  // 8 GPUs from its start to its deletion, a few seconds.
  expect(hours).toBeGreaterThan(0);
  expect(hours).toBeLessThanOrEqual((8 * (Date.now() - startedMs + 2000)) / 3_600_000);
  expect(Number(found?.line.earnedUsd)).toBeCloseTo(hours, 5);
}, 90_000);
