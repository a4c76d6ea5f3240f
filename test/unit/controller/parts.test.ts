// Small parts of the operator: node write bodies, taints, pod builders, echo expectations, the policy file,
// and the flags of `rigshift run`.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Grouped } from '../../../src/controller/caches.js';
import { cacheHold } from '../../../src/controller/freshness.js';
import { Expectations } from '../../../src/controller/expectations.js';
import { targetChange } from '../../../src/controller/fleet.js';
import { modeBody } from '../../../src/controller/node.js';
import { taintsWith } from '../../../src/controller/nodes.js';
import { buildMinerPod, buildTrainingPod } from '../../../src/controller/pods.js';
import {
  effectivePolicy,
  loadPolicyFile,
  policyInForce,
  withPolicyReadiness,
} from '../../../src/controller/policy.js';
import { isWriteRace } from '../../../src/controller/retry.js';
import { parseRunOptions } from '../../../src/cli/run.js';
import { ApiError } from '../../../src/kube/rest.js';
import { NOW, gpuNode, job, minerPod, modeNode, policy, pool } from './operator-fixtures.js';

describe('node writes', () => {
  const other = {
    key: 'node.kubernetes.io/unreachable',
    effect: 'NoExecute',
    timeAdded: '2025-03-01T11:00:00Z',
  } as never;

  it('taints: the reserved taint added or removed, other taints kept as they are', () => {
    const n = gpuNode('a', { taints: [other] });
    expect(taintsWith(n, 'rigshift.io/reserved', true)).toEqual([
      other,
      { key: 'rigshift.io/reserved', value: 'training', effect: 'NoSchedule' },
    ]);
    const reserved = gpuNode('a', {
      taints: [other, { key: 'rigshift.io/reserved', value: 'training', effect: 'NoSchedule' }],
    });
    expect(taintsWith(reserved, 'rigshift.io/reserved', false)).toEqual([other]);
  });

  it('a drain writes mode, since, destination, start and the taint, over the node as last seen', () => {
    const body = modeBody(
      gpuNode('a', { rv: '42' }),
      { mode: 'draining', sinceMs: NOW, drainingTo: 'training', drainStartedMs: NOW },
      policy(),
    );
    expect(body).toEqual({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: 'a',
        resourceVersion: '42',
        labels: { 'rigshift.io/mode': 'draining' },
        annotations: {
          'rigshift.io/mode-since': '2025-03-01T12:00:00Z',
          'rigshift.io/draining-to': 'training',
          'rigshift.io/drain-started': '2025-03-01T12:00:00Z',
          'rigshift.io/mode-label-key': 'rigshift.io/mode',
          'rigshift.io/taint-key': 'rigshift.io/reserved',
        },
      },
      spec: { taints: [{ key: 'rigshift.io/reserved', value: 'training', effect: 'NoSchedule' }] },
    });
  });

  it.each<['mining' | 'idle' | 'training', boolean]>([
    ['mining', false],
    ['idle', false],
    ['training', true],
  ])('mode %s: tainted %s, no drain annotations; keys from the policy', (mode, tainted) => {
    const p = policy({ modeLabelKey: 'farm.example/mode', reservedTaintKey: 'farm.example/busy' });
    const body = modeBody(gpuNode('a'), { mode, sinceMs: NOW }, p);
    expect(body.metadata?.labels).toEqual({ 'farm.example/mode': mode });
    expect(body.metadata?.annotations).toEqual({
      'rigshift.io/mode-since': '2025-03-01T12:00:00Z',
      'rigshift.io/mode-label-key': 'farm.example/mode',
      'rigshift.io/taint-key': 'farm.example/busy',
    });
    expect(body.spec?.taints).toEqual(
      tainted ? [{ key: 'farm.example/busy', value: 'training', effect: 'NoSchedule' }] : [],
    );
  });

  it('keys changed by the policy: the taint under the recorded old key goes, the new one comes', () => {
    const p = policy({ modeLabelKey: 'farm.example/mode', reservedTaintKey: 'farm.example/busy' });
    const n = gpuNode('a', {
      taints: [other, { key: 'rigshift.io/reserved', value: 'training', effect: 'NoSchedule' }],
      labels: { 'rigshift.io/mode': 'training' },
      annotations: {
        'rigshift.io/mode-label-key': 'rigshift.io/mode',
        'rigshift.io/taint-key': 'rigshift.io/reserved',
      },
    });
    const body = modeBody(n, { mode: 'training', sinceMs: NOW }, p);
    expect(body.metadata?.labels).toEqual({ 'farm.example/mode': 'training' });
    expect(body.spec?.taints).toEqual([
      other,
      { key: 'farm.example/busy', value: 'training', effect: 'NoSchedule' },
    ]);
  });
});

