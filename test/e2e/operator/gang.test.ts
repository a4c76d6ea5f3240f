// Issue 9, items 0 and 1, on five RTX 3090 nodes with the drain limit as shipped ('10%': one drain at once):
// a gang larger than the drain limit is drained in waves and starts; a gang whose replicas the API server
// refuses is rolled back at its start deadline (pods deleted, node mining again), says why in the refusal's
// own words, backs off, and runs once the refusal is lifted; a node cordoned mid-switch requeues the gang.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { Manager } from '../../../src/controller/manager.js';
import {
  conditionOf,
  createWorld,
  isRunning,
  jobManifest,
  startOperator,
  waitAllMining,
  waitFor,
  type Job,
  type World,
} from './harness.js';

let w: World;
let op: Manager | undefined;

type GangJob = Job & { status?: Job['status'] & { startFailures?: number; retryAfterTime?: string } };
const job = (name: string) => w.get<GangJob>('TrainingJob', name);
const jobPods = async (name: string): Promise<V1Pod[]> => w.pods(`rigshift.io/trainingjob=${name}`);

beforeAll(async () => {
  w = await createWorld({
    prefix: 'op-gang',
    nodes: 5,
    policy: { maxConcurrentDrains: '10%', startBackoffSeconds: 3 },
  });
  op = await startOperator(w);
  await waitAllMining(w);
}, 180_000);

// A failed test must not leave its refusal to the next ones.
afterEach(async () => {
  await liftRefusal();
}, 60_000);

const REFUSAL = () => `${w.ns}-refuse-replica-1`;

/** A ValidatingAdmissionPolicy refusing replica 1 of job `stuck` in this world's namespace, once in force. */
async function refuseReplicaOne(): Promise<void> {
  const name = REFUSAL();
  const docs = [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] },
          ],
        },
        validations: [
          {
            expression:
              "!(has(object.metadata.labels) && 'rigshift.io/trainingjob' in object.metadata.labels && " +
              "object.metadata.labels['rigshift.io/trainingjob'] == 'stuck' && object.metadata.name.endsWith('-1'))",
            message: "replica 1 refused by the farm's policy",
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name },
      spec: {
        policyName: name,
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': w.ns } } },
      },
    },
  ];
  await w.c.kubectl(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], {
    input: docs.map((d) => yaml.dump(d)).join('---\n'),
  });
  // A policy takes effect a moment after it is written: probe with a server-side dry run until refused.
  const probe = yaml.dump({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'probe-1', namespace: w.ns, labels: { 'rigshift.io/trainingjob': 'stuck' } },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  });
  await waitFor('the refusal in force', async () => {
    const r = await w.c.kubectl(['create', '--dry-run=server', '-f', '-'], { input: probe, allowFail: true });
    return r.code !== 0 && /refused by the farm's policy/.test(r.stderr);
  });
}

async function liftRefusal(): Promise<void> {
  const name = REFUSAL();
  await w.c.kubectl(['delete', 'validatingadmissionpolicybinding', name, '--ignore-not-found']);
  await w.c.kubectl(['delete', 'validatingadmissionpolicy', name, '--ignore-not-found']);
}

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

async function deleteJob(name: string): Promise<void> {
  await w.c.kubectl(['delete', 'trainingjob', name, '-n', w.ns, '--wait=true', '--timeout=60s']);
  await waitAllMining(w);
}

describe('gangs and the drain limit', () => {
  it('a 3-node gang starts with one drain at once: drained in waves, never two draining together', async () => {
    await w.apply(
      jobManifest(w.ns, 'big', { replicas: 3, bidUsdPerGpuHour: '5.00', checkpointGracePeriodSeconds: 1 }),
    );
    let maxDraining = 0;
    const running = await waitFor(
      'the 3 × 8 gang Running',
      async () => {
        const modes = await w.modes();
        maxDraining = Math.max(maxDraining, Object.values(modes).filter((m) => m === 'draining').length);
        const j = await job('big');
        return conditionOf(j, 'Running')?.status === 'True' ? j : undefined;
      },
      120_000,
      100,
    );
    expect(maxDraining).toBeLessThanOrEqual(1);
    expect(running.status?.assignedNodes).toHaveLength(3);
    expect(conditionOf(running, 'Admitted')?.message).toMatch(/wait for a drain slot \(1 drain at once\)/);
    const pods = await jobPods('big');
    expect(pods.filter(isRunning)).toHaveLength(3);
    await deleteJob('big');
  }, 180_000);
});

