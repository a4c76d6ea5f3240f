// Issue 11, item 2: a full pod spec. A job's CPU/memory, private image pull secret, runtime class,
// ServiceAccount, security context and further tolerations reach its pods; training pods are never BestEffort
// (the FleetPolicy default applies); mistakes are refused by the API server when the job is written.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { Manager } from '../../../src/controller/manager.js';
import { Kinds, resourcePath } from '../../../src/kube/resources.js';
import {
  completesAfter,
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
let runtimeClass = '';

const job = (name: string) => w.get<Job>('TrainingJob', name);
const runningPod = async (name: string): Promise<V1Pod | undefined> => {
  if (conditionOf(await job(name), 'Running')?.status !== 'True') return undefined;
  const [p] = (await w.pods(`rigshift.io/trainingjob=${name}`)).filter(isRunning);
  return p;
};

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-podspec', nodes: 2 });
  runtimeClass = `${w.ns}-runc`;
  await w.apply(
    { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: runtimeClass }, handler: 'runc' },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'trainer' } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'registry' },
      type: 'kubernetes.io/dockerconfigjson',
      data: {
        '.dockerconfigjson': Buffer.from(
          JSON.stringify({
            auths: { 'registry.example.com': { auth: Buffer.from('u:p').toString('base64') } },
          }),
        ).toString('base64'),
      },
    },
  );
  op = await startOperator(w);
  await waitAllMining(w);
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.c.kubectl(['delete', 'runtimeclass', runtimeClass, '--ignore-not-found']).catch(() => undefined);
  await w?.cleanup();
}, 60_000);

describe('a job’s pod spec reaches its pods', () => {
  it('private image, resources, runtime class, ServiceAccount, security context, tolerations; never BestEffort', async () => {
    await w.apply(
      jobManifest(w.ns, 'private', {
        image: 'registry.example.com/acme/train:1',
        replicas: 1,
        resources: { requests: { cpu: '16', memory: '64Gi' }, limits: { cpu: '16', memory: '64Gi' } },
        imagePullSecrets: [{ name: 'registry' }],
        serviceAccountName: 'trainer',
        runtimeClassName: runtimeClass,
        securityContext: { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true },
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      }),
      jobManifest(w.ns, 'plain', { replicas: 1 }),
    );
    const p = await waitFor('the private job Running', () => runningPod('private'), 120_000);
    expect(p.spec?.imagePullSecrets).toEqual([{ name: 'registry' }]);
    expect(p.spec?.serviceAccountName).toBe('trainer');
    expect(p.spec?.automountServiceAccountToken).toBe(false);
    expect((p.spec?.volumes ?? []).some((v) => v.projected)).toBe(false); // no API token mounted
    expect(p.spec?.runtimeClassName).toBe(runtimeClass);
    expect(p.spec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(p.spec?.containers[0]?.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
    expect(p.spec?.tolerations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'rigshift.io/reserved', value: 'training' }),
        expect.objectContaining({ key: 'nvidia.com/gpu', operator: 'Exists' }),
      ]),
    );
    expect(p.spec?.priorityClassName).toBe(`${w.ns}-training`);
    expect(p.spec?.containers[0]?.resources).toEqual({
      requests: { cpu: '16', memory: '64Gi', 'nvidia.com/gpu': '8' },
      limits: { cpu: '16', memory: '64Gi', 'nvidia.com/gpu': '8' },
    });
    expect(p.status?.qosClass).toBe('Guaranteed');

    // A job that says nothing: the FleetPolicy's default, Burstable.
    const plain = await waitFor('the plain job Running', () => runningPod('plain'), 120_000);
    expect(plain.spec?.containers[0]?.resources?.requests).toEqual({
      cpu: '1',
      memory: '2Gi',
      'nvidia.com/gpu': '8',
    });
    expect(plain.status?.qosClass).toBe('Burstable');
    expect(plain.spec?.automountServiceAccountToken).toBe(false);
    expect(plain.spec?.runtimeClassName).toBeUndefined();

    // The API server refuses changing what the pods were created from.
    const patched = await w.c.kubectl(
      [
        'patch',
        'trainingjob',
        'private',
        '-n',
        w.ns,
        '--type=merge',
        '-p',
        '{"spec":{"resources":{"requests":{"cpu":"8"}}}}',
      ],
      { allowFail: true },
    );
    expect(patched.code).not.toBe(0);
    expect(patched.stderr).toMatch(/spec\.resources is immutable/);
    for (const n of ['private', 'plain'])
      await w.c.kubectl(['delete', 'trainingjob', n, '-n', w.ns, '--wait=true', '--timeout=60s']);
    await waitAllMining(w);
  }, 300_000);
});