describe('pods', () => {
  it('a miner: the pool’s container with placeholders expanded, the password from the Secret, pinned, low priority', () => {
    const p = buildMinerPod(pool(), 'gpu-1', 6, policy(), { terminationGracePeriodSeconds: 5 });
    expect(p.metadata?.namespace).toBe('farm');
    expect(p.metadata?.labels).toEqual({
      'app.kubernetes.io/managed-by': 'rigshift',
      'rigshift.io/miningpool': 'etc',
      'app.kubernetes.io/component': 'miner',
    });
    expect(p.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'MiningPool',
      name: 'etc',
      uid: 'uid-etc',
      controller: true,
    });
    const c = p.spec?.containers[0];
    expect(c?.args).toEqual([
      '-o',
      'stratum+tcp://etc.example.org:1010',
      '-u',
      '0xabc.gpu-1',
      '-p',
      '$(RIGSHIFT_POOL_PASSWORD)',
      '--gpus',
      '6',
    ]);
    expect(c?.env).toEqual([
      {
        name: 'RIGSHIFT_POOL_PASSWORD',
        valueFrom: { secretKeyRef: { name: 'pool-creds', key: 'password' } },
      },
    ]);
    expect(c?.resources?.limits).toEqual({ 'nvidia.com/gpu': '6' });
    expect(p.spec?.priorityClassName).toBe('rigshift-mining');
    expect(p.spec?.terminationGracePeriodSeconds).toBe(5);
    expect(
      p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    ).toEqual([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['gpu-1'] }] }]);
  });

  it('a miner’s name changes with anything it is built from, and only then', () => {
    const name = (gpus: number, p = pool()) =>
      buildMinerPod(p, 'gpu-1', gpus, policy(), { terminationGracePeriodSeconds: 5 }).metadata?.name;
    expect(name(8)).toBe(name(8));
    expect(name(8)).toMatch(/^etc-gpu-1-[0-9a-f]{10}$/);
    expect(name(7)).not.toBe(name(8));
    expect(name(8, pool('etc', { miner: { image: 'miner:2' } }))).not.toBe(name(8));
  });

  it('a training replica: the job’s container and extras, its index, pinned, high priority, owned by the job', () => {
    const j = job('llm', {
      env: [{ name: 'EPOCHS', value: '3' }],
      podLabels: { team: 'nlp', 'app.kubernetes.io/managed-by': 'someone-else' },
      podAnnotations: { 'pod-complete.stage.kwok.x-k8s.io/delay': '20s' },
      checkpointGracePeriodSeconds: 30,
    });
    const p = buildTrainingPod(j, 2, 1, 'gpu-7', policy());
    expect(p.metadata?.name).toBe('llm-r2-1');
    expect(p.metadata?.labels).toMatchObject({
      team: 'nlp',
      'app.kubernetes.io/managed-by': 'rigshift',
      'rigshift.io/trainingjob': 'llm',
      'rigshift.io/replica': '1',
      'rigshift.io/run': '2',
    });
    expect(p.metadata?.annotations).toEqual({
      'pod-complete.stage.kwok.x-k8s.io/delay': '20s',
      'rigshift.io/node': 'gpu-7',
    });
    expect(p.metadata?.ownerReferences).toEqual([
      {
        apiVersion: 'rigshift.io/v1alpha1',
        kind: 'TrainingJob',
        name: 'llm',
        uid: 'uid-llm',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(p.spec).toMatchObject({
      restartPolicy: 'Never',
      priorityClassName: 'rigshift-training',
      terminationGracePeriodSeconds: 30,
    });
    expect(p.spec?.tolerations).toEqual([
      { key: 'rigshift.io/reserved', operator: 'Equal', value: 'training', effect: 'NoSchedule' },
    ]);
    expect(p.spec?.containers[0]?.env?.slice(-5)).toEqual([
      { name: 'EPOCHS', value: '3' },
      { name: 'RIGSHIFT_REPLICA_INDEX', value: '1' },
      { name: 'RIGSHIFT_REPLICAS', value: '2' },
      { name: 'RIGSHIFT_JOB_NAME', value: 'llm' },
      { name: 'RIGSHIFT_RESTART_COUNT', value: '0' },
    ]);
    expect(p.spec?.containers[0]?.resources?.limits).toEqual({ 'nvidia.com/gpu': '8' });
  });

  it('a training replica never carries the operator’s credentials and meets Pod Security restricted', () => {
    const plain = buildTrainingPod(job('llm'), 0, 0, 'gpu-7', policy());
    expect(plain.spec?.serviceAccountName).toBeUndefined();
    expect(plain.spec?.automountServiceAccountToken).toBe(false);
    expect(plain.spec?.securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' } });
    expect(plain.spec?.containers[0]?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    const own = buildTrainingPod(
      job('llm', { serviceAccountName: 'trainer', securityContext: { runAsNonRoot: true, runAsUser: 1000 } }),
      0,
      0,
      'gpu-7',
      policy(),
    );
    expect(own.spec?.serviceAccountName).toBe('trainer');
    expect(own.spec?.automountServiceAccountToken).toBe(false);
    const asked = buildTrainingPod(
      job('llm', { serviceAccountName: 'trainer', automountServiceAccountToken: true }),
      0,
      0,
      'gpu-7',
      policy(),
    );
    expect(asked.spec?.automountServiceAccountToken).toBe(true);
    expect(own.spec?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });
});

describe('Expectations', () => {
  it('waits for the echo of a write, whether it arrives after or before expect()', () => {
    const e = new Expectations(1000);
    e.expect('Node', 'a', '10', 0);
    expect(e.outstanding()).toBe(1);
    e.observe('Node', 'a', '9');
    expect(e.outstanding()).toBe(1);
    e.observe('Node', 'a', '11'); // a later version proves ours was seen
    expect(e.outstanding()).toBe(0);
    e.observe('Node', 'b', '20'); // the echo first...
    e.expect('Node', 'b', '20', 0); // ...then the write returns
    expect(e.outstanding()).toBe(0);
  });

  it('never gives up on a missing echo: past its timeout it is overdue until seen; a deletion counts', () => {
    const e = new Expectations(1000);
    e.expect('TrainingJob', 'ns/j', '5', 0);
    e.expect('TrainingJob', 'ns/k', '6', 0);
    e.expect('Node', 'a', '7', 500);
    e.observe('TrainingJob', 'ns/k', undefined);
    expect(e.outstanding()).toBe(2);
    expect(e.overdue(999)).toEqual([]);
    expect(e.overdue(1000)).toEqual(['TrainingJob ns/j']);
    expect(e.overdue(60_000)).toEqual(['TrainingJob ns/j', 'Node a']);
    e.observe('TrainingJob', 'ns/j', '5');
    e.observe('Node', 'a', '8');
    expect(e.overdue(60_000)).toEqual([]);
    expect(e.outstanding()).toBe(0);
  });
});

describe('policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rigshift-policy-'));
  const write = (name: string, text: string): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('a policy file holds a spec or a whole FleetPolicy, with defaults applied', () => {
    expect(
      loadPolicyFile(write('spec.yaml', 'minDwellSeconds: 5\ndrainTimeoutPolicy: Abort\n')),
    ).toMatchObject({
      minDwellSeconds: 5,
      drainTimeoutPolicy: 'Abort',
      hysteresisPercent: 5,
      priorityClasses: { mining: 'rigshift-mining', training: 'rigshift-training' },
    });
    const whole =
      'apiVersion: rigshift.io/v1alpha1\nkind: FleetPolicy\nmetadata:\n  name: default\nspec:\n  hysteresisPercent: 9\n';
    expect(loadPolicyFile(write('whole.yaml', whole)).hysteresisPercent).toBe(9);
  });

  it('a bad policy file is an error naming the file and the field', () => {
    const f = write('bad.yaml', 'drainTimeoutPolicy: Sometimes\n');
    expect(() => loadPolicyFile(f)).toThrow(/bad\.yaml: .*spec\.drainTimeoutPolicy: Invalid option/);
  });

  it('the file wins over the cluster; a missing or unparsable cluster policy is no policy, with why', () => {
    const spec = loadPolicyFile(write('p.yaml', 'minDwellSeconds: 7\n'));
    expect(
      effectivePolicy(spec, { metadata: { name: 'default' }, spec: { minDwellSeconds: 1 } }),
    ).toMatchObject({ source: 'file', spec: { minDwellSeconds: 7 } });
    expect(
      effectivePolicy(undefined, { metadata: { name: 'default' }, spec: { minDwellSeconds: 1 } }),
    ).toMatchObject({ source: 'cluster', spec: { minDwellSeconds: 1 } });
    const missing = effectivePolicy(undefined, undefined);
    expect(missing).toMatchObject({ source: 'none', reason: 'PolicyMissing' });
    expect(missing).not.toHaveProperty('spec');
    expect(policyInForce(missing)).toBeUndefined();
    const broken = effectivePolicy(undefined, {
      metadata: { name: 'default', generation: 4 },
      spec: { hysteresisPercent: 500, dryRun: true },
    });
    expect(broken).toMatchObject({
      source: 'none',
      reason: 'PolicyInvalid',
      raw: { metadata: { name: 'default', generation: 4 } },
    });
    expect(broken.source === 'none' && broken.problem).toMatch(/hysteresisPercent/);
    expect(policyInForce(broken)).toBeUndefined();
    expect(policyInForce(effectivePolicy(spec, undefined))).toMatchObject({ minDwellSeconds: 7 });
  });

  it('/readyz fails while there is no valid policy, naming the cause; not before the policy cache synced', () => {
    const none = effectivePolicy(undefined, undefined);
    const ok = { ready: true as const, detail: 'leader' };
    expect(withPolicyReadiness(ok, none, true)).toEqual({
      ready: false,
      reasons: [expect.stringMatching(/^no FleetPolicy "default": nothing is switched/)],
    });
    expect(withPolicyReadiness({ ready: false, reasons: ['cache of nodes not synced'] }, none, true)).toEqual(
      {
        ready: false,
        reasons: ['cache of nodes not synced', expect.stringMatching(/no FleetPolicy/)],
      },
    );
    expect(withPolicyReadiness(ok, none, false)).toBe(ok);
    expect(withPolicyReadiness(ok, effectivePolicy(policy(), undefined), true)).toBe(ok);
  });
});

describe('rigshift run flags', () => {
  it('defaults', () => {
    const r = parseRunOptions({});
    expect(r).toEqual({
      ok: true,
      value: expect.objectContaining({
        metricsAddress: ':8080',
        leaderElect: false,
        leaseDuration: 15,
        renewDeadline: 10,
        retryPeriod: 2,
        logLevel: 'info',
        dryRun: false,
        metricsAuth: 'kubernetes',
        metricsJobBids: false,
        priceAllowedHosts: [],
        priceAllowHttpHosts: [],
        priceAllowPrivateHosts: [],
      }),
    });
    expect(
      parseRunOptions({
        priceAllowedHosts: 'prices.example.com, *.feeds.example.org',
        priceAllowPrivateHosts: '10.0.0.7',
      }),
    ).toMatchObject({
      ok: true,
      value: {
        priceAllowedHosts: ['prices.example.com', '*.feeds.example.org'],
        priceAllowPrivateHosts: ['10.0.0.7'],
      },
    });
  });

  it.each([
    [{ kubeconfig: '/k', inCluster: true }, /either --kubeconfig or --in-cluster/],
    [{ logLevel: 'loud' }, /--log-level: /],
    [{ metricsAddress: 'localhost' }, /--metrics-address: metrics address must be host:port/],
    [{ leaseDuration: '5', renewDeadline: '5' }, /--retry-period < --renew-deadline < --lease-duration/],
    [{ nodeWorkers: '0' }, /--node-workers/],
    [{ namespace: 'Not_A_Namespace' }, /--namespace: not a namespace name/],
    [{ metricsAuth: 'open' }, /--metrics-auth: /],
    [{ metricsCertFile: '/tls.crt' }, /--metrics-cert-file and --metrics-key-file go together/],
    [{ priceAllowedHosts: 'a.example.com/path' }, /--price-allowed-hosts: .*host names or IP addresses/],
    [{ priceAllowPrivateHosts: '*.svc' }, /--price-allow-private-hosts: /],
  ])('%j is refused', (raw, message) => {
    const r = parseRunOptions(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });

  it('numbers from flags and environment are coerced', () => {
    const r = parseRunOptions({
      leaseDuration: '6',
      renewDeadline: '4',
      retryPeriod: '1',
      minerGracePeriod: '0',
    });
    expect(r.ok && r.value).toMatchObject({
      leaseDuration: 6,
      renewDeadline: 4,
      retryPeriod: 1,
      minerGracePeriod: 0,
    });
  });
});

describe('write races', () => {
  it('a 409, or an aggregate caused by one, is a race; other errors are not', () => {
    const conflict = new ApiError('PATCH', '/x', 409, { reason: 'Conflict', message: 'modified' }, undefined);
    expect(isWriteRace(conflict)).toBe(true);
    expect(isWriteRace(new Error('2 writes failed', { cause: conflict }))).toBe(true);
    expect(isWriteRace(new ApiError('PATCH', '/x', 422, { reason: 'Invalid' }, undefined))).toBe(false);
  });
});

describe('node target changes', () => {
  const held = 'yield unknown (Stale): prices are old (pool ns/etc): no switch until it is known';
  const shown = (target: string, reason: string): ReturnType<typeof modeNode> =>
    modeNode('a', 'mining', target, {
      'rigshift.io/target-reason': reason,
      'rigshift.io/target-mining-gpus': '8',
    });
  const planned = (mode: 'mining' | 'idle', reason: string, miningGpus = 8) => ({
    node: 'a',
    mode,
    jobs: [],
    miningGpus,
    idleGpus: 8 - miningGpus,
    market: false,
    drain: false,
    changed: false,
    reason,
  });
  it.each([
    ['a new mode', shown('mining', 'mining: yield 0.08'), planned('idle', 'idle: beats mining', 0), 'target'],
    [
      'new mining GPUs',
      shown('mining', 'mining: yield 0.08'),
      planned('mining', 'mining: yield 0.08', 4),
      'target',
    ],
    [
      'only the wording',
      shown('mining', 'mining: yield 0.08 beats idle by 5%'),
      planned('mining', 'mining: yield 0.09'),
      'none',
    ],
    ['held now', shown('mining', 'mining: yield 0.08'), planned('mining', `mining: ${held}`), 'reason'],
    ['held no longer', shown('mining', `mining: ${held}`), planned('mining', 'mining: yield 0.08'), 'reason'],
  ])('%s: %s', (_what, node, p, change) => {
    expect(targetChange(node, p, policy())).toBe(change);
  });
  it('a draining node keeps the reason it was sent for', () => {
    const node = shown('idle', 'idle: beats mining');
    expect(targetChange(node, planned('idle', `idle: ${held}`, 0), policy(), true)).toBe('target');
    const same = modeNode('a', 'draining', 'idle', {
      'rigshift.io/target-reason': 'idle: beats mining',
      'rigshift.io/target-mining-gpus': '0',
    });
    expect(targetChange(same, planned('idle', `drain to idle in progress; ${held}`, 0), policy(), true)).toBe(
      'none',
    );
  });
});

describe('cacheHold', () => {
  it('plans only from fresh caches that show the operator’s own writes', () => {
    expect(cacheHold([], [])).toBeUndefined();
    expect(cacheHold([{ name: 'nodes', silentMs: 95_000 }], [])).toBe(
      'not planning: the watch of nodes delivers nothing (no event or bookmark past its liveness bound; relisting)',
    );
    expect(cacheHold([], ['Node a', 'Node b', 'Node c', 'TrainingJob ml/j'])).toBe(
      "not planning: the caches do not show the operator's own writes yet (Node a, Node b, Node c and 1 more)",
    );
  });
});

describe('caches grouped by node', () => {
  it('groups lazily, regroups after a change, and never drifts from the list', () => {
    let pods = [minerPod('m1', 'a'), minerPod('m2', 'b'), minerPod('m3', 'a')];
    let reads = 0;
    const g = new Grouped(
      () => {
        reads++;
        return pods;
      },
      (p) => [p.spec?.nodeName ?? ''],
    );
    expect(g.get('a').map((p) => p.metadata?.name)).toEqual(['m1', 'm3']);
    expect(g.get('b').map((p) => p.metadata?.name)).toEqual(['m2']);
    expect(g.get('c')).toEqual([]);
    expect(reads).toBe(1);
    pods = pods.filter((p) => p.metadata?.name !== 'm1');
    expect(g.get('a')).toHaveLength(2); // not told yet
    g.changed();
    expect(g.get('a').map((p) => p.metadata?.name)).toEqual(['m3']);
    expect(reads).toBe(2);
  });
});