describe('a gang that cannot start', () => {
  it('is rolled back at its start deadline with the refusal’s own words, backs off, and runs once allowed', async () => {
    // An admission policy of the farm refuses the gang's second replica (the planner cannot foresee it, as it
    // cannot foresee a webhook, a bad image or an unschedulable pod): the API server refuses that pod.
    await refuseReplicaOne();
    await w.apply(
      jobManifest(w.ns, 'stuck', {
        replicas: 2,
        gpusPerReplica: 4,
        bidUsdPerGpuHour: '5.00',
        startTimeoutSeconds: 15,
        checkpointGracePeriodSeconds: 1,
      }),
    );
    // Within seconds, the refusal is said on the job, in the API server's words.
    const refused = await waitFor(
      'Running=False PodRefused',
      async () => {
        const j = await job('stuck');
        return conditionOf(j, 'Running')?.reason === 'PodRefused' ? j : undefined;
      },
      60_000,
    );
    expect(conditionOf(refused, 'Running')?.message).toMatch(
      /replica 1 \(pod stuck-r0-1\) refused .*denied request: replica 1 refused by the farm's policy/,
    );
    const [node] = refused.status?.assignedNodes ?? [];
    expect(node).toBeDefined();

    // At the deadline: rolled back, queued with a backoff, a Warning naming the cause.
    const rolledBack = await waitFor(
      'start failure recorded',
      async () => {
        const j = await job('stuck');
        return j?.status?.startFailures === 1 && conditionOf(j, 'Admitted')?.status === 'False'
          ? j
          : undefined;
      },
      60_000,
    );
    expect(rolledBack.status?.assignedNodes ?? []).toEqual([]);
    expect(rolledBack.status?.retryAfterTime).toBeDefined();
    const events = await w.events('stuck', w.ns);
    const timeout = events.find((e) => e.reason === 'StartTimeout');
    expect(timeout?.type).toBe('Warning');
    expect(timeout?.note).toMatch(
      /did not start within its start timeout of 15 s \(PodRefused: .*refused by the farm's policy/,
    );
    expect(events.some((e) => e.reason === 'PodRefused' && e.type === 'Warning')).toBe(true);
    // Its pods go; its node goes back to mining (it is not held tainted and idle).
    await waitFor(
      'the rolled-back gang has no pods',
      async () => (await jobPods('stuck')).length === 0,
      60_000,
    );
    await waitFor('its node mines again', async () => (await w.modes())[node ?? ''] === 'mining', 60_000);

    // Lift the refusal: after its backoff the gang is placed again, as a new run, and runs.
    await liftRefusal();
    const ran = await waitFor(
      'the gang Running after its backoff',
      async () => {
        const j = await job('stuck');
        return conditionOf(j, 'Running')?.status === 'True' ? j : undefined;
      },
      120_000,
    );
    expect(ran.status?.startFailures).toBeGreaterThanOrEqual(1);
    const names = (await jobPods('stuck')).filter(isRunning).map((p) => p.metadata?.name);
    expect(names.every((n) => /^stuck-r[1-9]-\d$/.test(n ?? ''))).toBe(true);
    await deleteJob('stuck');
  }, 240_000);

  it('a node cordoned while the gang is switching sends the gang back to the queue; it runs elsewhere', async () => {
    await w.apply(
      jobManifest(w.ns, 'moved', { replicas: 2, bidUsdPerGpuHour: '5.00', checkpointGracePeriodSeconds: 1 }),
    );
    // One drain at once: catch the gang while one of its nodes still waits for its wave.
    const waiting = await waitFor(
      'an admitted gang with a node still mining',
      async () => {
        const j = await job('moved');
        const assigned = j?.status?.assignedNodes ?? [];
        if (conditionOf(j, 'Admitted')?.status !== 'True' || assigned.length !== 2) return undefined;
        const modes = await w.modes();
        return assigned.find((n) => modes[n] === 'mining');
      },
      60_000,
      50,
    );
    await w.c.kubectl(['cordon', waiting]);
    try {
      const requeued = await waitFor(
        'the gang placed without the cordoned node and Running',
        async () => {
          const j = await job('moved');
          const assigned = j?.status?.assignedNodes ?? [];
          return conditionOf(j, 'Running')?.status === 'True' && !assigned.includes(waiting) ? j : undefined;
        },
        120_000,
      );
      expect(requeued.status?.assignedNodes).toHaveLength(2);
      const events = await w.events('moved', w.ns);
      expect(conditionOf(requeued, 'Admitted')?.message).toMatch(/was cordoned before the gang started/);
      expect(events.some((e) => /was cordoned before the gang started/.test(e.note))).toBe(true);
      // Nothing of the gang runs on the cordoned node (rigshift leaves a cordoned node as the admin left it).
      const pods = await jobPods('moved');
      expect(pods.filter((p) => p.spec?.nodeName === waiting && !p.metadata?.deletionTimestamp)).toEqual([]);
    } finally {
      await w.c.kubectl(['uncordon', waiting]);
    }
    await deleteJob('moved');
  }, 240_000);
});

describe('a replica lost under a running gang', () => {
  it('restarts the whole gang as a new run with the restart count in its env; past backoffLimit, Failed', async () => {
    await w.apply(
      jobManifest(w.ns, 'fragile', {
        replicas: 2,
        gpusPerReplica: 4,
        backoffLimit: 1,
        checkpointGracePeriodSeconds: 1,
      }),
    );
    const isUp = async () => {
      const j = await job('fragile');
      return conditionOf(j, 'Running')?.status === 'True' ? j : undefined;
    };
    await waitFor('the gang Running', isUp, 120_000);
    const [victim] = (await jobPods('fragile')).filter(isRunning);
    await w.c.kubectl(['delete', 'pod', victim?.metadata?.name ?? '', '-n', w.ns, '--wait=false']);
    const restarted = await waitFor(
      'the gang Running again as run 1',
      async () => {
        const j = await isUp();
        const pods = (await jobPods('fragile')).filter(isRunning);
        return j?.status &&
          (j.status as { restarts?: number }).restarts === 1 &&
          pods.length === 2 &&
          pods.every((p) => /^fragile-r1-\d$/.test(p.metadata?.name ?? ''))
          ? pods
          : undefined;
      },
      120_000,
    );
    for (const p of restarted) {
      expect(p.spec?.containers[0]?.env).toContainEqual({ name: 'RIGSHIFT_RESTART_COUNT', value: '1' });
    }
    const events = await w.events('fragile', w.ns);
    expect(events.find((e) => e.reason === 'GangRestarted')?.note).toMatch(
      /was lost.*restart 1 of at most 1/,
    );

    // Lost again: the limit is reached, the job fails with the reason and its nodes go back to mining.
    await w.c.kubectl(['delete', 'pod', restarted[0]?.metadata?.name ?? '', '-n', w.ns, '--wait=false']);
    const failed = await waitFor(
      'Failed at the backoff limit',
      async () => {
        const j = await job('fragile');
        return conditionOf(j, 'Failed')?.status === 'True' ? j : undefined;
      },
      60_000,
    );
    expect(conditionOf(failed, 'Failed')).toMatchObject({
      reason: 'BackoffLimitExceeded',
      message: expect.stringMatching(/was lost.*already restarted 1 times \(backoffLimit 1\)/),
    });
    await deleteJob('fragile');
  }, 300_000);
});