describe('a job’s nodeSelector', () => {
  it('places the gang only on nodes carrying its labels; the pod carries them too', async () => {
    const [first, second] = w.nodes as [string, string];
    await w.c.kubectl(['label', 'node', first, 'topology.kubernetes.io/zone=dc-1', '--overwrite']);
    await w.c.kubectl(['label', 'node', second, 'topology.kubernetes.io/zone=dc-2', '--overwrite']);
    // Without the selector the planner would take the first node (names break ties).
    await w.apply(
      jobManifest(w.ns, 'zoned', { replicas: 1, nodeSelector: { 'topology.kubernetes.io/zone': 'dc-2' } }),
    );
    const p = await waitFor('the zoned job Running', () => runningPod('zoned'), 120_000);
    expect(p.spec?.nodeName).toBe(second);
    expect(p.spec?.nodeSelector).toEqual({ 'topology.kubernetes.io/zone': 'dc-2' });
    expect((await job('zoned'))?.status?.assignedNodes).toEqual([second]);

    await w.apply(
      jobManifest(w.ns, 'nowhere', { replicas: 1, nodeSelector: { 'topology.kubernetes.io/zone': 'dc-9' } }),
    );
    const waiting = await waitFor(
      'the job waiting for a matching node',
      async () => {
        const j = await job('nowhere');
        return /on nodes labelled topology\.kubernetes\.io\/zone=dc-9/.test(j?.status?.waitingReason ?? '')
          ? j
          : undefined;
      },
      60_000,
    );
    expect(waiting.status?.assignedNodes ?? []).toEqual([]);
    for (const n of ['zoned', 'nowhere'])
      await w.c.kubectl(['delete', 'trainingjob', n, '-n', w.ns, '--wait=true', '--timeout=60s']);
    await waitAllMining(w);
  }, 240_000);
});

describe('mistakes are refused when the object is written', () => {
  const create = async (obj: object) =>
    w.c.kubectl(['create', '--dry-run=server', '-f', '-'], { input: yaml.dump(obj), allowFail: true });

  it.each([
    [
      'a request above its limit',
      { resources: { requests: { memory: '80Gi' }, limits: { memory: '64Gi' } } },
      /spec\.resources\.requests\.memory must not exceed spec\.resources\.limits\.memory/,
    ],
    [
      'a zero CPU request',
      { resources: { requests: { cpu: '0' } } },
      /spec\.resources\.requests\.cpu must be a positive Kubernetes quantity/,
    ],
    [
      'a toleration with operator Exists and a value',
      { tolerations: [{ key: 'a', operator: 'Exists', value: 'b' }] },
      /with operator Exists, value must be empty/,
    ],
    [
      'tolerationSeconds without NoExecute',
      { tolerations: [{ key: 'a', effect: 'NoSchedule', tolerationSeconds: 5 }] },
      /tolerationSeconds is only for effect NoExecute/,
    ],
    [
      'a nodeSelector on the operator’s own labels',
      { nodeSelector: { 'rigshift.io/mode': 'mining' } },
      /spec\.nodeSelector must not name rigshift\.io\/ labels/,
    ],
    [
      'a nodeSelector key that is no label key',
      { nodeSelector: { 'zone name!': 'a' } },
      /spec\.nodeSelector keys must be label keys/,
    ],
    [
      'a nodeSelector on a GPU product the job does not accept',
      {
        gpuProducts: ['NVIDIA-GeForce-RTX-4090'],
        nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-GeForce-RTX-3090' },
      },
      /spec\.nodeSelector\["nvidia\.com\/gpu\.product"\] must be one of spec\.gpuProducts/,
    ],
  ])('a TrainingJob with %s', async (_what, spec, message) => {
    const r = await create(jobManifest(w.ns, 'bad', spec));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('a FleetPolicy whose training default is empty (its pods would be BestEffort)', async () => {
    const r = await create({
      apiVersion: 'rigshift.io/v1alpha1',
      kind: 'FleetPolicy',
      metadata: { name: 'default' },
      spec: { defaultTrainingResources: {} },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/defaultTrainingResources must set a cpu or memory request or limit/);
  });

  it('the good job is accepted (the refusals above are about the field, not the request)', async () => {
    const r = await create(
      jobManifest(w.ns, 'good', {
        resources: { requests: { cpu: '500m', memory: '8Gi' }, limits: { memory: '16Gi' } },
        tolerations: [{ operator: 'Exists' }],
      }),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(
      await w.client.rest
        .request({ method: 'GET', path: resourcePath(Kinds.TrainingJob, { namespace: w.ns, name: 'good' }) })
        .then(
          () => 'found',
          () => 'absent',
        ),
    ).toBe('absent'); // a dry run
  });
});

describe('ttlSecondsAfterFinished', () => {
  it('a finished job is deleted that long after it ended; one without a TTL stays', async () => {
    await w.apply(
      jobManifest(w.ns, 'short', {
        replicas: 1,
        ttlSecondsAfterFinished: 5,
        podAnnotations: completesAfter(2),
      }),
      jobManifest(w.ns, 'kept', { replicas: 1, podAnnotations: completesAfter(2) }),
    );
    const ended = await waitFor(
      'both jobs Succeeded',
      async () => {
        const [a, b] = [await job('short'), await job('kept')];
        const done = (j: Job | undefined) => conditionOf(j, 'Succeeded')?.status === 'True';
        return done(a) && done(b) ? a : undefined;
      },
      120_000,
    );
    const endTime = Date.parse((ended?.status as { endTime?: string }).endTime ?? '');
    expect(Number.isNaN(endTime)).toBe(false);
    await waitFor('the short job deleted', async () => (await job('short')) === undefined, 60_000);
    const goneAt = Date.now();
    expect(goneAt).toBeGreaterThanOrEqual(endTime + 5000);
    expect((await w.events('short')).find((e) => e.reason === 'Expired')?.note).toMatch(
      /5 s after it ended \(ttlSecondsAfterFinished\)/,
    );
    expect(conditionOf(await job('kept'), 'Succeeded')?.status).toBe('True');
    await w.c.kubectl(['delete', 'trainingjob', 'kept', '-n', w.ns, '--wait=true', '--timeout=60s']);
    await waitAllMining(w);
  }, 240_000);
});
