// Renters' pods are contained: a namespace at Pod Security `restricted` runs a TrainingJob whose pods carry no
// ServiceAccount token (the job names none), and whose spec meets restricted; the training pod as rigshift built
// it before (no securityContext) is refused there, field by field.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { parseTrainingJob } from '../../../src/api/v1alpha1/index.js';
import type { Manager } from '../../../src/controller/manager.js';
import { buildTrainingPod } from '../../../src/controller/pods.js';
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

beforeAll(async () => {
  w = await createWorld({ prefix: 'op-psa', nodes: 1 });
  op = await startOperator(w);
  // The miners start first (the farm's pods are no renter's); from now on every new pod must be restricted.
  await waitAllMining(w);
  await w.c.kubectl(['label', 'namespace', w.ns, 'pod-security.kubernetes.io/enforce=restricted']);
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await w?.cleanup();
}, 60_000);

it('refuses the training pod rigshift used to build (no securityContext), naming each field', async () => {
  const parsed = parseTrainingJob({
    ...jobManifest(w.ns, 'old'),
    metadata: { name: 'old', namespace: w.ns, uid: 'u' },
  });
  if (!parsed.ok) throw new Error(parsed.error);
  const pod = buildTrainingPod(parsed.value, 0, 0, w.nodes[0]!, {
    reservedTaintKey: 'rigshift.io/reserved',
    priorityClasses: { mining: `${w.ns}-mining`, training: `${w.ns}-training` },
  });
  delete pod.spec!.securityContext;
  delete pod.spec!.containers[0]!.securityContext;
  const r = await w.c.kubectl(['create', '--dry-run=server', '-f', '-'], {
    input: yaml.dump(pod),
    allowFail: true,
  });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('violates PodSecurity "restricted:latest"');
  for (const field of [
    'allowPrivilegeEscalation != false (container "trainer" must set securityContext.allowPrivilegeEscalation=false)',
    'unrestricted capabilities (container "trainer" must set securityContext.capabilities.drop=["ALL"])',
    'runAsNonRoot != true (pod or container "trainer" must set securityContext.runAsNonRoot=true)',
    'seccompProfile (pod or container "trainer" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
  ]) {
    expect(r.stderr).toContain(field);
  }
});

it('runs a TrainingJob in a restricted namespace, without the operator’s credentials or any token', async () => {
  await w.apply(
    jobManifest(w.ns, 'contained', { replicas: 1, securityContext: { runAsNonRoot: true, runAsUser: 1000 } }),
  );
  const pod = await waitFor(
    'the training pod to run',
    async () => (await w.pods('rigshift.io/trainingjob=contained')).find(isRunning),
    60_000,
  );
  await waitFor('the job to report Running', async () => {
    const job = await w.get<Job>('TrainingJob', 'contained');
    return conditionOf(job, 'Running')?.status === 'True';
  });
  const spec = pod.spec as NonNullable<V1Pod['spec']>;
  expect(spec.serviceAccountName ?? 'default').toBe('default');
  expect(spec.automountServiceAccountToken).toBe(false);
  // No projected token volume was added by the ServiceAccount admission plugin.
  expect((spec.volumes ?? []).map((v) => v.name)).toEqual([]);
  expect(spec.securityContext).toEqual({
    runAsNonRoot: true,
    runAsUser: 1000,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  expect(spec.containers[0]?.securityContext).toEqual({
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  });
}, 120_000);
